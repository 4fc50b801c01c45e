"""Times typed by people into filters: a date, a date and time, or an ISO time with offset."""
from datetime import datetime, time
from datetime import timezone as dt_timezone

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# The times a database is asked about: a day inside datetime's range on each side, so that the
# moment in UTC (SQLite stores UTC text), in any zone, a day later or earlier still exists.
EARLIEST = datetime(1, 1, 2, tzinfo=dt_timezone.utc)
LATEST = datetime(9999, 12, 30, tzinfo=dt_timezone.utc)


def parse_moment(text, zone, end=False):
    """A typed time (`2025-05-01T10:00`, `2025-05-01 10:00:30`, an ISO time with offset, or a date:
    its start, or with end=True its end) as an aware datetime, read in `zone` when it has no
    offset; ValueError says what to type, or that it is out of range (_check_in_range)."""
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise ValueError(f"{text!r} is not a time: use YYYY-MM-DD HH:MM")
    if day is not None:
        moment = datetime.combine(day, time.max if end else time.min)
    try:
        moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment, zone)
    except OverflowError:
        moment = None
    return _check_in_range(moment, text)


def in_range(moment):
    """Whether an aware datetime lies between EARLIEST and LATEST (its UTC conversion exists)."""
    try:
        return moment is not None and EARLIEST <= moment.astimezone(dt_timezone.utc) <= LATEST
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        return False


def _check_in_range(moment, text):
    """`moment`, or ValueError saying the range: 0001-01-01T00:00+01:00 and 9999-12-31T23:59-05:00
    were an OverflowError in SQLite's adapter (a 500, or a hung download once a CSV had begun)."""
    if not in_range(moment):
        raise ValueError(f"{text!r} is out of range: give a time between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}")
    return moment


def range_validator(moment):
    """For a form's DateTimeField: the same check as a field error."""
    from django.core.exceptions import ValidationError

    if moment is not None and not in_range(moment):
        raise ValidationError(f"out of range: give a time between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}")
