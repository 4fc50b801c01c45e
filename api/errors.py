"""Every API error is a JSON object with `detail` saying what to do. The domain's own refusals
(PermissionError from datapoints.access, Http404) become 403 and 404 here; so do the two ways a
request body can fail before DRF's parser says so itself (too big, nested too deeply)."""
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .authentication import HOW

LOGIN = f"{HOW}, or log in at /accounts/login/"


def handler(exc, context):
    if isinstance(exc, PermissionError) and not isinstance(exc, exceptions.APIException):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else "not found")
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "the request body is too big (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default)"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RecursionError) and "JSON" in str(exc):  # json.loads on [[[[…: not a ValueError
        exc = exceptions.ParseError("JSON parse error - nested too deeply")
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.NotAuthenticated):
        response.data = {"detail": f"authentication needed: {LOGIN}"}
    return response


def not_found(request, *args, **kwargs):
    """Any other URL under /api/: a JSON 404 like the API's own, not the site's HTML page."""
    return JsonResponse({"detail": f"no API endpoint {request.path}; see /api/docs/"}, status=404)
