"""Sites own charge points; operators get rights per site. Used by the CLI and the panel.

Assigning a charge point writes its `Config.Site` element (the site's slug), so the site is
readable by path and its changes are in the history like any other element's.
"""
import zoneinfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from .elements import CHARGE_POINT
from .events import publish_on_commit
from .models import Datapoint, Site, SiteRole
from .writes import write_elements


class SiteError(ValueError):
    """What was wrong, said so that the operator knows what to type instead."""


def check_time_zone(name):
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SiteError(f"unknown time zone {name!r}; use an IANA name such as Europe/Vienna or UTC") from None
    return name


# Taken by the panel's own pages under /sites/ (a site with that slug could not be opened there).
RESERVED_SLUGS = {"operators"}
SLUG_MAX = Site._meta.get_field("slug").max_length
NAME_MAX = Site._meta.get_field("name").max_length


def check_slug(slug):
    if not slug:
        raise SiteError("a site needs a slug: lower-case letters, digits and hyphens, e.g. 'plant-a'")
    if slugify(slug) != slug:
        raise SiteError(f"{slug!r} is not a slug; use lower-case letters, digits and hyphens, e.g. {slugify(slug) or 'plant-a'!r}")
    if len(slug) > SLUG_MAX:
        raise SiteError(f"{slug!r} is {len(slug)} characters long; a slug has at most {SLUG_MAX}")
    if slug in RESERVED_SLUGS:
        raise SiteError(f"{slug!r} is taken by the panel's pages; choose another slug")
    return slug


def check_name(name):
    if len(name) > NAME_MAX:
        raise SiteError(f"the name is {len(name)} characters long; at most {NAME_MAX}")
    return name


def create_site(slug, name="", time_zone="UTC", notes=""):
    check_slug(slug)
    check_name(name)
    check_time_zone(time_zone)
    if Site.objects.filter(slug=slug).exists():
        raise SiteError(f"a site {slug!r} exists already")
    return Site.objects.create(slug=slug, name=name or slug, time_zone=time_zone, notes=notes)


CHARGER_DEFAULTS = ("auto_create", "new_charge_point_status", "heartbeat_interval")


def change_site(site, name, time_zone, notes, **charger_defaults):
    """Set a site's name, time zone, notes and any of CHARGER_DEFAULTS (the slug stays: Config.Site
    and URLs use it). Returns {field: [old, new]} of what changed."""
    check_name(name)
    check_time_zone(time_zone)
    unknown = set(charger_defaults) - set(CHARGER_DEFAULTS)
    if unknown:
        raise SiteError(f"no site setting {', '.join(sorted(unknown))}; settings: {', '.join(CHARGER_DEFAULTS)}")
    new = {"name": name or site.slug, "time_zone": time_zone, "notes": notes, **charger_defaults}
    changes = {field: [getattr(site, field), value] for field, value in new.items() if getattr(site, field) != value}
    if changes:
        for field, (_old, value) in changes.items():
            setattr(site, field, value)
        site.save(update_fields=list(changes))
    return changes


def get_site(slug):
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        known = ", ".join(Site.objects.values_list("slug", flat=True)) or "none yet (site_create SLUG)"
        raise SiteError(f"no site {slug!r}; sites: {known}")
    return site


def assign(site, charge_points):
    """Put charge points into `site` (None: into no site). Each is in at most one site."""
    with transaction.atomic():
        charge_points, changes = place(site, charge_points)
        publish_on_commit(changes)
    return charge_points


def place(site, charge_points):
    """`assign` without announcing it: -> (charge points, [Change]) for the caller to publish after
    its transaction commits (the handshake gate does, with the rest of its batch)."""
    charge_points = [dp for dp in charge_points if dp.dp_type == CHARGE_POINT]
    Datapoint.objects.filter(id__in=[dp.id for dp in charge_points]).update(site=site)
    for dp in charge_points:
        dp.site = site
    return charge_points, write_elements([(dp, "Config.Site", site.slug if site else "") for dp in charge_points])


def role_of(user, site):
    """The user's role on `site` (viewer, operator) or None."""
    return SiteRole.objects.filter(user=user, site=site).values_list("role", flat=True).first()


def set_role(user, site, role):
    """Give `user` `role` on `site` (None removes the right)."""
    if role is None:
        SiteRole.objects.filter(user=user, site=site).delete()
        return None
    if role not in (SiteRole.VIEWER, SiteRole.OPERATOR):
        raise SiteError(f"role must be viewer or operator, not {role!r}")
    return SiteRole.objects.update_or_create(user=user, site=site, defaults={"role": role})[0]


def create_operator(username, password, sites, role=SiteRole.VIEWER):
    """A login with `role` on each of `sites` (a user that exists keeps its password unless one is given)."""
    User = get_user_model()
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username)
        if password:
            user.set_password(password)
            user.save()
        elif created:
            raise SiteError("a new operator needs a password")
        for site in sites:
            set_role(user, site, role)
    return user, created
