"""A site's max current on its page (/sites/<slug>/): the form and each charge point's share.

The box is loaded into the site page by htmx (GET); the form posts here. Setting the limit stores
it, records it in the audit log and re-divides the shares off the request (datapoints/charging/
site_limit.py); the page shows what each charger got once they answer. Superusers only, like the
rest of /sites/.
"""
from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from datapoints import audit
from datapoints.charging import site_limit
from datapoints.models import Site

from .sites import superuser_only


class SiteLimitForm(forms.Form):
    max_current = forms.CharField(
        label="Max current (A)",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8, "autocomplete": "off"}),
        help_text="Amps shared equally by the site's charging connectors, each charge point capped by its Config.MaxCurrent; empty: no limit.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)

    def clean_max_current(self):
        try:
            return site_limit.parse_amps(self.cleaned_data["max_current"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@superuser_only
def site_limit_box(request, slug):
    site = get_object_or_404(Site, slug=slug)
    if request.method == "POST":
        return _set(request, site)
    form = SiteLimitForm(initial={"max_current": "" if site.max_current is None else f"{site.max_current:g}"})
    return render(request, "panel/site_limit.html", {"site": site, "form": form, "rows": site_limit.overview(site)})


def _set(request, site):
    form = SiteLimitForm(request.POST)
    if not form.is_valid():
        error = " ".join(form.errors["max_current"])
        audit.record(request.user, "site_limit", site=site, target=site.slug, detail={"max_current": request.POST.get("max_current", "")[:40]}, ok=False, outcome=error)
        messages.error(request, f"{site.slug}: max current not changed: {error}")
        return redirect("panel:site", slug=site.slug)
    amps = form.cleaned_data["max_current"]
    old = site_limit.set_limit(site, amps)
    audit.record(request.user, "site_limit", site=site, target=site.slug, detail={"max_current": [old, amps]}, outcome="set")
    site_limit.redivide_soon(site.id)
    said = f"{amps:g} A, shared by its charging connectors" if amps is not None else "no limit"
    messages.success(request, f"{site.slug}: max current {said}. The chargers' shares are being applied; their answers show below.")
    return redirect("panel:site", slug=site.slug)


urlpatterns = [path("sites/<slug:slug>/max-current", site_limit_box, name="site-limit")]
