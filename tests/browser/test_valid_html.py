"""Every page the browser tests load is valid HTML, in both languages (W3C Nu checker).

The live server keeps a copy of each HTML response it sends
(``conftest.HtmlRecorder``); this test runs after all other browser tests
(``conftest.pytest_collection_modifyitems``), so it checks every page, form
error state and journey step they produced, plus the main public pages in both
languages when it runs alone. The Nu checker starts slowly, so all pages go to
one ``java -jar vnu.jar`` call.

vnu.jar: ``HARBOUR_VNU_JAR``, else the ``vnu-jar`` npm package installed by
``.ci/run`` (``npm install --no-save --prefix .vnu vnu-jar``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess  # noqa: S404 (runs java on our own files, no shell)
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from community.auth.models import User
from community.events.models import Event
from community.extensions import db
from community.hubs.models import Hub, Membership
from community.updates.models import Update

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

ROOT = Path(__file__).resolve().parents[2]
JAR_PLACES = (
    ROOT / ".vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar",
    ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar",
    Path("/usr/share/java/vnu.jar"),
)
PUBLIC_PATHS = ("/", "/events", "/hubs", "/hubs/london", "/chapters/uk",
                "/events?chapter=uk&language=yue", "/hubs?q=london", "/sign-in", "/sign-up",
                "/no-such-page")
LOCALES = ("en", "zh_Hant_HK")
# Pages no other browser test opens, by who opens them ({event}, {update},
# {membership} and {user} are filled in from the demo data).
LEAD_PATHS = ("/hubs/{hub}/events", "/hubs/{hub}/events/new", "/hubs/{hub}/updates/new",
              "/hubs/{hub}/moderation", "/hubs/{hub}/organise/members/{membership}/role",
              "/events/{event}/edit", "/events/{event}/attendees",
              "/events/{event}/attendees/message", "/events/{event}/checkin",
              "/events/{event}/invites", "/updates/{update}", "/updates/{update}/edit",
              "/account/calendar", "/account/rsvp-access", "/account/email",
              "/account/password", "/account/delete")
ADMIN_PATHS = ("/admin/hubs/{hub}/lead", "/admin/chapters/uk", "/admin/chapters/new",
               "/admin/users/{user}", "/admin/users/{user}/grant",
               "/chapters/uk/updates/new")
# Forms sent empty, for their error states: (who, path).
EMPTY_FORMS = (("anyone", "/sign-up"), ("anyone", "/sign-in"), ("anyone", "/reset-password"),
               ("lead", "/hubs/{hub}/events/new"), ("lead", "/hubs/{hub}/updates/new"),
               ("lead", "/account/password"), ("lead", "/account/email"),
               ("lead", "/hubs/register"), ("lead", "/events/{event}/attendees/message"),
               ("admin", "/admin/chapters/new"), ("admin", "/admin/hubs/{hub}/lead"))
# Each language is read by a lead whose account is in that language.
LEADS = {"en": "lead.manchester@example.org", "zh_Hant_HK": "lead.london@example.org"}
HTML_LANG = re.compile(rb"<html[^>]*\blang=\"([^\"]+)\"")


def vnu_jar() -> Path:
    configured = os.environ.get("HARBOUR_VNU_JAR")
    candidates = [Path(configured)] if configured else list(JAR_PLACES)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail("the W3C Nu checker is missing: run `npm install --no-save --prefix .vnu "
                "vnu-jar` (as .ci/run does) or set HARBOUR_VNU_JAR to a vnu.jar")


def run_nu_checker(jar: Path, files: list[Path]) -> list[dict]:
    java = shutil.which("java") or pytest.fail("the Nu checker needs Java (17 or later)")
    result = subprocess.run(  # noqa: S603
        [java, "-jar", str(jar), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    try:
        report = json.loads(result.stderr or result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the Nu checker did not answer in JSON:\n{result.stderr[-2000:]}")
    return [m for m in report["messages"] if m.get("type") in ("error", "non-document-error")]


def sign_in(live_server, page_opener, email: str, locale: str):
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.totp_secret = user.totp_secret or pyotp.random_base32()
        user.totp_last_timecode = None  # a second sign-in in the same 30 s is no replay
        secret = user.totp_secret
        db.session.commit()
    page = page_opener.new_context(locale, javascript=False).new_page()
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()
    return page


def demo_ids(live_server, email: str) -> dict[str, str]:
    """The lead's hub, one of its events, updates and memberships."""
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
        hub = db.session.get(Hub, membership.hub_id)
        event = db.session.scalar(select(Event).where(Event.hub_id == hub.id).limit(1))
        update = db.session.scalar(select(Update).where(Update.hub_id == hub.id).limit(1))
        return {"hub": hub.slug, "event": event.public_id, "membership": membership.public_id,
                "update": update.public_id if update else "", "user": user.public_id}


def visit(page, paths, ids) -> None:
    for path in paths:
        if "{update}" in path and not ids["update"]:
            continue
        response = page.goto(path.format(**ids))
        assert response is not None and response.status == 200, path


def send_empty_forms(page, who: str, ids) -> None:
    for form_owner, path in EMPTY_FORMS:
        if form_owner != who:
            continue
        page.goto(path.format(**ids))
        with page.expect_navigation():
            page.locator("main form:not([role=search]) button[type=submit]").last.click()


def test_every_page_the_browser_tests_load_is_valid_html(live_server, page_opener, tmp_path):
    jar = vnu_jar()
    for locale in LOCALES:
        for path in PUBLIC_PATHS:
            page_opener.open(path, locale, javascript=False)
        ids = demo_ids(live_server, LEADS[locale])
        send_empty_forms(page_opener.new_context(locale, javascript=False).new_page(),
                         "anyone", ids)
        lead = sign_in(live_server, page_opener, LEADS[locale], locale)
        visit(lead, LEAD_PATHS, ids)
        send_empty_forms(lead, "lead", ids)
        admin = sign_in(live_server, page_opener, "admin@example.org", locale)
        visit(admin, ADMIN_PATHS, ids)
        send_empty_forms(admin, "admin", ids)
    assert any(page.method == "POST" for page in live_server.html_pages)
    pages = list(live_server.html_pages)
    languages = {m.group(1).decode() for p in pages if (m := HTML_LANG.search(p.body))}
    assert {"en", "zh-Hant-HK"} <= languages, f"pages in both languages: {languages}"

    files = {}
    for number, page in enumerate(pages):
        file = tmp_path / f"page-{number:04d}.html"
        file.write_bytes(page.body)
        files[file] = page
    errors = run_nu_checker(jar, list(files))
    page_of = {file.as_uri(): page for file, page in files.items()}

    # One line per kind of problem ("Duplicate ID “…”"), with an example and its pages.
    by_problem: dict[str, list[tuple[str, str]]] = {}
    for error in errors:
        page = page_of.get(error.get("url", "").replace("file:/", "file:///", 1))
        where = f"{page.method} {page.path} ({page.status})" if page else error.get("url", "?")
        kind = re.sub(r"“[^”]*”", "“…”", error["message"])
        by_problem.setdefault(kind, []).append((where, error.get("extract", "").strip()))
    report = [
        f"{kind}\n    e.g. {found[0][1]!r}\n    on {len({w for w, _ in found})} page(s), such as "
        f"{sorted({w for w, _ in found})[:4]}"
        for kind, found in sorted(by_problem.items())
    ]
    if errors:
        pytest.fail(f"the Nu checker found {len(errors)} error(s) on {len(pages)} pages:\n"
                    + "\n".join(report), pytrace=False)
