"""What every panel view needs: login, the charge point by ClientId within the user's rights."""
import functools

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from datapoints import access


def charge_point_view(operate=False):
    """A view taking `client_id` gets the charge point instead, if the user may see it (404 if not:
    a charger on another site does not exist for this user) and, with operate=True, act on it (403
    with what to ask for)."""

    def decorate(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request, client_id, *args, **kwargs):
            try:
                dp = access.charge_point_for(request.user, client_id, operate=operate)
            except PermissionError as exc:
                return forbidden(request, str(exc))
            return view(request, dp, *args, **kwargs)

        return wrapper

    return decorate


def forbidden(request, why):
    return render(request, "panel/forbidden.html", {"why": why}, status=403)


def operator_of(request, dp):
    return access.can_operate(request.user, dp)
