"""Charge points: list, detail with every element, create, approve/reject, site, password,
connectors, an element's history and writing an element. Each action goes through the module the
panel uses and is audited the same way."""
from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from datapoints import access, audit, sessions, sites
from datapoints.charge_points import ClientIdError, create_charge_point
from datapoints.elements import element
from datapoints.keys import KeyNotAccepted, set_new_key
from datapoints.models import Datapoint, Element, ElementChange
from datapoints.paths import NotWritable, set_value
from datapoints.periods import parse_moment
from panel import fleet

from .. import permissions, serializers as s
from ..permissions import charge_point as visible_charge_point

SUMMARY_PATHS = {"Config.RegistrationStatus": "registration_status", "State.RegistrationStatus": "state_registration_status", "State.Connected": "connected"}
CONNECTOR_PATHS = {"Status.status": "status", "Status.errorCode": "error_code", "Transaction.CurrentTransactionId": "current_transaction_id"}
REGISTRATION = {"approve": "Accepted", "reject": "Rejected"}
NOT_FOUND = OpenApiResponse(s.Problem, "no such charge point that you may see")
REFUSED = OpenApiResponse(s.Problem, "you may see it but not act on it (viewer)")


def summaries(user, charge_points):
    """The list rows of `charge_points` (datapoints with their site), in one element query."""
    values = {}
    for dp_id, path, value in Element.objects.filter(datapoint__in=[dp.id for dp in charge_points], path__in=list(SUMMARY_PATHS)).values_list("datapoint_id", "path", "value"):
        values.setdefault(dp_id, {})[SUMMARY_PATHS[path]] = value
    operated = access.operated_site_ids(user)
    return [
        {
            "client_id": dp.client_id,
            "name": dp.name,
            "site": dp.site.slug if dp.site else None,
            "registration_status": values.get(dp.id, {}).get("registration_status"),
            "state_registration_status": values.get(dp.id, {}).get("state_registration_status"),
            "connected": values.get(dp.id, {}).get("connected"),
            "may_operate": user.is_superuser or dp.site_id in operated,
            "created_at": dp.created_at,
        }
        for dp in charge_points
    ]


