"""Showing element values: one format on the server here, the same in static/panel/live.js."""
import json
from datetime import datetime

from django import template
from django.utils.html import format_html

register = template.Library()
LONG = 160


@register.filter
def show(value):
    """An element value as text: — for none, JSON for structures (shortened), as is otherwise."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(", ", ": "))
        return text if len(text) <= LONG else text[: LONG - 1] + "…"
    return str(value)


@register.filter
def pretty(value):
    return json.dumps(value, indent=2) if isinstance(value, (dict, list)) else show(value)


@register.simple_tag
def when(value):
    """A time (datetime or ISO text) as <time>, shown in the browser's time zone by live.js."""
    if not value:
        return "—"
    iso = value.isoformat() if isinstance(value, datetime) else str(value)
    shown = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else iso.replace("T", " ")[:19]
    return format_html('<time datetime="{}">{}</time>', iso, shown)


@register.filter
def is_time(kind):
    return kind == "time"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def make_list_words(text):
    return text.split()
