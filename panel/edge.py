"""Text no panel page can use: a NUL character (PostgreSQL refuses it in every text and jsonb
value, so a query or a write holding one was a 500). No ClientId, datapoint name, slug or element
path holds one: a NUL in the URL is a 404; in a filter or a form field, a 400 saying so. Every
panel route is wrapped here (panel/urls.py), sync and async views alike. A NUL spelled \\u0000 in
JSON text (a schedule's or a command's payload) is checked where the JSON is read
(datapoints.values)."""
import functools
import inspect

from asgiref.sync import sync_to_async
from django.http import Http404
from django.shortcuts import render

from datapoints.values import has_nul

NUL_TEXT = "Text may not contain the NUL character (\\u0000): remove it and try again."


def _refusal(request, kwargs):
    if has_nul(*kwargs.values()):
        raise Http404("no such page")
    for data in (request.GET, request.POST):
        for name, values in data.lists():
            if has_nul(name, *values):
                return render(request, "panel/bad_input.html", {"why": f"{name}: {NUL_TEXT}"}, status=400)
    return None


def refuse_nul(view):
    """`view` answering 404 / 400 instead of passing a NUL on."""
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            return await sync_to_async(_refusal)(request, kwargs) or await view(request, *args, **kwargs)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        return _refusal(request, kwargs) or view(request, *args, **kwargs)

    return wrapper


def guard(urlpatterns):
    """Wrap every route's view in refuse_nul; returns the list."""
    for pattern in urlpatterns:
        pattern.callback = refuse_nul(pattern.callback)
    return urlpatterns
