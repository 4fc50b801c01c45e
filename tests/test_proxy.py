"""ocpp_dp/proxy.py: proxy headers believed from OCPP_TRUSTED_PROXIES only."""
import pytest

from ocpp_dp.proxy import came_over_tls, forwarded_scope, trusted_networks

NGINX = trusted_networks("127.0.0.2, 10.0.0.0/8")


def scope(peer, *headers, kind="websocket"):
    return {"type": kind, "scheme": "ws" if kind == "websocket" else "http", "client": (peer, 5000), "headers": [(n.encode(), v.encode()) for n, v in headers]}


def test_a_trusted_proxy_sets_the_address_and_the_scheme():
    seen = forwarded_scope(scope("127.0.0.2", ("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")), NGINX)
    assert seen["client"] == ("203.0.113.9", 0) and came_over_tls(seen) and seen["scheme"] == "wss"
    page = forwarded_scope(scope("10.1.2.3", ("x-forwarded-proto", "https"), kind="http"), NGINX)
    assert page["scheme"] == "https" and page["client"] == ("10.1.2.3", 5000)


def test_the_address_is_the_nearest_hop_that_is_no_trusted_proxy():
    # A charger wrote its own X-Forwarded-For; a proxy appended its peer, then another trusted hop.
    seen = forwarded_scope(scope("127.0.0.2", ("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.0.0.5")), NGINX)
    assert seen["client"][0] == "203.0.113.9"


def test_an_untrusted_peer_loses_every_proxy_header():
    sent = scope("203.0.113.50", ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-proto", "https"), ("x-ssl-client-verify", "SUCCESS"), ("x-ssl-client-cert", "-----BEGIN"), ("authorization", "Basic eA=="))
    seen = forwarded_scope(sent, NGINX)
    assert seen["client"] == ("203.0.113.50", 5000) and not came_over_tls(seen)
    assert [name for name, _value in seen["headers"]] == [b"authorization"]


def test_a_scope_without_proxy_headers_is_left_alone():
    plain = scope("203.0.113.50", ("authorization", "Basic eA=="))
    assert forwarded_scope(plain, NGINX) is plain


def test_a_bad_entry_in_the_setting_is_named():
    with pytest.raises(ValueError, match="'nginx.local' is not an IP address"):
        trusted_networks("127.0.0.1, nginx.local")
