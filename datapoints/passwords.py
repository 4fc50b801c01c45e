"""Charge point keys (OCPP security profiles 1 and 2: HTTP Basic over TLS).

The key is 20 random bytes (160 bits), so a salted SHA-256 compared in constant time is as safe
as a slow KDF and costs about a microsecond instead of ~200 ms: a reconnect storm of 10,000
chargers must not cost half an hour of CPU. See docs/decisions/0004-password-hash.md.
"""
import base64
import binascii
import hashlib
import hmac
import secrets

KEY_BYTES = 20
SCHEME = "sha256"


def new_key():
    return secrets.token_bytes(KEY_BYTES)


def parse_key_hex(text):
    """A key given as 40 hex digits; ValueError otherwise."""
    text = text.strip()
    if len(text) != 2 * KEY_BYTES:
        raise ValueError(f"the key must be {2 * KEY_BYTES} hex digits (20 bytes), got {len(text)} characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("the key must be hex digits 0-9, a-f") from None


def make_hash(key):
    salt = secrets.token_bytes(16)
    digest = hashlib.sha256(salt + key).hexdigest()
    return f"{SCHEME}${salt.hex()}${digest}"


def check_key(key, stored):
    try:
        scheme, salt_hex, digest = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except (ValueError, AttributeError):
        return False
    if scheme != SCHEME:
        return False
    return hmac.compare_digest(hashlib.sha256(salt + key).hexdigest(), digest)


def basic_credentials(header_value, client_id):
    """The password bytes of an `Authorization: Basic` header whose user is `client_id`, or None.

    The user part is matched as a prefix rather than split at the first colon: a raw 20-byte
    key may itself contain a colon.
    """
    if not header_value:
        return None
    scheme, _, encoded = header_value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    prefix = client_id.encode("utf-8") + b":"
    if not decoded.startswith(prefix):
        return None
    return decoded[len(prefix):]


def key_candidates(password):
    """Firmwares send the key as 40 hex characters or as the 20 raw bytes; try what fits."""
    if len(password) == 2 * KEY_BYTES:
        try:
            yield bytes.fromhex(password.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    if len(password) == KEY_BYTES:
        yield password


def password_matches(password, stored):
    return any(check_key(key, stored) for key in key_candidates(password))
