"""The server's local API, for management commands when there is no Redis to reach it through."""
import hmac
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .notify import deliver, local_api_token

ALLOWED_MESSAGES = {"cp.config"}


def _authorized(request):
    return hmac.compare_digest(request.headers.get("X-OCPP-Token", ""), local_api_token())


@csrf_exempt
@require_POST
async def local_notify(request):
    if not _authorized(request):
        return JsonResponse({"error": "missing or wrong X-OCPP-Token"}, status=403)
    try:
        data = json.loads(request.body)
        client_id, message = data["client_id"], data["message"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "send {client_id, message}"}, status=400)
    if not isinstance(message, dict) or message.get("type") not in ALLOWED_MESSAGES:
        return JsonResponse({"error": f"message type must be one of {sorted(ALLOWED_MESSAGES)}"}, status=400)
    return JsonResponse({"delivered": await deliver(client_id, message)})
