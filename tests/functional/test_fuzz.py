"""Bad input never answers 500: a property-based walk over every URL rule.

A small world (chapter, hubs, events, updates, a comment, a report, invites and
people in each role) is seeded once per test. Each example picks a rule from
``app.url_map``, fills its path variables with real ids or junk, signs in as a
visitor, member, organiser or site admin (both with two-factor), and sends
random values in the query string (GET) or in a form with a valid CSRF token
(POST). Every answer must be below 500. Each example runs inside a savepoint
that is rolled back, so one example's deletions do not starve the next.

``HARBOUR_FUZZ_EXAMPLES`` raises the number of examples for a longer run.
"""

from __future__ import annotations

import os
import random
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import available_timezones

import pyotp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from community.extensions import db, limiter
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_update,
    make_user,
)
from tests.conftest import CSRF_FIELD, login_as

EXAMPLES = int(os.environ.get("HARBOUR_FUZZ_EXAMPLES", "150"))
ROLES = ("visitor", "member", "organiser", "admin")

# Values that have broken, or could break, a parser, a database or a formatter.
NASTY = (
    "", " ", "0", "-1", "1", "7", "y", "on", "true", "null", "None", "nan", "inf", "-inf",
    "1e309", "9" * 40, "-" + "9" * 40, str(2**63), str(-(2**63) - 1), str(2**31),
    "9999-12-31", "0001-01-01", "0000-00-00", "2024-02-30", "2025-13-01", "10000-01-01",
    "2025-06-01T25:61", "9999-12-31T23:59", "0001-01-01T00:00", "2025-03-30T01:30",
    "Factory", "localtime", "UTC", "Europe/London", "Asia/Hong_Kong", "asia/hong kong",
    "posixrules", "right/UTC", "Etc/GMT+12", "../../etc/passwd", "a\x00b", "\x00",
    "\ud7ff", "\u202e", "\r\n", "<script>", "%", "%00", "'; --", "é" * 300, "x" * 5000,
    "http://evil.example/", "//evil.example", "/events", "yue", "en", "cmn", "zh_Hant_HK",
    "in_person", "online", "hybrid", "members", "public", "attendees", "invite", "going",
    "waitlisted", "declined", "organiser", "lead", "member", "coordinator", "all",
)

# Query parameters the views read, besides the fields of forms fed from the query string.
QUERY_NAMES = ("q", "page", "tz", "next", "chapter", "hub", "mode", "language", "from",
               "to", "show", "new", "action", "actor", "since", "until", "role", "status")


