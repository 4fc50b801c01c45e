"""The panel's site rights for API views: everything asks datapoints.access (viewers see,
operators act; a charge point on a site without a right is 404, as if it did not exist)."""
from rest_framework import permissions

from datapoints import access


def charge_point(request, client_id, operate=False):
    """The charge point (ClientId or datapoint name) if the user may see it, and with
    operate=True act on it; Http404 / PermissionError (-> 404 / 403 in api.errors) otherwise."""
    return access.charge_point_for(request.user, client_id, operate=operate)


def operate(request, dp):
    """PermissionError unless the user may act on `dp` (which they may see)."""
    if not access.can_operate(request.user, dp):
        raise PermissionError(f"you may view {dp.client_id} but not act on it: ask for the operator role on its site")


class EditsIdTagsToWrite(permissions.BasePermission):
    """Reading id tags: any login; changing them: access.may_edit_id_tags (an operator of a site)."""

    message = "changing id tags needs the operator role on a site (or a superuser); you may read them"

    def has_permission(self, request, view):
        # In place of the default IsAuthenticated: without the first test anyone read every tag.
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or access.may_edit_id_tags(request.user)


class Superuser(permissions.BasePermission):
    message = "only a superuser may do this (as in the panel's sites page)"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_superuser)
