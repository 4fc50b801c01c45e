"""Transactions (charging sessions): list with the panel's filters, one, and the CSV, all through
datapoints/sessions.py."""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from datapoints import sessions

from .. import serializers as s


def _searched(request):
    """The sessions the user may see that match the query's filters; 400 naming what is wrong."""
    filters = s.TransactionFilters(data=request.query_params)
    filters.is_valid(raise_exception=True)
    found = sessions.SessionFilters(**{name: filters.validated_data.get(name, "") for name in sessions.SessionFilters.names()})
    rows = sessions.search(request.user, found)
    if found.problems:
        raise ValidationError({"detail": list(found.problems)})
    return rows


class Transactions(generics.GenericAPIView):
    serializer_class = s.TransactionOut

    @extend_schema(parameters=[s.TransactionFilters], responses={200: s.TransactionOut(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        page = self.paginate_queryset(_searched(request))
        return self.get_paginated_response(s.TransactionOut(page, many=True).data)


class TransactionDetail(APIView):
    @extend_schema(responses={200: s.TransactionOut, 404: OpenApiResponse(s.Problem, "no such transaction that you may see")})
    def get(self, request, pk):
        session = sessions.get(request.user, pk)
        if session is None:
            raise NotFound("no such transaction that you may see")
        return Response(s.TransactionOut(session).data)


class TransactionCsv(APIView):
    def perform_content_negotiation(self, request, force=False):
        # `Accept: text/csv` is what this answers, not a 406: the CSV bypasses DRF's renderers, and
        # an error (400) is still JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(parameters=[s.TransactionFilters], responses={(200, "text/csv"): OpenApiTypes.STR, 400: s.BAD_INPUT})
    def get(self, request):
        """Every matching transaction as CSV, streamed (the panel's `/sessions.csv`)."""
        lines = sessions.csv_started(_searched(request))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="transactions-{timezone.now():%Y%m%d-%H%M}.csv"'
        return response
