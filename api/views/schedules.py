"""Scheduled commands: list (what the user may see), create and delete, with the rights and the
audit entries of the panel's schedule pages (datapoints/schedules.py)."""
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from datapoints import access, schedules
from datapoints.commands import CommandRefused
from datapoints.protocol.results import redacted

from panel.views.schedules import Shown, _commands, _seen

from .. import serializers as s

NOT_FOUND = OpenApiResponse(s.Problem, "no such schedule that you may see")


def shown(command, user, seen):
    """The schedule as `user` sees it (the panel's Shown: targets on sites without a right are
    counted, not named). `command` comes from the panel's _commands (timing and runs in one query)."""
    view = Shown(command, user, *seen)
    return {
        "id": command.id,
        "name": command.name,
        "action": command.action,
        "payload": redacted(command.action, command.payload),
        "all_accepted": command.all_accepted,
        "charge_points": [dp.client_id for dp in view.targets],
        "hidden_targets": view.hidden,
        "timeout": command.timeout,
        "timing": view.timing,
        "state": view.state,
        "created_at": command.created_at,
    }


def _one(user, pk):
    return shown(_commands(user).get(pk=pk), user, _seen(user))


class Schedules(generics.GenericAPIView):
    serializer_class = s.ScheduleOut

    @extend_schema(responses={200: s.ScheduleOut(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        page = self.paginate_queryset(_commands(request.user).order_by("name", "id"))
        seen = _seen(request.user)
        return self.get_paginated_response([shown(c, request.user, seen) for c in page])

    @extend_schema(request=s.ScheduleIn, responses={201: s.ScheduleOut, 400: s.BAD_INPUT, 403: s.Problem, 404: OpenApiResponse(s.Problem, "a named charge point you may not see")})
    def post(self, request):
        user = request.user
        if not schedules.may_create(user):
            raise PermissionError("making schedules needs the operator role on a site; you may read the schedules")
        data = s.ScheduleIn(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        name = given["name"].strip()
        targets = self._targets(user, given, name)
        at, cron = given["at"], " ".join(given["cron"].split())
        try:
            schedules.check_timing(at=at, cron=cron or None, future_after=timezone.now() if at else None)
            command = schedules.create_schedule(name, given["action"], given["payload"], targets, given["all_accepted"], at=at, cron=cron or None, timeout=given["timeout"])
        except (schedules.ScheduleError, CommandRefused) as exc:
            schedules.record(user, "schedule_create", None, ok=False, outcome=str(exc), detail={"command": given["action"]}, name=name)
            raise ValidationError({"detail": str(exc)}) from None
        whom = "every accepted charge point" if command.all_accepted else ", ".join(dp.client_id for dp in targets)
        detail = {"payload": redacted(command.action, command.payload), "targets": whom, "timeout": command.timeout}
        schedules.record(user, "schedule_create", command, detail=detail, outcome="created")
        return Response(_one(user, command.pk), status=status.HTTP_201_CREATED)

    @staticmethod
    def _targets(user, given, name):
        """The named charge points (404 for one the user may not see, 403 for one they may not
        operate), refusals audited as the panel's."""
        asked = list(dict.fromkeys(given["charge_points"]))
        found = {dp.client_id: dp for dp in access.visible_charge_points(user).filter(client_id__in=asked)}
        unknown = [c for c in asked if c not in found]
        if unknown:
            why = f"no such charge point: {', '.join(unknown)}; nothing was scheduled"
            schedules.record(user, "schedule_create", None, ok=False, outcome=why, detail={"command": given["action"]}, name=name)
            raise NotFound(why)
        try:
            schedules.check_targets(user, list(found.values()), given["all_accepted"])
        except PermissionError as exc:
            schedules.record(user, "schedule_create", None, ok=False, outcome=f"refused: {exc}", detail={"command": given["action"]}, name=name)
            raise
        return [] if given["all_accepted"] else list(found.values())


class ScheduleDetail(APIView):
    def _command(self, request, pk):
        command = _commands(request.user).filter(pk=pk).first()
        if command is None:
            raise NotFound("no such schedule that you may see")
        return command

    @extend_schema(responses={200: s.ScheduleOut, 404: NOT_FOUND})
    def get(self, request, pk):
        return Response(shown(self._command(request, pk), request.user, _seen(request.user)))

    @extend_schema(responses={204: None, 403: s.Problem, 404: NOT_FOUND})
    def delete(self, request, pk):
        command = self._command(request, pk)
        if not schedules.may_change(request.user, command):
            why = "only a superuser may change a schedule on every accepted charge point" if command.all_accepted else "you may change a schedule only when you are an operator of the sites of all its charge points"
            schedules.record(request.user, "schedule_delete", command, ok=False, outcome=f"refused: {why}")
            raise PermissionError(why)
        runs = command.runs.count()
        schedules.record(request.user, "schedule_delete", command, detail={"payload": redacted(command.action, command.payload), "runs": runs}, outcome=f"deleted with {runs} run(s)")
        schedules.delete_schedule(command)
        return Response(status=status.HTTP_204_NO_CONTENT)