def form_field_names() -> list[str]:
    """Every field name of every form class in the app, as forms and filters use them."""
    from flask_wtf import FlaskForm

    names: set[str] = set()
    stack = list(FlaskForm.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        names.update(name for name in dir(cls) if isinstance(getattr(cls, name, None),
                                                             UnboundField))
    return sorted(names)


class FormHarvester(HTMLParser):
    """The forms and links of a page: {(method, action path): {field name: sample values}}.

    A link's query string counts as a GET form, so ``?page=2`` and ``?tz=`` are fuzzed too."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._current: dict[str, list[str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        if tag == "form":
            method = (attr.get("method") or "get").upper()
            action = urlsplit(attr.get("action") or "").path or self.page_path
            self._current = self.forms.setdefault((method, action), {})
        elif tag == "a" and "?" in (attr.get("href") or ""):
            parts = urlsplit(attr["href"])
            fields = self.forms.setdefault(("GET", parts.path or self.page_path), {})
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                fields.setdefault(name, []).append(value)
        elif self._current is None:
            return
        elif tag in ("input", "textarea", "button") and attr.get("name"):
            if attr["name"] != "csrf_token":
                self._current.setdefault(attr["name"], []).append(attr.get("value") or "")
        elif tag == "select" and attr.get("name"):
            self._select = attr["name"]
            self._current.setdefault(self._select, [])
        elif tag == "option" and self._select:
            self._current[self._select].append(attr.get("value") or "")
        elif tag == "datalist" and attr.get("id"):
            self._select = None

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def seed_world() -> dict:
    """People in each role, with two-factor where staff need it, and one of each thing."""
    from community.events.models import Audience, EventStatus
    from community.feeds import issue_calendar_token
    from community.hubs.models import HubVisibility, JoinPolicy, MemberRole, MembershipStatus
    from community.hubs.settings.services import create_invite
    from community.updates import services as update_services
    from community.updates.models import UpdateAudience

    chapter = make_chapter("fz", default_timezone="Asia/Hong_Kong")
    hub = make_hub(chapter, "fuzz-hub", timezone="Europe/London")
    private = make_hub(chapter, "fuzz-private", visibility=HubVisibility.UNLISTED,
                       join_policy=JoinPolicy.APPROVAL, high_risk=True)
    users = {
        "member": make_user("fuzz-member@example.org"),
        "organiser": make_user("fuzz-organiser@example.org", totp_secret=pyotp.random_base32()),
        "admin": make_user("fuzz-admin@example.org", totp_secret=pyotp.random_base32(),
                           is_site_admin=True),
        "pending": make_user("fuzz-pending@example.org"),
    }
    make_membership(users["member"], hub)
    make_membership(users["organiser"], hub, MemberRole.LEAD)
    make_membership(users["organiser"], private, MemberRole.LEAD)
    make_coordinator(users["organiser"], chapter)
    pending = make_membership(users["pending"], hub, status=MembershipStatus.PENDING)
    event = make_event(hub, capacity=2, max_guests=2, address="1 Fuzz Street")
    members_event = make_event(hub, audience=Audience.MEMBERS)
    draft = make_event(hub, status=EventStatus.DRAFT)
    rsvps = [make_rsvp(event, users["member"]), make_rsvp(members_event, users["pending"])]
    update = make_update(hub)
    members_update = make_update(hub, audience=UpdateAudience.MEMBERS, allow_comments=True)
    chapter_update = make_update(chapter=chapter)
    comment = update_services.add_comment(users["member"], members_update, "A comment")
    report = update_services.report(users["member"], comment, "Rude")
    invite, invite_token = create_invite(hub, users["organiser"], expires_in_days=7)
    event_invite, event_invite_token = create_invite(hub, users["organiser"],
                                                     expires_in_days=7, event=event)
    calendar_token = issue_calendar_token(users["member"])
    db.session.flush()
    ids = {
        "code": [chapter.code],
        "slug": [hub.slug, private.slug],
        "hub_slug": [hub.slug, private.slug],
        "events": [event.public_id, members_event.public_id, draft.public_id],
        "updates": [update.public_id, members_update.public_id, chapter_update.public_id],
        "comments": [comment.public_id],
        "users": [u.public_id for u in users.values()],
        "reports": [report.public_id],
        "report_id": [report.public_id],
        "rsvp_id": [r.public_id for r in rsvps],
        "membership_id": [pending.public_id],
        "invite_id": [invite.public_id, event_invite.public_id],
        "token": [invite_token, event_invite_token, calendar_token],
        "filename": ["style.css", "../../setup.cfg", "nope.js"],
    }
    return {"users": users, "ids": ids}


def path_values(rule, name: str, ids: dict) -> list[str]:
    """Real values for ``name`` in ``rule``: a public_id means what its prefix names."""
    if name == "public_id":
        first = rule.rule.strip("/").split("/")[0]
        if first == "admin":
            first = rule.rule.strip("/").split("/")[1]
            first = "users" if first == "chapters" else first
        return ids.get(first, ids["events"])
    return ids.get(name, [])


def junk_text(max_size: int = 60):
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)


ZONES = sorted(available_timezones())
DATE_HINTS = ("date", "from", "to", "since", "until", "starts", "ends", "opens", "closes",
              "reveal", "at")


def typed(name: str):
    """Values of the kind a field's name suggests: dates, zones or numbers."""
    lowered = name.lower()
    if "zone" in lowered or lowered == "tz":
        return st.sampled_from(ZONES) | st.sampled_from(("Factory", "localtime", "posixrules",
                                                         "Etc/Unknown", "GMT+0", "EST5EDT",
                                                         "FACTORY", "local time", ""))
    if any(hint in lowered.split("_") or lowered == hint for hint in DATE_HINTS):
        day = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
        return st.one_of(
            day.map(date.isoformat),
            st.datetimes()
            .map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M")),
            *[st.sampled_from(("9999-12-31", "0001-01-01", "9999-12-31T23:59",
                               "0001-01-01T00:00", "2025-02-29", "+10000-01-01"))] * 3,
        )
    return st.integers(min_value=-(2**70), max_value=2**70).map(str)


def a_value(name: str = "", real: list[str] | tuple[str, ...] = ()):
    """A value for field ``name``: one the page offered, one of its kind, or junk."""
    choices = [st.sampled_from(NASTY), typed(name), typed(name), typed(name), junk_text(),
               st.integers(min_value=-(2**70), max_value=2**70).map(str)]
    if real:
        choices = [st.sampled_from(list(real))] * 2 + choices
    return st.one_of(*choices)


@st.composite
def a_query(draw, names):
    """A few stray fields, each with a value of the kind its name suggests."""
    chosen = draw(st.lists(names, max_size=3, unique=True))
    return {name: draw(a_value(name)) for name in chosen}


@pytest.fixture
def fuzz_world(app):
    limiter.enabled = False
    try:
        world = seed_world()
        rules = [rule for rule in app.url_map.iter_rules()
                 if rule.methods & {"GET", "POST"}]
        world["rules"] = sorted(rules, key=lambda r: (r.rule, sorted(r.methods)))
        world["field_names"] = form_field_names()
        world["forms"] = harvest_forms(app, world)
        yield world
    finally:
        limiter.enabled = True


def signed_in(app, world, role: str):
    client = app.test_client()
    if role != "visitor":
        login_as(client, world["users"][role])
    return client


def harvest_forms(app, world) -> dict[tuple[str, str], dict[str, list[str]]]:
    """The forms and links each GET page offers a member, an organiser and an admin."""
    forms: dict[tuple[str, str], dict[str, list[str]]] = {}
    for role in ("organiser", "admin", "member"):
        client = signed_in(app, world, role)
        for rule in world["rules"]:
            if "GET" not in rule.methods or rule.endpoint == "static":
                continue
            values = {name: (path_values(rule, name, world["ids"]) or ["x"])[0]
                      for name in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            response = client.get(url)
            if response.mimetype == "text/html":
                parser = FormHarvester(url)
                parser.feed(response.get_data(as_text=True))
                for key, fields in parser.forms.items():
                    for name, samples in fields.items():
                        forms.setdefault(key, {}).setdefault(name, []).extend(samples)
    return forms


@st.composite
def requests(draw, world):
    """One request: (role, method, url, query, form, with a CSRF token?)."""
    rule = draw(st.sampled_from(world["rules"]))
    method = draw(st.sampled_from(sorted(rule.methods & {"GET", "POST"})))
    role = draw(st.sampled_from(ROLES))
    values = {}
    for name in sorted(rule.arguments):
        real = path_values(rule, name, world["ids"])
        value = draw(a_value(name, real).filter(lambda v: v and "/" not in v and "\x00" not in v)
                     | st.sampled_from(real or ["x"]))
        values[name] = value
    url = rule.build(values, append_unknown=False)[1]
    names = (st.sampled_from(QUERY_NAMES) | st.sampled_from(world["field_names"])
             | junk_text(12))
    # The fields the page's own forms and links use: mostly a value they offered,
    # sometimes junk, sometimes left out; then a few stray names.
    fields: dict[str, str] = {}
    for name, samples in world["forms"].get((method, urlsplit(url).path), {}).items():
        choice = draw(st.sampled_from("keep keep keep keep fuzz fuzz fuzz fuzz fuzz drop".split()))
        if choice == "keep":
            fields[name] = draw(st.sampled_from(samples or [""]))
        elif choice == "fuzz":
            fields[name] = draw(a_value(name, samples))
    fields.update(draw(a_query(names)))
    if method == "GET" and draw(st.sampled_from("tz - - -".split())) == "tz":
        fields["tz"] = draw(typed("tz"))  # every page reads ?tz= (the viewer's zone)
    query, form = (fields, {}) if method == "GET" else ({}, fields)
    csrf = draw(st.sampled_from([True] * 19 + [False]))
    return role, method, url, query, form, csrf


def send(client, method, url, query, form, csrf):
    if method == "GET":
        return client.get(url, query_string=query)
    data = dict(form)
    if csrf:
        page = client.get("/")
        match = CSRF_FIELD.search(page.get_data(as_text=True))
        if match:
            data["csrf_token"] = match.group(1)
    return client.post(url, data=data)


def describe(role, method, url, query, form, csrf) -> str:
    return f"{role} {method} {url} query={query!r} form={form!r} csrf={csrf}"


def run_example(app, world, request_args) -> int:
    """Send one request in a savepoint that is rolled back; return the status."""
    role, method, url, query, form, csrf = request_args
    connection = db.session.connection()
    savepoint = connection.begin_nested()
    try:
        client = signed_in(app, world, role)
        try:
            response = send(client, method, url, query, form, csrf)
        except Exception as error:  # an error the app let escape
            raise AssertionError(f"{describe(*request_args)} raised {error!r}") from error
        return response.status_code
    finally:
        savepoint.rollback()
        db.session.expire_all()


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


@FUZZ_SETTINGS
@given(data=st.data())
def test_no_request_answers_5xx(app, fuzz_world, data):
    request_args = data.draw(requests(fuzz_world), label="request")
    status = run_example(app, fuzz_world, request_args)
    assert status < 500, describe(*request_args)


def test_the_walk_reaches_every_rule(app, fuzz_world):
    """Each rule answers a plain request with real ids, and the harvest found forms."""
    rnd = random.Random(7)
    for rule in fuzz_world["rules"]:
        for method in sorted(rule.methods & {"GET", "POST"}):
            values = {name: rnd.choice(path_values(rule, name, fuzz_world["ids"]) or ["x"])
                      for name in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            for role in ROLES:
                status = run_example(app, fuzz_world, (role, method, url, {}, {}, True))
                assert status < 500, f"{role} {method} {url}"
    assert len(fuzz_world["forms"]) > 20
    assert ("POST", "/hubs/fuzz-hub/settings") in fuzz_world["forms"]
    assert "tz" in fuzz_world["forms"][("GET", "/events")]


@pytest.mark.parametrize("query", [
    {"to": "9999-12-31"}, {"from": "9999-12-31"}, {"from": "0001-01-01"},
    {"from": "0001-01-01", "to": "9999-12-31"}, {"tz": "Factory"}, {"tz": "localtime"},
])
def test_causes_the_fuzzer_found_answer_normally(client, query):
    """The first end-of-time date overflowed the day after; Factory was unformattable."""
    make_update(make_event().hub)
    assert client.get("/events", query_string=query).status_code == 200
    assert client.get("/", query_string=query).status_code == 200
