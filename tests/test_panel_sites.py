"""Sites and operators managed in the panel by superusers (/sites/), with Django's test client:
what a superuser does takes effect (Config.Site, rights, logins), bad input changes nothing and
says what to fix, every change is audited, and nobody else even sees the pages (404)."""
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, Datapoint, Site, SiteRole
from datapoints.paths import get_value

pytestmark = pytest.mark.django_db(transaction=True)
PW = "sites-test-pw-1"


@pytest.fixture
def admin():
    client = Client()
    client.force_login(User.objects.create_superuser("root", password=PW))
    return client


@pytest.fixture
def plant():
    """Site plant-a with CP-1, site plant-b with CP-2, CP-3 in no site."""
    a, b = sites.create_site("plant-a", "Plant A"), sites.create_site("plant-b", "Plant B")
    cps = {client_id: create_charge_point(client_id, "Pending") for client_id in ("CP-1", "CP-2", "CP-3")}
    sites.assign(a, [cps["CP-1"]])
    sites.assign(b, [cps["CP-2"]])
    return {"a": a, "b": b, **cps}


def user_with(username, site=None, role=None, **extra):
    user = User.objects.create_user(username, password=PW, **extra)
    if site is not None:
        sites.set_role(user, site, role)
    return user


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def shown(response):
    """The page after a redirect, with its messages."""
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def config_site(client_id):
    return get_value(f"{Datapoint.objects.get(client_id=client_id).name}.Config.Site")


