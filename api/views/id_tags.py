"""Id tags: read by every login, changed by operators of a site (datapoints.access.may_edit_id_tags).
The panel's form checks the meaning (printable tag, unique, not its own parent) and
datapoints/id_tags.py stores it (moving the local list on); audited as the panel's changes."""
from django.forms.models import model_to_dict
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from datapoints import audit, id_tags
from datapoints.models import IdTag
from panel.views.id_tags import IdTagForm, _detail

from .. import permissions, serializers as s

NOT_FOUND = OpenApiResponse(s.Problem, "no such id tag")


def _saved(given, instance=None):
    """The tag after the panel's form checked `given` (typed by IdTagIn; fields not given keep
    their value, or the model's default) and id_tags stored it."""
    data = {**model_to_dict(instance or IdTag(), fields=s.IdTagIn.Meta.fields), **given}
    form = IdTagForm(data=data, instance=instance)
    if not form.is_valid():
        raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
    return id_tags.save_tag(form.save(commit=False))


class IdTags(generics.GenericAPIView):
    serializer_class = s.IdTagOut
    permission_classes = [permissions.EditsIdTagsToWrite]

    @extend_schema(responses={200: s.IdTagOut(many=True), 400: s.BAD_INPUT})
    def get(self, request):
        page = self.paginate_queryset(IdTag.objects.order_by("id_tag"))
        return self.get_paginated_response(s.IdTagOut(page, many=True).data)

    @extend_schema(request=s.IdTagIn, responses={201: s.IdTagOut, 400: s.BAD_INPUT, 403: s.Problem})
    def post(self, request):
        data = s.IdTagIn(data=request.data)
        data.is_valid(raise_exception=True)
        tag = _saved(data.validated_data)
        audit.record(request.user, "id_tag_create", target=tag.id_tag, detail=_detail(tag))
        return Response(s.IdTagOut(tag).data, status=status.HTTP_201_CREATED)


class IdTagDetail(APIView):
    permission_classes = [permissions.EditsIdTagsToWrite]

    def _tag(self, pk):
        tag = IdTag.objects.filter(pk=pk).first()
        if tag is None:
            raise NotFound("no such id tag")
        return tag

    @extend_schema(responses={200: s.IdTagOut, 404: NOT_FOUND})
    def get(self, request, pk):
        return Response(s.IdTagOut(self._tag(pk)).data)

    @extend_schema(request=s.IdTagIn, responses={200: s.IdTagOut, 400: s.BAD_INPUT, 403: s.Problem, 404: NOT_FOUND})
    def patch(self, request, pk):
        """Change some fields (the id tag itself stays: make a new tag instead)."""
        tag = self._tag(pk)
        data = s.IdTagIn(tag, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "id_tag" in data.validated_data and data.validated_data["id_tag"] != tag.id_tag:
            raise ValidationError({"id_tag": ["a tag's id stays; make a new tag instead"]})
        tag = _saved(data.validated_data, instance=tag)
        audit.record(request.user, "id_tag_change", target=tag.id_tag, detail=_detail(tag))
        return Response(s.IdTagOut(tag).data)

    @extend_schema(responses={204: None, 403: s.Problem, 404: NOT_FOUND})
    def delete(self, request, pk):
        id_tags.delete_tag(self._tag(pk), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
