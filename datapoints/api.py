"""The REST API for people and scripts with a login (session or HTTP Basic is the deployer's
choice in front; here: Django's session auth).

  POST /api/charge-points/<name or ClientId>/commands/<Action>   body: the payload (JSON object)
       ?timeout=S
  -> 200 answered · 400 refused (with the reason) · 502 CALLERROR or an invalid answer
     · 504 timeout · 503 offline. The body is the outcome: {status, response, error_code, error}.

A REST API token works here too (`Authorization: Bearer <token>`, api/authentication.py). With
the session's cookie instead, Django's CSRF check applies (X-CSRFToken header), as for any form:
without it another site's page could make a logged-in operator's browser send commands.

Sending a command needs the operator role on the charge point's site (datapoints/access.py); a
charge point on a site the user has no right on answers 404, as if it did not exist.
"""
import json

from asgiref.sync import sync_to_async
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import access, audit
from .commands import CommandRefused, send_command_async

HTTP_STATUS = {"answered": 200, "error": 502, "invalid": 502, "timeout": 504, "offline": 503}


@csrf_exempt
@require_POST
async def command(request, charge_point, action):
    user = await _user(request)
    if isinstance(user, JsonResponse):
        return user
    if not user.is_authenticated:
        return JsonResponse({"error": "log in first (/accounts/login/)"}, status=401)
    if not _bearer(request) and _csrf_refused(request):
        return JsonResponse({"error": "CSRF check failed: with the session's cookie, send the csrftoken cookie's value as X-CSRFToken (and a Referer/Origin of this site), or use a bearer token (manage.py api_token)"}, status=403)
    try:
        dp = await sync_to_async(access.charge_point_for)(user, charge_point, operate=True)
    except Http404:
        return JsonResponse({"error": f"no charge point {charge_point!r} that you may see"}, status=404)
    except PermissionError as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
        timeout = float(request.GET["timeout"]) if "timeout" in request.GET else None
    except ValueError as exc:
        return JsonResponse({"status": "refused", "error": f"the body must be the payload as a JSON object, and timeout a number: {exc}"}, status=400)
    try:
        outcome = await send_command_async(dp, action, payload, timeout)
    except CommandRefused as exc:
        await sync_to_async(audit.record_command)(user, dp, action, payload, None, str(exc))
        return JsonResponse({"status": "refused", "error": str(exc)}, status=400)
    await sync_to_async(audit.record_command)(user, dp, action, payload, outcome)
    return JsonResponse(outcome.as_dict(), status=HTTP_STATUS[outcome.status])


async def _user(request):
    """The bearer token's user when one is sent (a 401 response when it is wrong), else the session's."""
    from api.authentication import user_for

    if not _bearer(request):
        return await request.auser()
    header = request.headers["Authorization"]
    user, why = await sync_to_async(user_for)(header)
    return user if user is not None else JsonResponse({"error": why}, status=401)


def _bearer(request):
    return request.headers.get("Authorization", "").lower().startswith("bearer")


def _csrf_refused(request):
    """Django's CSRF check of a session-authenticated request: True when it fails."""
    return CsrfViewMiddleware(lambda _request: None).process_view(request, None, (), {}) is not None
