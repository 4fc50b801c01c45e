"""Real HTTP calls to a test Daphne's REST API with a bearer token (urllib: what a script uses)."""
import json
import urllib.error
import urllib.request

from django.contrib.auth.models import User

from api import tokens
from datapoints import sites
from datapoints.charge_points import create_charge_point


class Api:
    def __init__(self, server, token=None, headers=None):
        self.base = server.http
        self.token = token
        self.headers = headers or {}

    def call(self, method, path, body=None, raw=False):
        """-> (HTTP status, JSON body or text with raw=True, headers)."""
        headers = {"Accept": "application/json", **self.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, found = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as exc:
            status, text, found = exc.code, exc.read().decode(), exc.headers
        if raw:
            return status, text, found
        return status, (json.loads(text) if text else None), found

    def get(self, path):
        status, body, _ = self.call("GET", path)
        return status, body

    def post(self, path, body=None):
        status, body, _ = self.call("POST", path, {} if body is None else body)
        return status, body

    def put(self, path, body):
        status, body, _ = self.call("PUT", path, body)
        return status, body

    def patch(self, path, body):
        status, body, _ = self.call("PATCH", path, body)
        return status, body

    def delete(self, path):
        status, body, _ = self.call("DELETE", path)
        return status, body


def people(server, client_id_a, client_id_b):
    """Two sites with a charge point each (Accepted) and an API client per person: "op" (operator
    of site-a), "viewer" (viewer of site-a), "root" (superuser), "nobody" (no right at all)."""
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    cp_a, cp_b = create_charge_point(client_id_a, "Accepted"), create_charge_point(client_id_b, "Accepted")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    users = {
        "op": User.objects.create_user("op-a"),
        "viewer": User.objects.create_user("viewer-a"),
        "root": User.objects.create_superuser("root"),
        "nobody": User.objects.create_user("nobody"),
    }
    sites.set_role(users["op"], a, "operator")
    sites.set_role(users["viewer"], a, "viewer")
    clients = {who: Api(server, tokens.create(user, f"{who}'s test token")[1]) for who, user in users.items()}
    clients.update({"a": cp_a, "b": cp_b, "users": users})
    return clients
