"""Two sites with a charge point each, an operator and a viewer of the first, and a logged-in test
client: the people the panel's rights tests need (Django's test client, no browser)."""
from django.contrib.auth.models import User
from django.test import Client

from datapoints import sites
from datapoints.charge_points import create_charge_point


def two_sites(client_id_a, client_id_b):
    """{"a", "b": charge points on site-a and site-b; "op_a": operator of site-a; "viewer": its
    viewer; "root": a superuser}."""
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    cp_a, cp_b = create_charge_point(client_id_a, "Accepted"), create_charge_point(client_id_b, "Accepted")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    op_a, viewer = User.objects.create_user("op-a"), User.objects.create_user("viewer")
    sites.set_role(op_a, a, "operator")
    sites.set_role(viewer, a, "viewer")
    return {"a": cp_a, "b": cp_b, "op_a": op_a, "viewer": viewer, "root": User.objects.create_superuser("root")}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client
