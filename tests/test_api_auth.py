"""REST API authentication: bearer tokens (manage.py api_token), sessions, and what a wrong token
is told. A real Daphne, real HTTP."""
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from api.models import ApiToken
from api.tokens import digest

from .api_client import Api

pytestmark = pytest.mark.django_db(transaction=True)


def api_token(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_api_token_prints_a_token_once_and_stores_only_its_hash(server):
    User.objects.create_user("alice")
    token, note = api_token("alice", "--name", "billing export")
    row = ApiToken.objects.get()
    assert token.startswith("odp_") and len(token) == 47
    assert row.digest == digest(token) and token not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert row.prefix == token[:12] and row.prefix in note and token not in note and row.name == "billing export"
    listed, _ = api_token("alice", "--list")
    assert row.prefix in listed and "billing export" in listed and "never used" in listed and token not in listed
    with pytest.raises(CommandError, match="no user 'bob'"):
        api_token("bob")


def test_bearer_token_session_and_refusals(server):
    User.objects.create_superuser("root", password="pw-for-tests")
    token, _ = api_token("root")
    status, body = Api(server, token).get("/api/charge-points/")
    assert status == 200 and body["count"] == 0 and body["results"] == []
    assert ApiToken.objects.get().last_used_at is not None
    status, body, headers = Api(server).call("GET", "/api/charge-points/")
    assert status == 401 and "api_token" in body["detail"] and "/accounts/login/" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, body = Api(server, token[:-1] + ("A" if token[-1] != "A" else "B")).get("/api/charge-points/")
    assert status == 401 and body["detail"].startswith("unknown token") and "api_token" in body["detail"]
    status, body = Api(server, headers={"Authorization": "Bearer"}).get("/api/charge-points/")
    assert status == 401 and "Bearer <token>" in body["detail"]
    prefix = ApiToken.objects.get().prefix
    out, _ = api_token("root", "--revoke", prefix)
    assert "revoked 1" in out
    status, body = Api(server, token).get("/api/charge-points/")
    assert status == 401 and "revoked" in body["detail"] and token not in server.logs()
    with pytest.raises(CommandError, match="no unrevoked token"):
        api_token("root", "--revoke", prefix)


def test_the_older_command_endpoint_takes_a_token_too(server):
    from datapoints.charge_points import create_charge_point

    create_charge_point("api-auth-1", "Accepted")
    User.objects.create_superuser("root")
    token, _ = api_token("root")
    status, body = Api(server, token).post("/api/charge-points/api-auth-1/commands/Reset", {"type": "Soft"})
    assert status == 503 and body["status"] == "offline"
    status, body = Api(server, "odp_wrong").post("/api/charge-points/api-auth-1/commands/Reset", {"type": "Soft"})
    assert status == 401 and "api_token" in body["error"]
    status, body = Api(server).post("/api/charge-points/api-auth-1/commands/Reset", {"type": "Soft"})
    assert status == 401 and "log in" in body["error"]


def logged_in(server, username, password):
    """A urllib opener holding the panel's session cookie (and the csrftoken cookie), as a browser."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.http + "/accounts/login/").read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf}).encode()
    opener.open(urllib.request.Request(server.http + "/accounts/login/", data=form, headers={"Referer": server.http + "/accounts/login/"}))
    assert any(cookie.name == "sessionid" for cookie in jar)
    return opener, {cookie.name: cookie.value for cookie in jar}


def send(opener, server, method, path, headers=None, body=b"{}"):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.http + path, data=body, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with opener.open(request) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_session_works_for_reading(server):
    """The panel's login cookie is enough to read the API (the browser's docs page uses it)."""
    User.objects.create_superuser("root", password="pw-for-tests")
    opener, _ = logged_in(server, "root", "pw-for-tests")
    with opener.open(server.http + "/api/charge-points/") as response:
        assert response.status == 200 and json.loads(response.read())["count"] == 0


def test_a_session_writes_only_with_the_csrf_token_and_a_bearer_header_never_falls_back_to_it(server):
    """A cross-site page can make the browser send the session cookie but not the CSRF header (nor
    an Authorization header without a CORS preflight we never allow): session writes need the
    token; a wrong bearer token is 401 even next to a good session, not a quiet fall-back."""
    from datapoints.charge_points import create_charge_point

    create_charge_point("csrf-1")
    User.objects.create_superuser("root", password="pw-for-tests")
    opener, cookies = logged_in(server, "root", "pw-for-tests")
    referer = {"Referer": server.http + "/api/docs/"}
    status, body = send(opener, server, "POST", "/api/charge-points/csrf-1/approve/", referer)
    assert status == 403 and "CSRF" in body["detail"]
    status, body = send(opener, server, "POST", "/api/charge-points/csrf-1/approve/", {"Authorization": "Basic cm9vdDpwdw==", **referer})
    assert status == 403 and "CSRF" in body["detail"]
    status, body = send(opener, server, "POST", "/api/charge-points/csrf-1/approve/", {"Authorization": "Bearer odp_not-a-token", "X-CSRFToken": cookies["csrftoken"], **referer})
    assert status == 401 and body["detail"].startswith("unknown token")
    status, body = send(opener, server, "POST", "/api/charge-points/csrf-1/approve/", {"X-CSRFToken": cookies["csrftoken"], **referer})
    assert status == 200 and body["registration_status"] == "Accepted"
    assert send(opener, server, "GET", "/api/charge-points/csrf-1/", body=None)[0] == 200  # reading needs no token


def test_the_admin_lists_and_revokes_tokens_without_showing_them(server):
    from django.test import Client

    root = User.objects.create_superuser("root")
    token, _ = api_token("root", "--name", "ci")
    client = Client()
    client.force_login(root)
    page = client.get("/admin/api/apitoken/").content.decode()
    row = ApiToken.objects.get()
    assert row.prefix in page and "ci" in page and token not in page and row.digest not in page
    assert client.get("/admin/api/apitoken/add/").status_code == 403
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    assert ApiToken.objects.get().revoked and Api(server, token).get("/api/charge-points/")[0] == 401


def test_every_operation_of_the_schema_needs_a_login(server):
    """Anonymous or with a wrong token, every operation the schema lists is 401 (the id tags'
    own permission class once replaced the default IsAuthenticated and let anyone read them)."""
    import uuid

    from datapoints.models import IdTag

    tag = IdTag.objects.create(id_tag="SECRET-CARD")
    status, schema = Api(server).get("/api/schema/?format=json")
    assert status == 200
    values = {"{client_id}": "x", "{id}": str(tag.pk), "{path}": "Config.MaxCurrent"}
    checked = 0
    for template, operations in schema["paths"].items():
        for method in operations:
            path = template
            for name, value in values.items():
                path = path.replace(name, str(uuid.uuid4()) if name == "{id}" and template.startswith("/api/commands/") else value)
            for client in (Api(server), Api(server, "odp_wrong")):
                status, text, headers = client.call(method.upper(), path, {} if method in ("post", "put", "patch") else None, raw=True)
                assert status == 401 and "SECRET-CARD" not in text and headers["WWW-Authenticate"].startswith("Bearer"), (method, path, status, text[:200])
                checked += 1
    assert checked >= 50
