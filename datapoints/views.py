"""The server's local API, for management commands when there is no Redis to reach it through:
they post here, authenticated by a token derived from SECRET_KEY (docs/decisions/0005-local-api.md)."""
import functools
import hmac
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .commands import CommandRefused, send_command_async
from .notify import deliver, local_api_token

ALLOWED_MESSAGES = {"cp.config"}


def local_api(*fields):
    """A POST view taking a JSON object with `fields`, for holders of the local API token."""

    def decorate(view):
        @csrf_exempt
        @require_POST
        @functools.wraps(view)
        async def wrapper(request):
            if not hmac.compare_digest(request.headers.get("X-OCPP-Token", ""), local_api_token()):
                return JsonResponse({"error": "missing or wrong X-OCPP-Token"}, status=403)
            try:
                data = json.loads(request.body)
                args = [data[name] for name in fields]
            except (ValueError, KeyError, TypeError):
                return JsonResponse({"error": f"send a JSON object with {', '.join(fields)}"}, status=400)
            return await view(request, *args)

        return wrapper

    return decorate


@local_api("client_id", "message")
async def local_notify(request, client_id, message):
    if not isinstance(message, dict) or message.get("type") not in ALLOWED_MESSAGES:
        return JsonResponse({"error": f"message type must be one of {sorted(ALLOWED_MESSAGES)}"}, status=400)
    return JsonResponse({"delivered": await deliver(client_id, message)})


@local_api("charge_point", "action", "payload", "timeout")
async def local_command(request, charge_point, action, payload, timeout):
    """-> the Outcome of the command, sent from this process."""
    try:
        outcome = await send_command_async(charge_point, action, payload, timeout)
    except CommandRefused as exc:
        return JsonResponse({"refused": str(exc)}, status=400)
    return JsonResponse(outcome.as_dict())
