"""Time buckets for the energy counters: the day, the ISO week (from Monday) and the month of a
moment, in a site's time zone. A reading's own timestamp decides its bucket, so a late telegram
counts where it belongs (a reading of a period that has passed is not added to the current one); a
charger clock that is unreadable or further than OCPP_CHARGER_CLOCK_TRUST_HOURS (default 24) from
server time falls back to server time.
"""
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.dateparse import parse_datetime

BUCKETS = ("day", "week", "month")


@lru_cache(maxsize=256)
def zone(name):
    """The ZoneInfo of `name`; TIME_ZONE when it is empty or unknown."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def charger_time(timestamp, now):
    """A reading's time by the charger's clock (durations and rates use it); `now` when unreadable."""
    try:
        at = parse_datetime(timestamp) if isinstance(timestamp, str) else None
    except ValueError:
        at = None
    return now if at is None or at.tzinfo is None else at


def booking_time(at, now):
    """The time a reading taken at `at` (charger clock) is booked at: `at` when believable, else `now`."""
    return now if abs(at - now) > timedelta(hours=settings.OCPP_CHARGER_CLOCK_TRUST_HOURS) else at


def keys(at, tz):
    """{"day": "2026-11-21", "week": "2026-W47", "month": "2026-11"} of `at` (epoch seconds or an
    aware datetime) in `tz`."""
    epoch = at.timestamp() if isinstance(at, datetime) else at
    return _keys_of_minute(int(epoch // 60), tz)


@lru_cache(maxsize=4096)
def _keys_of_minute(minute, tz):
    # Every zone's offsets are whole minutes, so a minute lies in one day, week and month.
    local = datetime.fromtimestamp(minute * 60, tz)
    year, week, _ = local.isocalendar()
    return {"day": local.strftime("%Y-%m-%d"), "week": f"{year}-W{week:02d}", "month": local.strftime("%Y-%m")}
