"""Browser tests: a live Harbour on 127.0.0.1 and one headless Chromium per run.

The live server has its own seeded SQLite database, so these tests opt out of
the rolled-back transaction of ``tests/conftest.py`` (mark them ``no_db``): that
fixture swaps ``db.session`` for the whole process, which would point the
server's request threads at the wrong database.

Fixtures for tests:

* ``live_server``: the server (``.url``, ``.app``, ``.password``).
* ``check_page(path, locale)``: opens a page with JavaScript on, fails on any
  request to another origin, any Content-Security-Policy violation and any
  serious or critical axe-core finding; returns a ``VisitedPage``.
* ``no_js_page(path, locale)``: opens a page with JavaScript off (Tor
  Browser's safest mode); fails on any request to another origin.
* ``new_context(locale, javascript)``: a fresh browser context for journeys
  that need several pages or a sign-in.

Every HTML page the live server sends during the run is kept
(``live_server.html_pages``); ``test_valid_html.py`` runs last and checks them
all with the W3C Nu checker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import base_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "browser-demo-password"

# What a browser sends for each locale.
# A phone's viewport, where axe runs a second time.
PHONE = {"width": 390, "height": 844}

ACCEPT_LANGUAGE = {"en": "en", "zh_Hant_HK": "zh-HK,zh;q=0.9"}
BROWSER_LOCALE = {"en": "en-GB", "zh_Hant_HK": "zh-HK"}

# axe-core as bundled by axe-playwright-python (no network needed). The site's
# CSP allows only same-origin scripts, so axe is served from a same-origin path
# that the browser context intercepts; the app never sees this path.
AXE_SOURCE = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
AXE_PATH = "/__browser-tests__/axe.min.js"
AXE_BLOCKING_IMPACTS = ("serious", "critical")

# Schemes that load nothing from the network.
LOCAL_SCHEMES = ("data", "blob", "about")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "no_db: the test does not use the rolled-back test database session"
    )


@pytest.fixture(autouse=True)
def _browser_tests_opt_out_of_db_session(request) -> None:
    if "no_db" not in request.keywords:
        pytest.fail(
            "browser tests must be marked pytest.mark.no_db: the rolled-back db_session "
            "would redirect the live server's queries"
        )


@dataclass
class HtmlPage:
    """One HTML response of the live server, as the browser received it."""

    method: str
    path: str
    status: str
    body: bytes


class HtmlRecorder:
    """WSGI middleware that keeps a copy of every text/html response."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.pages: list[HtmlPage] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        seen: dict = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status
            seen["type"] = next((v for k, v in headers if k.lower() == "content-type"), "")
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, recording_start_response)
        if not seen.get("type", "").startswith("text/html") or environ["REQUEST_METHOD"] == "HEAD":
            return body
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        with self.lock:
            self.pages.append(HtmlPage(environ["REQUEST_METHOD"], path, seen["status"],
                                       b"".join(chunks)))
        return chunks


def pytest_collection_modifyitems(config, items) -> None:
    """The HTML check runs after every other browser test, to see all their pages."""
    last = [item for item in items if item.nodeid.startswith("tests/browser/test_valid_html.py")]
    if last:
        items[:] = [item for item in items if item not in last] + last


@dataclass
class LiveServer:
    url: str
    app: object
    password: str
    html_pages: list[HtmlPage] = field(default_factory=list)

    def origin_of(self, url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def origin(self) -> str:
        return self.origin_of(self.url)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    from flask_migrate import upgrade

    from community import cli, create_app
    from community.extensions import db

    database = tmp_path_factory.mktemp("browser-db") / "harbour-browser.sqlite"
    config = base_config(f"sqlite:///{database}")
    config.update({
        # Plain http on 127.0.0.1: no Secure cookie and no __Host- prefix.
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_NAME": "harbour_session",
        "REMEMBER_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_NAME": "harbour_remember",
        "TRUSTED_HOSTS": ["127.0.0.1", "localhost"],
        # No worker runs beside this server: queued work (a publication's
        # emails) runs in the request that queues it.
        "HUEY_IMMEDIATE": True,
    })
    app = create_app(config)
    with app.app_context():
        upgrade()
        cli.seed_demo(DEMO_PASSWORD)
        db.session.commit()

    recorder = HtmlRecorder(app.wsgi_app)
    app.wsgi_app = recorder
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.port}"
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app, password=DEMO_PASSWORD, html_pages=recorder.pages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class VisitedPage:
    """A page opened by ``check_page`` or ``no_js_page``, for further assertions."""

    page: object  # playwright.sync_api.Page
    response: object  # playwright.sync_api.Response of the navigation
    requests: list[str] = field(default_factory=list)  # every URL the context asked for
    csp_violations: list[str] = field(default_factory=list)
    axe_violations: list[dict] = field(default_factory=list)  # every impact, for the curious

    @property
    def status(self) -> int:
        return self.response.status


