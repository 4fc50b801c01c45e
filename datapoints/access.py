"""Who may see and steer which charge points: rights per site.

  superuser            sees and steers everything, charge points without a site included
  SiteRole operator    sees the site's charge points; approves, rejects, sends commands, sets
                       passwords, writes Config elements
  SiteRole viewer      sees the site's charge points
  no role on a site    its charge points do not exist for this user (404, never a name leaked)

The panel, the REST API and the panel's websocket all ask here. See docs/decisions/0008-sites-and-rights.md.
"""
from django.http import Http404

from .elements import CHARGE_POINT
from .models import Datapoint, Site, SiteRole
from .values import has_nul

VIEWER, OPERATOR = SiteRole.VIEWER, SiteRole.OPERATOR


def visible_sites(user):
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(roles__user=user).distinct()


def visible_charge_points(user):
    """The charge point datapoints `user` may see."""
    charge_points = Datapoint.objects.filter(dp_type=CHARGE_POINT)
    if not user.is_authenticated:
        return charge_points.none()
    if user.is_superuser:
        return charge_points
    return charge_points.filter(site__roles__user=user)


def role_on(user, charge_point):
    """OPERATOR, VIEWER or None: the user's right on one charge point."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return OPERATOR
    if charge_point.site_id is None:
        return None
    return SiteRole.objects.filter(user=user, site_id=charge_point.site_id).values_list("role", flat=True).first()


def operated_site_ids(user):
    """Ids of the sites on which `user` is an operator (every site for a superuser)."""
    if user.is_superuser:
        return set(Site.objects.values_list("id", flat=True))
    return set(SiteRole.objects.filter(user=user, role=OPERATOR).values_list("site_id", flat=True))


def can_operate(user, charge_point):
    return role_on(user, charge_point) == OPERATOR


def may_edit_id_tags(user):
    """Id tags are global (a card works at every site): a superuser or an operator of any site edits
    them; everyone else only reads (docs/decisions/0013-id-tags-local-lists-reservations.md)."""
    return user.is_authenticated and (user.is_superuser or SiteRole.objects.filter(user=user, role=OPERATOR).exists())


def charge_point_for(user, client_id, operate=False):
    """The charge point with ClientId (or datapoint name) `client_id` if `user` may see it (and,
    with operate=True, steer it); Http404 otherwise: a charger on someone else's site does not exist
    for this user (as for a text holding a NUL, which no ClientId or name does: PostgreSQL would
    refuse the query). Raises PermissionError for a viewer asking to operate."""
    if has_nul(client_id):
        raise Http404("no such charge point")
    dp = visible_charge_points(user).filter(client_id=client_id).first() or visible_charge_points(user).filter(name=client_id).first()
    if dp is None:
        raise Http404("no such charge point")
    if operate and not can_operate(user, dp):
        raise PermissionError(f"you may view {dp.client_id} but not act on it: ask for the operator role on its site")
    return dp


def visible_names(user):
    """{charge point datapoint name} the user may see (for filtering change events)."""
    return set(visible_charge_points(user).values_list("name", flat=True))