class ChargePointList(generics.GenericAPIView):
    serializer_class = s.ChargePoint

    @extend_schema(parameters=[s.ChargePointFilters], responses={200: s.ChargePoint(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        filters = s.ChargePointFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = filters.validated_data
        connected = found.get("connected")
        panel_filters = fleet.Filters(  # the fleet page's filters: the same rows for the same question
            site=found.get("site", ""),
            registration=found.get("registration_status", ""),
            connection="" if connected is None else ("online" if connected else "offline"),
            q=found.get("search", ""),
        )
        rows = panel_filters.apply(access.visible_charge_points(request.user)).select_related("site").order_by("name")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(summaries(request.user, page))

    @extend_schema(request=s.ChargePointCreate, responses={201: s.ChargePoint, 400: s.BAD_INPUT, 403: s.Problem})
    def post(self, request):
        """Create the datapoint of a charger (as `dp_create` and the panel's Create): into a site you
        operate; without a site (superusers only)."""
        data = s.ChargePointCreate(data=request.data)
        data.is_valid(raise_exception=True)
        client_id, slug = data.validated_data["client_id"], data.validated_data["site"]
        site = _site_to_create_in(request.user, slug)
        try:
            dp = create_charge_point(client_id, data.validated_data["registration_status"])
        except ClientIdError as exc:
            raise ValidationError({"client_id": [str(exc)]}) from None
        except IntegrityError:
            raise ValidationError({"client_id": [f"a charge point with ClientId {client_id!r} exists"]}) from None
        if site is not None:
            sites.assign(site, [dp])
        audit.record(request.user, "create", charge_point=dp, site=site, detail={"from": "api", "site": slug or ""}, outcome=dp.name)
        dp = Datapoint.objects.select_related("site").get(pk=dp.pk)
        return Response(summaries(request.user, [dp])[0], status=status.HTTP_201_CREATED)


def _site_to_create_in(user, slug):
    if not slug:
        if user.is_superuser:
            return None
        raise PermissionError("name a site you operate (`site`); charge points without a site are for superusers only")
    site = access.visible_sites(user).filter(slug=slug).first()
    if site is None:
        raise ValidationError({"site": [f"no site {slug!r} that you may see"]})
    if not (user.is_superuser or site.id in access.operated_site_ids(user)):
        raise PermissionError(f"you may create charge points only on a site you operate; you are a viewer of {slug}")
    return site


def elements_of(dp):
    """Every stored element of the charge point and its connectors."""
    names = {dp.id: dp}
    names.update({c.id: c for c in dp.connectors.all()})
    rows = Element.objects.filter(datapoint_id__in=list(names)).order_by("datapoint__name", "path")
    found = []
    for dp_id, path, value, changed_at in rows.values_list("datapoint_id", "path", "value", "changed_at"):
        owner = names[dp_id]
        spec = _spec(owner.dp_type, path)
        found.append({"datapoint": owner.name, "path": path, "value": value, "kind": spec.kind if spec else "json", "writable": bool(spec and spec.writable), "changed_at": changed_at})
    return found


def _spec(dp_type, path):
    try:
        return element(dp_type, path)
    except KeyError:  # a path no longer in the catalogue
        return None


def connectors_of(dp):
    connectors = list(dp.connectors.order_by("connector_id"))
    values = {}
    for dp_id, path, value in Element.objects.filter(datapoint__in=connectors, path__in=list(CONNECTOR_PATHS)).values_list("datapoint_id", "path", "value"):
        values.setdefault(dp_id, {})[CONNECTOR_PATHS[path]] = value
    return [
        {"name": c.name, "connector_id": c.connector_id, "created_at": c.created_at, **{field: values.get(c.id, {}).get(field) for field in CONNECTOR_PATHS.values()}}
        for c in connectors
    ]


class ChargePointDetail(APIView):
    @extend_schema(responses={200: s.ChargePointDetail, 404: NOT_FOUND})
    def get(self, request, client_id):
        dp = visible_charge_point(request, client_id)
        return Response({**summaries(request.user, [dp])[0], "connectors": connectors_of(dp), "elements": elements_of(dp)})


class Connectors(APIView):
    @extend_schema(responses={200: s.Connector(many=True), 404: NOT_FOUND})
    def get(self, request, client_id):
        return Response(connectors_of(visible_charge_point(request, client_id)))


class Registration(APIView):
    """Approve (Accepted) or reject (Rejected): writes Config.RegistrationStatus as the panel's
    buttons do; a connected charger is told at once (accepted: TriggerMessage BootNotification)."""

    action = None

    @extend_schema(request=None, responses={200: s.RegistrationResult, 403: REFUSED, 404: NOT_FOUND})
    def post(self, request, client_id):
        dp = visible_charge_point(request, client_id, operate=True)
        status_ = REGISTRATION[self.action]
        set_value(f"{dp.name}.Config.RegistrationStatus", status_)
        audit.record(request.user, self.action, charge_point=dp, detail={"status": status_}, outcome=status_)
        return Response({"client_id": dp.client_id, "registration_status": status_})


class SiteOfChargePoint(APIView):
    """Put the charge point into a site (or none), as the panel's site page does: superusers only."""

    permission_classes = [permissions.Superuser]

    @extend_schema(request=s.SiteAssign, responses={200: s.ChargePoint, 400: s.BAD_INPUT, 403: s.Problem, 404: NOT_FOUND})
    def put(self, request, client_id):
        dp = visible_charge_point(request, client_id)
        data = s.SiteAssign(data=request.data)
        data.is_valid(raise_exception=True)
        slug, old = data.validated_data["site"], dp.site
        if slug is None:
            sites.assign(None, [dp])
            if old is not None:
                audit.record(request.user, "site_unassign", charge_point=dp, site=old, detail={"site": old.slug}, outcome=f"removed from {old.slug}")
        else:
            try:
                site = sites.get_site(slug)
            except sites.SiteError as exc:
                raise ValidationError({"site": [str(exc)]}) from None
            if dp.site_id != site.id:
                sites.assign(site, [dp])
                outcome = f"moved from {old.slug} to {site.slug}" if old else f"assigned to {site.slug}"
                audit.record(request.user, "site_assign", charge_point=dp, site=site, detail={"site": site.slug, "from": old.slug if old else ""}, outcome=outcome)
        dp = Datapoint.objects.select_related("site").get(pk=dp.pk)
        return Response(summaries(request.user, [dp])[0])


class Password(APIView):
    """A new 20-byte key (as `ocpp_password` and the panel's Password button): sent first to a
    connected, accepted charger, stored as a hash only if it accepts; returned this once."""

    @extend_schema(request=s.PasswordRequest, responses={200: s.PasswordResult, 403: REFUSED, 404: NOT_FOUND, 409: OpenApiResponse(s.Problem, "the connected charger did not take the key; the old one stays")})
    def post(self, request, client_id):
        dp = visible_charge_point(request, client_id, operate=True)
        data = s.PasswordRequest(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = set_new_key(dp, timeout=data.validated_data["timeout"])
        except KeyNotAccepted as exc:
            audit.record(request.user, "password", charge_point=dp, ok=False, outcome=str(exc))
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        audit.record(request.user, "password", charge_point=dp, detail={"sent_to_charger": result.sent_to_charger}, outcome=result.message)
        response = Response({"key": result.key_hex, "sent_to_charger": result.sent_to_charger, "message": result.message})
        response["Cache-Control"] = "no-store"
        return response


class History(generics.GenericAPIView):
    """An element's changes, newest first, between `since` and `until` (default: the last 24 hours)."""

    serializer_class = s.HistoryEntry

    @extend_schema(parameters=[s.HistoryFilters], responses={200: s.HistoryEntry(many=True), 400: s.BAD_INPUT, 404: NOT_FOUND})
    def get(self, request, client_id):
        dp = visible_charge_point(request, client_id)
        filters = s.HistoryFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = filters.validated_data
        target = dp
        if found.get("connector"):
            target = dp.connectors.filter(connector_id=found["connector"]).first()
            if target is None:
                raise ValidationError({"connector": [f"{dp.client_id} has no connector {found['connector']}"]})
        try:
            element(target.dp_type, found["path"])
        except KeyError:
            raise ValidationError({"path": [f"{target.dp_type} has no element {found['path']!r}; see docs/datapoints.md"]}) from None
        zone = sessions.zone_of(dp.site)
        now = timezone.now()
        since = _moment(found.get("since"), zone, False, "since") or now - timedelta(days=1)
        until = _moment(found.get("until"), zone, True, "until") or now
        rows = ElementChange.objects.filter(datapoint=target, path=found["path"], changed_at__gte=since, changed_at__lte=until).order_by("-changed_at", "-id")
        page = self.paginate_queryset(rows.values("value", "changed_at"))
        return self.get_paginated_response(list(page))


def _moment(text, zone, end, field):
    if not text:
        return None
    try:
        return parse_moment(text, zone, end)
    except ValueError as exc:
        raise ValidationError({field: [str(exc)]}) from None


class ElementOfChargePoint(APIView):
    """Write an element of the charge point that an operator may write (Config.*; the path
    without the datapoint, e.g. Config.MaxCurrent). Audited as the panel's writes."""

    @extend_schema(request=s.ElementWrite, responses={200: s.ElementValue, 400: s.BAD_INPUT, 403: REFUSED, 404: NOT_FOUND})
    def put(self, request, client_id, path):
        dp = visible_charge_point(request, client_id, operate=True)
        data = s.ElementWrite(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            spec = element(dp.dp_type, path)
        except KeyError:
            raise ValidationError({"path": [f"{dp.name} has no element {path!r}; see docs/datapoints.md"]}) from None
        given = data.validated_data["value"]
        full = f"{dp.name}.{path}"
        try:
            value = spec.parse("" if given is None else given if isinstance(given, str) else _as_text(given))
            set_value(full, value)  # Element.check: its range, no NUL, no integer beyond 64 bits
        except NotWritable as exc:
            raise ValidationError({"path": [str(exc)]}) from None
        except (ValueError, TypeError) as exc:
            audit.record(request.user, "element_write", charge_point=dp, target=full, detail={"path": path, "value": given}, ok=False, outcome=str(exc))
            raise ValidationError({"value": [f"{path} not changed: {exc}"]}) from None
        audit.record(request.user, "element_write", charge_point=dp, target=full, detail={"path": path, "value": value}, outcome="written")
        row = Element.objects.get(datapoint=dp, path=path)
        return Response({"datapoint": dp.name, "path": path, "value": row.value, "kind": spec.kind, "writable": spec.writable, "changed_at": row.changed_at})


def _as_text(value):
    import json

    return json.dumps(value)
