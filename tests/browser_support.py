"""Headless Chromium for the operator-dashboard browser tests (not a test module itself).

The browser is Debian's ``chromium`` at /usr/bin/chromium, driven by Playwright for
Python; ``playwright install`` is never needed (nor run). Without the browser or the
``playwright`` package every browser test is skipped, so ``make test`` still passes on a
laptop that has neither.

Import ``chromium_browser`` and ``browser_visit`` into a test module to get the fixtures
``browser`` (one Chromium per module) and ``visit`` (a fresh context - cookies, storage,
cache - and page per test, on the live server). Pages only ever reach the live server
on localhost: Chromium's resolver refuses every other name, and a route aborts (and the
test reports) any request that still tries to leave.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the dev extra is not installed
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("VERIFYAI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Nothing but the live server resolves: no update checks, safe browsing or fonts from afar.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1"}
TIMEOUT_MS = 15_000
SCREENSHOT_DIR_ENV = "VERIFYAI_SCREENSHOT_DIR"


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if sync_playwright is None:
        return (
            "the playwright package is not installed; pip install -e '.[dev]' "
            "to run the dashboard browser tests"
        )
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM}; install Debian's chromium package "
            "(apt-get install chromium) to run the dashboard browser tests"
        )
    return None


@pytest.fixture(scope="module", name="browser")
def chromium_browser() -> Iterator[Browser]:
    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    # Playwright's sync API keeps an asyncio loop running in this thread, so Django would
    # refuse ORM calls from the test (SynchronousOnlyOperation). Nothing here is async:
    # allow them while this module's browser is up, and restore the environment afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()  # type: ignore[misc]
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@dataclass
class Traffic:
    """What the page asked for that did not work."""

    failed: list[str] = field(default_factory=list)  # 4xx/5xx answers and network failures
    blocked: list[str] = field(default_factory=list)  # requests to anything but localhost
    static_ok: list[str] = field(default_factory=list)  # /static/ files served

    def failed_static(self) -> list[str]:
        return [entry for entry in self.failed if f" {settings.STATIC_URL}" in entry]


@dataclass
class Visit:
    page: Page
    traffic: Traffic
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(name="visit")
def browser_visit(browser, live_server, transactional_db) -> Iterator[Visit]:
    """A fresh browser context on the live server, its traffic watched."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    traffic = Traffic()

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            traffic.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()

    def on_response(response: Any) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400:
            traffic.failed.append(f"{response.status} {path}")
        elif path.startswith(settings.STATIC_URL):
            traffic.static_ok.append(path)

    page.on("response", on_response)
    def on_request_failed(request: Any) -> None:
        if request.failure == "net::ERR_ABORTED" and request.resource_type in ("xhr", "fetch"):
            return  # the page cancelled it, e.g. select2 dropping a search typed over
        traffic.failed.append(f"{request.failure} {urlsplit(request.url).path}")

    page.on("requestfailed", on_request_failed)
    try:
        yield Visit(page=page, traffic=traffic, base_url=live_server.url)
    finally:
        context.close()
    assert not traffic.blocked, f"the page tried to leave localhost: {traffic.blocked}"


def log_in_as(visit: Visit, user: User) -> None:
    """Skip the login form: hand the browser the session cookie of a logged-in user."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    visit.page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": visit.base_url}]
    )


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG into $VERIFYAI_SCREENSHOT_DIR (nothing when it is unset)."""
    directory = os.environ.get(SCREENSHOT_DIR_ENV)
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def natural_width(page: Page, selector: str) -> int:
    """The decoded width of an <img>, once it has finished loading (0 if it is broken)."""
    image = page.locator(selector)
    image.wait_for(state="attached")
    return image.evaluate(
        """img => img.complete ? img.naturalWidth : new Promise(done => {
            img.addEventListener("load", () => done(img.naturalWidth), {once: true});
            img.addEventListener("error", () => done(0), {once: true});
        })"""
    )


def assert_admin_is_styled(visit: Visit) -> None:
    """The admin's CSS was served (no 404s under /static/) and applied to the header."""
    assert not visit.traffic.failed_static(), visit.traffic.failed_static()
    assert any(path.endswith(".css") for path in visit.traffic.static_ok), visit.traffic.static_ok
    background = visit.page.locator("#header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), f"unstyled header: {background}"
