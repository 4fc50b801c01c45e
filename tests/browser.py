"""Browser-test helpers: Debian's Chromium through pytest-playwright (sync API), with the test
chargers running on an event loop of their own in a background thread."""
import asyncio
import os
import threading

from django.contrib.auth.models import User

from .chargers import connected_library_charger

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls there
# unless told that this (test-only) use is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PASSWORD = "browser-test-pw-1"


class ChargerLoop:
    """An asyncio loop in a thread, for chargers that live while the browser test goes on."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.open = []

    def run(self, coroutine, timeout=30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def connect(self, server, client_id, charger_class=None):
        """A connected `ocpp` package charger (LibraryCharger by default)."""
        context = connected_library_charger(server, client_id, charger_class=charger_class)
        charger = self.run(context.__aenter__())
        self.open.append(context)
        return charger

    def disconnect(self, charger):
        for context in list(self.open):
            if context.cp is charger:
                self.run(context.__aexit__(None, None, None))
                self.open.remove(context)

    def close(self):
        for context in self.open:
            try:
                self.run(context.__aexit__(None, None, None), timeout=5)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def log_in(page, server, username, superuser=False):
    """Create the user (if needed) and log in through the login form."""
    if not User.objects.filter(username=username).exists():
        if superuser:
            User.objects.create_superuser(username, password=PASSWORD)
        else:
            User.objects.create_user(username, password=PASSWORD)
    page.goto(server.http + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.http + "/")


def screenshots(page, directory, name):
    """Full-page PNGs of the page at 1280x800 and at 800x1100 (a tablet) into `directory`, as
    `<name>-<width>x<height>.png`; nothing when `directory` is empty (set it to look at a page)."""
    if not directory:
        return
    for width, height in ((1280, 800), (800, 1100)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=os.path.join(directory, f"{name}-{width}x{height}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def off_loop(function, *args, **kwargs):
    """Call `function` in a thread of its own: code that publishes change events uses async_to_sync,
    which refuses to run in this thread while Playwright's event loop runs in it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result(30)