def audit_rows(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id").values_list("username", "target", "ok", "outcome"))


def test_a_superuser_creates_a_site_assigns_a_charger_and_makes_an_operator_who_sees_only_it(admin, plant):
    response = admin.post("/sites/new", {"slug": "depot-3", "name": "Depot 3", "time_zone": "Europe/Vienna", "notes": "gate code at the desk"})
    assert response.status_code == 302 and response["Location"] == "/sites/depot-3/"
    site = Site.objects.get(slug="depot-3")
    assert (site.name, site.time_zone, site.notes) == ("Depot 3", "Europe/Vienna", "gate code at the desk")

    page = shown(admin.post("/sites/depot-3/assign", {"client_id": ["CP-3"]}, follow=True))
    assert "Assigned to depot-3: CP-3." in page
    assert config_site("CP-3") == "depot-3"
    assert Datapoint.objects.get(client_id="CP-3").site == site

    response = admin.post("/sites/operators/new", {"username": "anna", "password1": PW, "password2": PW, "sites": [site.pk], "role": "operator"})
    anna = User.objects.get(username="anna")
    assert response.status_code == 302 and response["Location"] == f"/sites/operators/{anna.pk}/"
    assert list(anna.site_roles.values_list("site__slug", "role")) == [("depot-3", "operator")]
    assert authenticate(username="anna", password=PW) == anna
    assert not anna.is_superuser and not anna.is_staff

    client = Client()
    assert client.login(username="anna", password=PW)
    assert "CP-3" in client.get("/charge-points/CP-3/").content.decode()
    assert client.get("/charge-points/CP-1/").status_code == 404  # plant-a's charger does not exist for her
    fleet = client.get("/").content.decode()
    assert "CP-3" in fleet and "CP-1" not in fleet and "CP-2" not in fleet
    client.post("/fleet/approve", {"client_id": "CP-3"})  # the operator role lets her act
    assert get_value(f"{Datapoint.objects.get(client_id='CP-3').name}.Config.RegistrationStatus") == "Accepted"

    assert audit_rows("site_create") == [("root", "depot-3", True, "created")]
    assert audit_rows("site_assign") == [("root", "CP-3", True, "assigned to depot-3")]
    assert audit_rows("operator_create") == [("root", "anna", True, "operator of depot-3")]
    assert AuditEntry.objects.get(action="site_assign").site == site
    assert "password" not in str(AuditEntry.objects.get(action="operator_create").detail)


def test_the_site_list_shows_slug_name_zone_count_and_roles(admin, plant):
    user_with("vera", plant["a"], "viewer")
    user_with("otto", plant["a"], "operator", is_active=False)
    sites.assign(plant["a"], [plant["CP-3"]])
    page = shown(admin.get("/sites/"))
    row_a = page.split('href="/sites/plant-a/"')[1].split("</tr>")[0]
    assert "Plant A" in row_a and "UTC" in row_a and '<td class="num">2</td>' in row_a
    assert "vera</a> <span class=\"badge\">viewer" in row_a and "otto</a> <span class=\"badge\">operator</span> <span class=\"muted\">(deactivated)" in row_a
    row_b = page.split('href="/sites/plant-b/"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row_b and "only superusers" in row_b
    assert "0 charge points in no site" in page


def test_a_site_is_edited_but_keeps_its_slug(admin, plant):
    page = shown(admin.post("/sites/plant-a/edit", {"name": "Plant A (north)", "time_zone": "America/New_York", "notes": "new gate"}, follow=True))
    assert "name, time zone, notes changed" in page
    site = Site.objects.get(pk=plant["a"].pk)
    assert (site.slug, site.name, site.time_zone, site.notes) == ("plant-a", "Plant A (north)", "America/New_York", "new gate")
    entry = AuditEntry.objects.get(action="site_change")
    assert entry.detail["time_zone"] == ["UTC", "America/New_York"] and entry.site == site and entry.ok
    assert "nothing to change" in shown(admin.post("/sites/plant-a/edit", {"name": "Plant A (north)", "time_zone": "America/New_York", "notes": "new gate"}, follow=True))
    assert AuditEntry.objects.filter(action="site_change").count() == 1


def test_a_site_sets_defaults_for_its_chargers_and_clears_them(admin, plant):
    details = {"name": "Plant A", "time_zone": "UTC", "notes": ""}
    page = shown(admin.post("/sites/plant-a/edit", {**details, "auto_create": "yes", "new_charge_point_status": "Accepted", "heartbeat_interval": "90"}, follow=True))
    assert "auto create, new charge point status, heartbeat interval changed" in page
    site = Site.objects.get(pk=plant["a"].pk)
    assert (site.auto_create, site.new_charge_point_status, site.heartbeat_interval) == (True, "Accepted", 90)
    assert '<option value="yes" selected>create them</option>' in shown(admin.get("/sites/plant-a/"))
    assert AuditEntry.objects.get(action="site_change").detail["heartbeat_interval"] == [None, 90]
    response = admin.post("/sites/plant-a/edit", {**details, "auto_create": "no", "heartbeat_interval": "5"})
    assert response.status_code == 400 and "Ensure this value is greater than or equal to 10." in response.content.decode()
    assert Site.objects.get(pk=site.pk).auto_create is True  # nothing changed
    shown(admin.post("/sites/plant-a/edit", {**details, "auto_create": "", "new_charge_point_status": "", "heartbeat_interval": ""}, follow=True))
    site.refresh_from_db()
    assert (site.auto_create, site.new_charge_point_status, site.heartbeat_interval) == (None, "", None)
    assert "installation default (refuse)" in shown(admin.get("/sites/plant-a/"))


def test_a_charger_moves_from_another_site_with_a_note_and_is_removed(admin, plant):
    page = shown(admin.get("/sites/plant-a/"))
    elsewhere = page.split("In another site")[1]
    assert "<strong>moves</strong> it to plant-a" in elsewhere and 'value="CP-2"' in elsewhere and "plant-b" in elsewhere
    assert 'value="CP-3"' in page.split("Not in a site")[1].split("In another site")[0]

    page = shown(admin.post("/sites/plant-a/assign", {"client_id": ["CP-2", "CP-3"]}, follow=True))
    assert "Moved to plant-a: CP-2 (from plant-b)" in page and "Assigned to plant-a: CP-3." in page
    assert (config_site("CP-2"), config_site("CP-3")) == ("plant-a", "plant-a")
    assert list(plant["a"].charge_points.order_by("client_id").values_list("client_id", flat=True)) == ["CP-1", "CP-2", "CP-3"]
    assert not plant["b"].charge_points.exists()
    moved = AuditEntry.objects.get(action="site_assign", target="CP-2")
    assert moved.detail == {"site": "plant-a", "from": "plant-b"} and moved.outcome == "moved from plant-b to plant-a"

    page = shown(admin.post("/sites/plant-a/remove", {"client_id": "CP-2"}, follow=True))
    assert "CP-2 removed from plant-a" in page
    assert config_site("CP-2") == "" and Datapoint.objects.get(client_id="CP-2").site is None
    assert 'value="CP-2"' in page.split("Not in a site")[1].split("In another site")[0]
    assert audit_rows("site_unassign") == [("root", "CP-2", True, "removed from plant-a")]


def test_role_change_and_removal_take_effect_at_once(admin, plant):
    vera = user_with("vera", plant["a"], "viewer")
    client = logged_in(vera)
    assert client.post("/charge-points/CP-1/write", {"path": "Config.HeartbeatInterval", "value": "90"}).status_code == 403

    page = shown(admin.post(f"/sites/operators/{vera.pk}/role", {"site": "plant-a", "role": "operator"}, follow=True))
    assert "vera is now operator of plant-a (was viewer)." in page
    assert client.post("/charge-points/CP-1/write", {"path": "Config.HeartbeatInterval", "value": "90"}).status_code == 302
    assert get_value(f"{plant['CP-1'].name}.Config.HeartbeatInterval") == 90

    assert client.get("/charge-points/CP-2/").status_code == 404
    shown(admin.post(f"/sites/operators/{vera.pk}/role", {"site": "plant-b", "role": "viewer"}, follow=True))
    assert client.get("/charge-points/CP-2/").status_code == 200

    page = shown(admin.post(f"/sites/operators/{vera.pk}/role", {"site": "plant-a", "role": ""}, follow=True))
    assert "vera has no role on plant-a any more" in page
    assert client.get("/charge-points/CP-1/").status_code == 404
    assert list(vera.site_roles.values_list("site__slug", "role")) == [("plant-b", "viewer")]
    rows = list(AuditEntry.objects.filter(action="operator_role").order_by("id").values_list("site__slug", "detail", "outcome"))
    assert rows == [
        ("plant-a", {"role": "operator", "was": "viewer"}, "operator of plant-a"),
        ("plant-b", {"role": "viewer", "was": None}, "viewer of plant-b"),
        ("plant-a", {"role": None, "was": "operator"}, "removed from plant-a"),
    ]


def test_a_deactivated_login_cannot_log_in_and_its_session_ends(admin, plant):
    otto = user_with("otto", plant["a"], "operator")
    session = Client()
    assert session.login(username="otto", password=PW)
    assert session.get("/charge-points/CP-1/").status_code == 200

    page = shown(admin.post(f"/sites/operators/{otto.pk}/active", {"active": "0"}, follow=True))
    assert "otto is deactivated" in page
    otto.refresh_from_db()
    assert not otto.is_active
    assert session.get("/charge-points/CP-1/")["Location"].startswith("/accounts/login/")
    assert not Client().login(username="otto", password=PW)
    response = Client().post("/accounts/login/", {"username": "otto", "password": PW})
    assert response.status_code == 200 and "User name or password is wrong" in response.content.decode()
    assert list(otto.site_roles.values_list("role", flat=True)) == ["operator"]  # kept for a reactivation

    shown(admin.post(f"/sites/operators/{otto.pk}/active", {"active": "1"}, follow=True))
    assert Client().login(username="otto", password=PW)
    assert [(r[0], r[1], r[3]) for r in audit_rows("operator_deactivate")] == [("root", "otto", "deactivated")]
    assert [(r[0], r[1], r[3]) for r in audit_rows("operator_activate")] == [("root", "otto", "activated")]


def test_a_superuser_cannot_deactivate_their_own_login(admin):
    root = User.objects.get(username="root")
    page = shown(admin.post(f"/sites/operators/{root.pk}/active", {"active": "0"}, follow=True))
    assert "You cannot deactivate your own login" in page
    root.refresh_from_db()
    assert root.is_active
    assert audit_rows("operator_deactivate") == [("root", "root", False, "refused: own login")]


def _every_page(plant, someone):
    return [
        ("get", "/sites/", {}),
        ("post", "/sites/new", {"slug": "sneaky", "time_zone": "UTC"}),
        ("get", "/sites/plant-a/", {}),
        ("post", "/sites/plant-a/edit", {"name": "hacked", "time_zone": "UTC"}),
        ("post", "/sites/plant-a/assign", {"client_id": "CP-3"}),
        ("post", "/sites/plant-a/remove", {"client_id": "CP-1"}),
        ("get", "/sites/operators/", {}),
        ("post", "/sites/operators/new", {"username": "mallory", "password1": PW, "password2": PW, "sites": [plant["a"].pk], "role": "operator"}),
        ("get", f"/sites/operators/{someone.pk}/", {}),
        ("post", f"/sites/operators/{someone.pk}/role", {"site": "plant-a", "role": "operator"}),
        ("post", f"/sites/operators/{someone.pk}/active", {"active": "0"}),
        ("get", "/sites/nope/", {}),
    ]


def test_nobody_but_a_superuser_finds_these_pages(plant):
    someone = user_with("vera", plant["a"], "viewer")
    people = [
        user_with("op", plant["a"], "operator"),
        someone,
        user_with("staff", is_staff=True),  # the admin's staff flag is not enough
    ]
    for person in people:
        client = logged_in(person)
        for method, url, data in _every_page(plant, someone):
            assert getattr(client, method)(url, data).status_code == 404, (person.username, method, url)
    for method, url, data in _every_page(plant, someone):  # not logged in: the login page, as everywhere in the panel
        response = getattr(Client(), method)(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    assert sorted(Site.objects.values_list("slug", "name")) == [("plant-a", "Plant A"), ("plant-b", "Plant B")]
    assert not User.objects.filter(username="mallory").exists()
    assert (config_site("CP-1"), config_site("CP-3")) == ("plant-a", None)
    assert list(someone.site_roles.values_list("role", flat=True)) == ["viewer"] and User.objects.get(pk=someone.pk).is_active
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "data,error",
    [
        ({"slug": "Plant C", "time_zone": "UTC"}, "&#x27;Plant C&#x27; is not a slug; use lower-case letters, digits and hyphens, e.g. &#x27;plant-c&#x27;"),
        ({"slug": "plant-c", "time_zone": "Mars/Olympus"}, "unknown time zone &#x27;Mars/Olympus&#x27;; use an IANA name such as Europe/Vienna or UTC"),
        ({"slug": "plant-a", "time_zone": "UTC"}, "a site &#x27;plant-a&#x27; exists already"),
        ({"slug": "operators", "time_zone": "UTC"}, "&#x27;operators&#x27; is taken by the panel&#x27;s pages"),
        ({"slug": "", "time_zone": "UTC"}, "This field is required."),
        ({"slug": "x" * 51, "time_zone": "UTC"}, "Ensure this value has at most 50 characters (it has 51)."),
    ],
)
def test_a_bad_site_is_refused_with_what_to_fix(admin, plant, data, error):
    response = admin.post("/sites/new", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Site not created: fix the fields marked below." in page and error in page
    assert 'aria-invalid="true"' in page
    assert Site.objects.count() == 2 and Site.objects.get(slug="plant-a").name == "Plant A"
    (entry,) = AuditEntry.objects.filter(action="site_create")
    assert not entry.ok and entry.username == "root" and entry.outcome


def test_a_bad_edit_changes_nothing(admin, plant):
    response = admin.post("/sites/plant-a/edit", {"name": "Renamed", "time_zone": "Europe/Atlantis", "notes": "x"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "plant-a not changed: fix the fields marked below." in page and "unknown time zone &#x27;Europe/Atlantis&#x27;" in page
    assert 'value="Renamed"' in page  # what was typed stays in the form
    site = Site.objects.get(slug="plant-a")
    assert (site.name, site.time_zone, site.notes) == ("Plant A", "UTC", "")
    assert audit_rows("site_change")[0][2] is False


@pytest.mark.parametrize(
    "change,error",
    [
        ({"password2": "something-else-9"}, "The two password fields didn’t match."),
        ({"password1": "Xq7-t", "password2": "Xq7-t"}, "This password is too short. It must contain at least 8 characters."),
        ({"sites": []}, "Tick at least one site."),
        ({"role": "admin"}, "Select a valid choice. admin is not one of the available choices."),
        ({"username": "vera"}, "A user with that username already exists."),
        ({"username": "bad name!"}, "Enter a valid username."),
    ],
)
def test_a_bad_operator_is_refused_with_what_to_fix(admin, plant, change, error):
    user_with("vera")
    data = {"username": "newbie", "password1": PW, "password2": PW, "sites": [plant["a"].pk], "role": "viewer", **change}
    response = admin.post("/sites/operators/new", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Operator not created: fix the fields marked below." in page and error in page
    assert sorted(User.objects.values_list("username", flat=True)) == ["root", "vera"]
    assert not SiteRole.objects.exists()
    (entry,) = AuditEntry.objects.filter(action="operator_create")
    assert not entry.ok and PW not in str(entry.detail) and "Xq7-t" not in str(entry.detail)


def test_bad_role_and_assignment_requests_say_what_is_wrong_and_change_nothing(admin, plant):
    vera = user_with("vera", plant["a"], "viewer")
    url = f"/sites/operators/{vera.pk}/role"
    for data, error in [
        ({"site": "plant-a", "role": "admin"}, "Role must be viewer or operator, not &#x27;admin&#x27;."),
        ({"site": "plant-z", "role": "viewer"}, "No site &#x27;plant-z&#x27;; choose one of the list."),
        ({"site": "plant-b", "role": ""}, "vera has no role on plant-b; nothing to remove."),
    ]:
        assert error in shown(admin.post(url, data, follow=True))
    root = User.objects.get(username="root")
    assert "root is a superuser and sees and steers every site" in shown(admin.post(f"/sites/operators/{root.pk}/role", {"site": "plant-a", "role": "viewer"}, follow=True))
    assert list(SiteRole.objects.values_list("user__username", "site__slug", "role")) == [("vera", "plant-a", "viewer")]
    assert [r[2] for r in audit_rows("operator_role")] == [False] * 4

    page = shown(admin.post("/sites/plant-a/assign", {"client_id": ["CP-404"]}, follow=True))
    assert "No charge point with ClientId CP-404; nothing done for those." in page
    assert "Tick the charge points to assign first." in shown(admin.post("/sites/plant-a/assign", {}, follow=True))
    assert "CP-2 is not in plant-a; nothing removed." in shown(admin.post("/sites/plant-a/remove", {"client_id": "CP-2"}, follow=True))
    assert (config_site("CP-1"), config_site("CP-2"), config_site("CP-3")) == ("plant-a", "plant-b", None)
    assert [r[2] for r in audit_rows("site_assign") + audit_rows("site_unassign")] == [False, False]
    assert admin.get("/sites/plant-z/").status_code == 404
    assert admin.get("/sites/operators/99999/").status_code == 404


def test_the_operator_pages_show_users_and_their_roles(admin, plant):
    vera = user_with("vera", plant["a"], "viewer")
    sites.set_role(vera, plant["b"], "operator")
    user_with("nobody")
    page = shown(admin.get("/sites/operators/"))
    vera_row = page.split(f'href="/sites/operators/{vera.pk}/"')[1].split("</tr>")[0]
    assert "plant-a</a> <span class=\"badge\">viewer" in vera_row and "plant-b</a> <span class=\"badge\">operator" in vera_row
    assert "no site: sees nothing" in page and "superuser: every site" in page
    page = shown(admin.get(f"/sites/operators/{vera.pk}/"))
    assert '<option value="viewer" selected>' in page.split('id="role-plant-a"')[1].split("</select>")[0]
    assert '<option value="operator" selected>' in page.split('id="role-plant-b"')[1].split("</select>")[0]
    assert "Give a role on another site" not in page  # she has a role on every site
    assert "Deactivate" in page
