"""Times typed by people into filters: a date, a date and time, or an ISO time with offset."""
from datetime import datetime, time

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def parse_moment(text, zone, end=False):
    """A typed time (`2025-05-01T10:00`, `2025-05-01 10:00:30`, an ISO time with offset, or a date:
    its start, or with end=True its end) as an aware datetime, read in `zone` when it has no
    offset; ValueError says what to type."""
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise ValueError(f"{text!r} is not a time: use YYYY-MM-DD HH:MM")
    if day is not None:
        moment = datetime.combine(day, time.max if end else time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, zone)
