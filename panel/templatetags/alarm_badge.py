"""`{% unacknowledged_alarms %}`: the nav's count of active alarms nobody acknowledged yet."""
from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def unacknowledged_alarms(context):
    request = context.get("request")
    if request is None or not getattr(request, "user", None):
        return 0
    from panel.views.alarms import unacknowledged_count

    return unacknowledged_count(request.user)