class PageOpener:
    """Opens pages in fresh contexts and watches what they request."""

    def __init__(self, browser, server: LiveServer) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list = []

    def new_context(self, locale: str = "en", *, javascript: bool = True):
        if locale not in ACCEPT_LANGUAGE:
            raise ValueError(f"unknown locale {locale!r}; use one of {sorted(ACCEPT_LANGUAGE)}")
        context = self.browser.new_context(
            base_url=self.server.url,
            java_script_enabled=javascript,
            locale=BROWSER_LOCALE[locale],
            extra_http_headers={"Accept-Language": ACCEPT_LANGUAGE[locale]},
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return context

    def open(self, path: str, locale: str, *, javascript: bool) -> VisitedPage:
        context = self.new_context(locale, javascript=javascript)
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        csp: list[str] = []
        page.on(
            "console",
            lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        response = page.goto(path, wait_until="load")
        assert response is not None, f"no response for {path}"
        visited = VisitedPage(page=page, response=response, requests=requests, csp_violations=csp)
        if javascript:
            # axe at the desktop width, then at a phone's (390 px): both must be clean.
            visited.axe_violations = self.run_axe(page)
            desktop = page.viewport_size
            page.set_viewport_size(PHONE)
            visited.axe_violations += [violation | {"help": f"{violation['help']} (at 390 px)"}
                                       for violation in self.run_axe(page)]
            if desktop:
                page.set_viewport_size(desktop)
        self.assert_same_origin(path, requests)
        return visited

    def assert_same_origin(self, path: str, requests: list[str]) -> None:
        foreign = [
            url for url in requests
            if urlsplit(url).scheme not in LOCAL_SCHEMES
            and self.server.origin_of(url) != self.server.origin
        ]
        assert not foreign, f"{path} made requests to other origins: {foreign}"

    def run_axe(self, page) -> list[dict]:
        axe_url = self.server.url + AXE_PATH
        page.route(
            axe_url,
            lambda route: route.fulfill(
                status=200, content_type="application/javascript", body=AXE_SOURCE
            ),
        )
        page.add_script_tag(url=axe_url)
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        page.unroute(axe_url)
        return results["violations"]

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}"
                     f" <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html']}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


@pytest.fixture
def page_opener(browser, live_server) -> Iterator[PageOpener]:
    opener = PageOpener(browser, live_server)
    yield opener
    opener.close()


@pytest.fixture
def new_context(page_opener) -> Callable[..., object]:
    """``new_context(locale="en", javascript=True)``: a fresh, cookie-less context."""
    return page_opener.new_context


@pytest.fixture
def check_page(page_opener) -> Callable[..., VisitedPage]:
    """``check_page(path, locale="en")`` with JavaScript on; see the module docstring."""

    def check(path: str, locale: str = "en") -> VisitedPage:
        visited = page_opener.open(path, locale, javascript=True)
        assert not visited.csp_violations, (
            f"{path} broke its Content-Security-Policy: {visited.csp_violations}"
        )
        blocking = [v for v in visited.axe_violations if v["impact"] in AXE_BLOCKING_IMPACTS]
        assert not blocking, (
            f"axe found serious or critical problems on {path} ({locale}):\n"
            + describe_violations(blocking)
        )
        return visited

    return check


@pytest.fixture
def no_js_page(page_opener) -> Callable[..., VisitedPage]:
    """``no_js_page(path, locale="en")`` with JavaScript off; fails on foreign requests."""

    def open_without_js(path: str, locale: str = "en") -> VisitedPage:
        return page_opener.open(path, locale, javascript=False)

    return open_without_js
