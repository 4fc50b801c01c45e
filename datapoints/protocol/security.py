"""OCPP security profiles, checked at the handshake (handshake.py asks; the password itself is
checked there, with its throttling).

  profile 0  nothing required; a password, once set, is still asked (clear it to open a charger)
  profile 1  HTTP Basic password required
  profile 2  password required, and the handshake came over TLS
  profile 3  TLS with a client certificate that nginx verified against the operator's CA, whose
             subject names this charger: CN = its ClientId or serial number, O =
             OCPP_CERT_ORGANIZATION when set. No password (the certificate is the credential).
  unset      1 when a password is set, else 0

TLS ends at nginx: "came over TLS" and the certificate are what a trusted proxy said
(ocpp_dp/proxy.py drops those headers from anyone else).
"""
import logging
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings

log = logging.getLogger(__name__)
SERIAL_PATHS = ("DeviceInfo.chargePointSerialNumber", "DeviceInfo.chargeBoxSerialNumber")


def profile_of(values):
    configured = values.get("Config.SecurityProfile")
    if configured is None or configured == "":
        return 1 if values.get("Config.Password") else 0
    return int(configured)


def needs_password(profile, values):
    return profile in (1, 2) or (profile == 0 and bool(values.get("Config.Password")))


def refusal(profile, client_id, values, tls, certificate, serials=()):
    """Why this handshake does not meet the charger's profile (before the password), or ""."""
    if profile >= 2 and not tls:
        return f"security profile {profile}: connect over TLS (wss://), not plain ws://"
    if profile in (1, 2) and not values.get("Config.Password"):
        return f"security profile {profile} needs a password, and none is set: set one with manage.py ocpp_password {client_id}"
    if profile == 3:
        return certificate_refusal(client_id, certificate, serials)
    return ""


def certificate_refusal(client_id, certificate, serials=()):
    """certificate: (verify result, URL-escaped PEM) from the proxy, or None."""
    verify, escaped_pem = certificate or ("", "")
    if not verify or not escaped_pem:
        return "security profile 3: a TLS client certificate is required (connect to the client-certificate listener)"
    if verify != "SUCCESS":
        return f"security profile 3: the client certificate did not verify against the CA ({verify[:80]})"
    try:
        subject = x509.load_pem_x509_certificate(unquote(escaped_pem).encode("ascii")).subject
    except ValueError:
        return "security profile 3: the client certificate could not be read"
    common_names = _attributes(subject, NameOID.COMMON_NAME)
    if not common_names & ({client_id} | {s for s in serials if s}):
        return f"security profile 3: the certificate's CN {', '.join(sorted(common_names)) or '(none)'} names neither this ClientId nor its serial number"
    organization = settings.OCPP_CERT_ORGANIZATION
    if organization and organization not in _attributes(subject, NameOID.ORGANIZATION_NAME):
        return "security profile 3: the certificate's O is not OCPP_CERT_ORGANIZATION"
    return ""


def _attributes(name, oid):
    return {attribute.value for attribute in name.get_attributes_for_oid(oid)}
