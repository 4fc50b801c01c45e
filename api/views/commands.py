"""Commands to a charger: `POST /api/commands/` sends one, fire-and-track (202 and an id to poll
at `/api/commands/<id>/`) or, with `"wait": true`, synchronously like
`POST /api/charge-points/<cp>/commands/<Action>` (datapoints/api.py, still served)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from datapoints import access, audit
from datapoints.api import HTTP_STATUS
from datapoints.commands import CommandRefused, check_command

from .. import serializers as s
from .. import tracking
from ..models import TrackedCommand
from ..permissions import charge_point as visible_charge_point

FINAL_STATUS = {**HTTP_STATUS, "refused": 400}


def visible_commands(user):
    """Tracked commands to the charge points `user` may see."""
    return TrackedCommand.objects.filter(charge_point__in=access.visible_charge_points(user)).select_related("charge_point")


class Commands(generics.GenericAPIView):
    serializer_class = s.Command

    @extend_schema(responses={200: s.Command(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        """The commands sent through this endpoint to charge points you may see, newest first."""
        page = self.paginate_queryset(visible_commands(request.user))
        for record in page:
            tracking.expire_if_stale(record)
        return self.get_paginated_response(s.Command(page, many=True).data)

    @extend_schema(
        request=s.CommandRequest,
        responses={
            202: OpenApiResponse(s.Command, "sent in the background: poll the Location"),
            200: OpenApiResponse(s.Command, "wait: answered"),
            400: OpenApiResponse(s.Problem, "refused before sending (schema, rule) or bad input"),
            403: OpenApiResponse(s.Problem, "you may see the charge point but not act on it"),
            404: OpenApiResponse(s.Problem, "no such charge point that you may see"),
            502: OpenApiResponse(s.Command, "wait: CALLERROR or an invalid answer"),
            503: OpenApiResponse(s.Command, "wait: the charger is offline"),
            504: OpenApiResponse(s.Command, "wait: no answer in time"),
        },
    )
    def post(self, request):
        data = s.CommandRequest(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        dp = visible_charge_point(request, given["charge_point"], operate=True)
        action, payload = given["action"], given["payload"]
        try:
            check_command(action, payload)
        except CommandRefused as exc:
            audit.record_command(request.user, dp, action, payload, None, str(exc))
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        record = tracking.create(request.user, dp, action, payload, given.get("timeout"))
        if given["wait"]:
            record = tracking.run_and_wait(record, dp, payload)
            return Response(s.Command(record).data, status=FINAL_STATUS[record.status])
        tracking.start(record, dp, payload)
        url = reverse("api:command", args=[record.pk], request=request)
        return Response(s.Command(record).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class CommandDetail(APIView):
    @extend_schema(responses={200: s.Command, 404: OpenApiResponse(s.Problem, "no such command that you may see")})
    def get(self, request, pk):
        """A command's status: pending until the charger answered (or timed out, or its sender stopped)."""
        record = visible_commands(request.user).filter(pk=pk).first()
        if record is None:
            return Response({"detail": "no such command that you may see"}, status=status.HTTP_404_NOT_FOUND)
        return Response(s.Command(tracking.expire_if_stale(record)).data)
