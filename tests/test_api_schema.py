"""The OpenAPI 3 schema at /api/schema/ (valid, generated without a warning) and the interactive
docs at /api/docs/ in a real headless Chromium: Swagger UI from our own static files, no request
to any other host, an operation tried out with the session."""
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from drf_spectacular.validation import validate_schema
from playwright.sync_api import expect

from .api_client import Api
from .browser import log_in, screenshots

ROOT = Path(__file__).resolve().parent.parent
SHOTS = os.environ.get("API_SCREENSHOTS", "")


@pytest.mark.django_db(transaction=True)
def test_the_schema_is_served_and_valid(server):
    status, text, headers = Api(server).call("GET", "/api/schema/?format=json", raw=True)
    assert status == 200 and "json" in headers["Content-Type"]
    schema = json.loads(text)
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert schema["openapi"].startswith("3.") and schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from `manage.py api_token USERNAME`."}
    for path in ("/api/charge-points/", "/api/charge-points/{client_id}/password/", "/api/commands/", "/api/commands/{id}/", "/api/transactions/csv/",
                 "/api/id-tags/{id}/", "/api/schedules/", "/api/alarms/{id}/acknowledge/"):
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/commands/"]["post"]["responses"]) == {"200", "202", "400", "403", "404", "502", "503", "504"}


def test_the_schema_generates_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`: every view, serializer and enum named."""
    env = {**os.environ, "OCPP_VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Warning" not in done.stderr and "Error" not in done.stderr, done.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_the_docs_page_loads_from_our_own_static_files(server, page):
    hosts = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).netloc))
    log_in(page, server, "root", superuser=True)
    page.goto(server.http + "/api/docs/")
    expect(page.get_by_role("heading", name="OCPP datapoint manager API")).to_be_visible(timeout=10000)
    operation = page.locator("#operations-charge-points-charge_points_list")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200", timeout=10000)
    screenshots(page, SHOTS, "api-docs")
    assert hosts and set(hosts) == {urlparse(server.http).netloc}, set(hosts)


def test_every_routed_endpoint_and_method_is_in_the_schema_with_types():
    """Each DRF route of api/urls.py and each method its view answers is an operation; each has a
    typed success response, a request body when it takes one, and every list a 400 (its filters
    and pages are checked); the routes outside DRF (schema, docs, the JSON 404) are not."""
    from django.urls import URLPattern
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.views import APIView

    from api import urls

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routed = {}
    for pattern in urls.urlpatterns:
        view = getattr(pattern.callback, "cls", None)
        if not isinstance(pattern, URLPattern) or view is None or not issubclass(view, APIView) or "Spectacular" in view.__name__:
            continue
        path = "/api/" + str(pattern.pattern).replace("<str:", "{").replace("<int:", "{").replace("<uuid:", "{").replace("pk>", "id>").replace(">", "}")
        routed[path] = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    assert {p: set(ops) for p, ops in schema["paths"].items()} == routed
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, (method, path)
            assert all(code == "204" or operation["responses"][code].get("content") for code in success), (method, path)
            if method in ("put", "patch") or (method == "post" and not path.endswith(("/approve/", "/reject/", "/acknowledge/"))):
                assert "requestBody" in operation, (method, path)
            if method == "get" and "page" in {p["name"] for p in operation.get("parameters", [])}:
                assert "400" in operation["responses"], (method, path)
