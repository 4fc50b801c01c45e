"""A hook module that cannot be imported (tests/test_hooks.py: hooks check)."""
import no_such_vendor_sdk  # noqa: F401
