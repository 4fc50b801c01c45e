"""Id tags: the IdTagInfo answered to Authorize, StartTransaction and StopTransaction, and every
change of a tag (which moves the local authorization list on: local_list.py).

The answer, in this order (docs/decisions/0013-id-tags-local-lists-reservations.md):
  unknown tag                                   -> OCPP_UNKNOWN_ID_TAG_STATUS
  the tag's own status unless Accepted          -> that status (Blocked, Expired, Invalid)
  Accepted but past its expiry date             -> Expired
  its parent (a tag in the table) Blocked, Expired or Invalid, or past its expiry -> the parent's
  status; a parent that is not in the table is only a group name, it changes nothing
  max_concurrent_tx set and that many of its transactions still open -> ConcurrentTx
One query for all of it: the parent and the open transactions are subqueries of the tag's row.
"""
from django.conf import settings
import functools
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from . import local_list
from .models import IdTag, Transaction

REFUSING_PARENT = {"Blocked", "Expired", "Invalid"}
FIELDS = ("id", "id_tag", "status", "expiry_date", "parent_id_tag", "note", "max_concurrent_tx", "in_local_list", "list_version")


def status_at(status, expiry_date, now):
    """A stored status as it stands at `now`: Accepted past its expiry date is Expired."""
    if status == "Accepted" and expiry_date is not None and expiry_date <= now:
        return "Expired"
    return status


@functools.cache
def _sql(where, starting, count):
    """The tags `where` holds, each with its parent's status and expiry and (count=True, for a tag
    with a limit only: the CASE) its open transactions, `starting` one not counted. Plain SQL, made
    once per shape: the ORM took 0.8 ms a call to compile the same statement (measured, PostgreSQL)."""
    q = connection.ops.quote_name
    tags, transactions = q(IdTag._meta.db_table), q(Transaction._meta.db_table)
    columns = ", ".join(f"t.{q(IdTag._meta.get_field(name).column)}" for name in FIELDS)
    exclude = " AND NOT (x.charge_point_id = %s AND x.connector_id = %s AND x.started_at = %s AND x.meter_start = %s)" if starting else ""
    load = f"CASE WHEN t.max_concurrent_tx IS NULL THEN NULL ELSE (SELECT COUNT(*) FROM {transactions} x WHERE x.id_tag = t.id_tag AND x.meter_stop IS NULL{exclude}) END" if count else "NULL"
    return f"SELECT {columns}, p.status, p.expiry_date, {load} FROM {tags} t LEFT JOIN {tags} p ON p.id_tag = t.parent_id_tag WHERE {where}"


def tags_where(where, params=(), starting=None, count=True):
    """IdTag rows for the SQL condition `where` (on `t`), with parent_status, parent_expiry and
    open_tx set: one query."""
    args = [starting["charge_point_id"], starting["connector_id"], starting["started_at"], starting["meter_start"]] if starting and count else []
    with connection.cursor() as cursor:
        cursor.execute(_sql(where, bool(starting) and count, count), args + list(params))
        rows = cursor.fetchall()
    tags, n = [], len(FIELDS)
    for row in rows:
        tag = IdTag(**dict(zip(FIELDS, row[:n])))
        tag.expiry_date = _moment(tag.expiry_date)
        tag.in_local_list = bool(tag.in_local_list)
        tag.parent_status, tag.parent_expiry, tag.open_tx = row[n], _moment(row[n + 1]), row[n + 2]
        tags.append(tag)
    return tags


def _moment(value):
    """A datetime column as an aware datetime (SQLite hands back text in UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def effective_status(tag, now):
    """The status `tag` (from tags_where) answers at `now`."""
    status = status_at(tag.status, tag.expiry_date, now)
    if status != "Accepted":
        return status
    if tag.parent_status is not None:
        parent = status_at(tag.parent_status, tag.parent_expiry, now)
        if parent in REFUSING_PARENT:
            return parent
    if tag.max_concurrent_tx is not None and (tag.open_tx or 0) >= tag.max_concurrent_tx:
        return "ConcurrentTx"
    return status


def info_of(tag, now):
    """The tag's IdTagInfo (its expiry date and parent as the model gives them) with the status it
    answers at `now`."""
    return {**tag.id_tag_info(now), "status": effective_status(tag, now)}


def id_tag_info(id_tag, now, starting=None):
    """The IdTagInfo for `id_tag` at `now` (one query). `starting`: the Transaction key fields of
    the StartTransaction being answered, so a replay answers as the first copy did."""
    found = tags_where("t.id_tag = %s", [id_tag], starting)
    if not found:
        return {"status": settings.OCPP_UNKNOWN_ID_TAG_STATUS}
    return info_of(found[0], now)


def list_entry(tag, now):
    """A SendLocalList entry for `tag` (from tags_where): a tag in the list with
    its IdTagInfo (parent applied; never ConcurrentTx, which is not the list's business), one out
    of it as a removal (no idTagInfo)."""
    if not tag.in_local_list:
        return {"idTag": tag.id_tag}
    tag.max_concurrent_tx = None
    return {"idTag": tag.id_tag, "idTagInfo": info_of(tag, now)}


# --- changes ------------------------------------------------------------------------------------
LIST_FIELDS = ("status", "expiry_date", "parent_id_tag", "in_local_list")


def _touches_list(before, tag):
    """Whether a change shows in the local list: the tag is in it, or just left it."""
    return tag.in_local_list or (before is not None and before.in_local_list)


@transaction.atomic
def save_tag(tag):
    """Create or update `tag`; when the change shows in the local list, the tag (and the tags in the
    list whose parent it is) get the next list version. Race-safe: local_list.next_version()."""
    before = IdTag.objects.filter(pk=tag.pk).first() if tag.pk else None
    changed = before is None or any(getattr(before, f) != getattr(tag, f) for f in LIST_FIELDS)
    if changed and (_touches_list(before, tag) or _is_parent_in_list(tag)):
        version = local_list.next_version()
        if _touches_list(before, tag):
            tag.list_version = version
        tag.save()
        IdTag.objects.filter(parent_id_tag=tag.id_tag, in_local_list=True).update(list_version=version)
        if before is not None and before.id_tag != tag.id_tag:  # renamed: the old name leaves the list
            IdTag.objects.filter(parent_id_tag=before.id_tag, in_local_list=True).update(list_version=version)
            if before.in_local_list:
                local_list.record_removal(before.id_tag, version)
    else:
        tag.save()
    return tag


def _is_parent_in_list(tag):
    return IdTag.objects.filter(parent_id_tag=tag.id_tag, in_local_list=True).exists()


@transaction.atomic
def delete_tag(tag, user=None):
    """Delete `tag`, recorded in the audit log. If it is in the local list, its removal gets the
    next list version; the audit entry is its tombstone (local_list.py), so a differential update
    still removes it. A tag that left the list earlier keeps the version of its leaving."""
    version = local_list.next_version() if tag.in_local_list else tag.list_version
    local_list.record_removal(tag.id_tag, version, user)
    tag.delete()
