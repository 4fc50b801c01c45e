"""`{% active_reservations dp as rows %}`: a charge point's active reservations, for its page."""
from django import template

from datapoints.models import Reservation

register = template.Library()


@register.simple_tag
def active_reservations(dp):
    return list(Reservation.objects.filter(charge_point=dp, status__in=Reservation.ACTIVE).order_by("connector_id", "expiry_date"))
