"""Alarms: list with the panel's filters, acknowledge one (operators of its site)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from datapoints import alarms
from panel.views.alarms import Filters, visible_alarms

from .. import permissions, serializers as s


class Alarms(generics.GenericAPIView):
    serializer_class = s.AlarmOut

    @extend_schema(parameters=[s.AlarmFilters], responses={200: s.AlarmOut(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        """Newest first; by default the active ones (`state=all` for every one)."""
        filters = s.AlarmFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = Filters(**{name: filters.validated_data.get(name, "") for name in ("state", "site", "charger", "kind", "acknowledged")})
        rows = found.apply(visible_alarms(request.user)).select_related("charge_point").order_by("-came_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.AlarmOut(page, many=True).data)


class Acknowledge(APIView):
    @extend_schema(request=None, responses={200: s.AcknowledgeResult, 403: s.Problem, 404: OpenApiResponse(s.Problem, "no such alarm that you may see")})
    def post(self, request, pk):
        alarm = visible_alarms(request.user).select_related("charge_point__site").filter(pk=pk).first()
        if alarm is None:
            raise NotFound("no such alarm that you may see")
        permissions.operate(request, alarm.charge_point)
        now = alarms.acknowledge(alarm, request.user)
        alarm.refresh_from_db()
        return Response({"acknowledged_now": now, "alarm": s.AlarmOut(alarm).data})
