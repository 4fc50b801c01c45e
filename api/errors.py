"""Every API error is a JSON object with `detail` saying what to do. The domain's own refusals
(PermissionError from datapoints.access, Http404) become 403 and 404 here."""
from django.http import Http404
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
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.NotAuthenticated):
        response.data = {"detail": f"authentication needed: {LOGIN}"}
    return response
