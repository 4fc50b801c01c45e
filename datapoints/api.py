"""The REST API for people and scripts with a login (session or HTTP Basic is the deployer's
choice in front; here: Django's session auth).

  POST /api/charge-points/<name or ClientId>/commands/<Action>   body: the payload (JSON object)
       ?timeout=S
  -> 200 answered · 400 refused (with the reason) · 502 CALLERROR or an invalid answer
     · 504 timeout · 503 offline. The body is the outcome: {status, response, error_code, error}.

Sending a command needs the permission `datapoints.send_command`.
"""
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .commands import CommandRefused, send_command_async

HTTP_STATUS = {"answered": 200, "error": 502, "invalid": 502, "timeout": 504, "offline": 503}


@csrf_exempt
@require_POST
async def command(request, charge_point, action):
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "log in first (/admin/login/)"}, status=401)
    if not await user.ahas_perm("datapoints.send_command"):
        return JsonResponse({"error": "you may not send commands: ask an administrator for the permission datapoints.send_command"}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
        timeout = float(request.GET["timeout"]) if "timeout" in request.GET else None
    except ValueError as exc:
        return JsonResponse({"status": "refused", "error": f"the body must be the payload as a JSON object, and timeout a number: {exc}"}, status=400)
    try:
        outcome = await send_command_async(charge_point, action, payload, timeout)
    except CommandRefused as exc:
        return JsonResponse({"status": "refused", "error": str(exc)}, status=400)
    return JsonResponse(outcome.as_dict(), status=HTTP_STATUS[outcome.status])
