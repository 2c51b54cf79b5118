"""The admin area (issue 7 items 1, 3, 6; R20, R24, R45): who may enter,
people, the audit trail and the overview."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree as ET  # noqa: S405  (parsing our own output)

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from community.admin.models import Report, ReportTarget
from community.audit_models import AuditEntry
from community.auth.models import User, UserSession
from community.database import utcnow
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from community.hubs.models import MemberRole
from tests.conftest import csrf_token, login_as, sign_in
from tests.functional import test_permission_matrix as matrix
from tests.functional.test_permission_matrix import LOGIN, ROLES, outcome, request_as

# The permission matrix's world: a chapter, hubs and a person in each role.
world = matrix.world


ONLY_ADMIN = [LOGIN] + [404] * 7

GET_ROUTES = ["/admin/", "/admin/rsvps.svg", "/admin/users", "/admin/users?q=matrix",
              "/admin/users/{target}", "/admin/users/{target}/grant",
              "/admin/users/{target}/revoke", "/admin/audit", "/admin/audit.csv",
              "/admin/reports"]


def admin_client(app, user=None, **kw):
    user = user or make_user(is_site_admin=True, totp_secret=pyotp.random_base32())
    return login_as(app.test_client(), user, **kw), user


def entries(action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db.session.scalars(stmt))


def page_token(client, url="/admin/users") -> str:
    return csrf_token(client.get(url))


# --- who may enter ---------------------------------------------------------------

@pytest.mark.parametrize("rule", GET_ROUTES)
def test_matrix_get_routes_are_for_admins_only(app, world, rule):
    target = make_user(display_name="Matrix target")
    url = rule.format(target=target.public_id)
    actual = [outcome(request_as(app, world, role, "GET", url)) for role in ROLES]
    assert actual == ONLY_ADMIN + [200]


def _post_target(action: str):
    if action == "disable":
        return make_user()
    if action == "enable":
        return make_user(disabled_at=utcnow())
    if action == "grant":
        return make_user(totp_secret=pyotp.random_base32())
    return make_user(is_site_admin=True, totp_secret=pyotp.random_base32())


@pytest.mark.parametrize("action", ["disable", "enable", "grant", "revoke"])
def test_matrix_post_user_actions_are_for_admins_only(app, world, action):
    target = _post_target(action)
    url = f"/admin/users/{target.public_id}/{action}"
    actual = [outcome(request_as(app, world, role, "POST", url)) for role in ROLES]
    assert actual == ONLY_ADMIN + [302]
    assert len(entries(f"admin.{action}")) == 1


def test_matrix_post_report_decision_is_for_admins_only(app, world):
    report = Report(target_type=ReportTarget.USER, target_public_id=make_user().public_id,
                    reason="spam", reporter_id=world["users"]["member"].id)
    db.session.add(report)
    db.session.flush()
    data = {f"{report.public_id}-action": "dismiss", f"{report.public_id}-reason": "fine"}
    url = f"/admin/reports/{report.public_id}"
    actual = [outcome(request_as(app, world, role, "POST", url, data)) for role in ROLES]
    assert actual == ONLY_ADMIN + [302]


def test_every_admin_route_is_covered(app):
    rules = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")}
    assert rules == {
        "/admin/", "/admin/rsvps.svg", "/admin/users", "/admin/users/<public_id>",
        "/admin/users/<public_id>/disable", "/admin/users/<public_id>/enable",
        "/admin/users/<public_id>/grant", "/admin/users/<public_id>/revoke",
        "/admin/audit", "/admin/audit.csv", "/admin/reports", "/admin/reports/<public_id>",
        # Chapters and hubs: their access rules are tested in test_admin_chapters.py.
        "/admin/chapters", "/admin/chapters/new", "/admin/chapters/<code>",
        "/admin/chapters/<code>/coordinators",
        "/admin/chapters/<code>/coordinators/<public_id>/remove",
        "/admin/hubs", "/admin/hubs/<hub_slug>/archive", "/admin/hubs/<hub_slug>/restore",
        "/admin/hubs/<hub_slug>/lead",
    }


@pytest.mark.parametrize("url", ["/admin/", "/admin/users", "/admin/audit", "/admin/reports"])
def test_r20_admin_with_an_old_reauthentication_is_asked_to_confirm(app, url):
    client, _admin = admin_client(app, reauthenticated=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm")


def test_r20_admin_reauthenticated_11_minutes_ago_is_asked_to_confirm(app):
    client, admin = admin_client(app)
    record = db.session.scalar(select(UserSession).where(UserSession.user_id == admin.id))
    from datetime import timedelta

    record.reauthenticated_at = utcnow() - timedelta(minutes=11)
    db.session.flush()
    response = client.get("/admin/")
    assert response.headers["Location"].startswith("/account/confirm")


def test_r20_admin_without_two_factor_is_sent_to_enrol(app):
    client, _admin = admin_client(app, make_user(is_site_admin=True))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/account/confirm" not in response.headers["Location"]
    assert "/sign-in" not in response.headers["Location"]


@pytest.mark.parametrize("url", [
    "/admin/users/x/disable", "/admin/users/x/enable", "/admin/users/x/grant",
    "/admin/users/x/revoke", "/admin/reports/x",
])
def test_r26_posts_without_csrf_are_refused(app, url):
    client, _admin = admin_client(app)
    target = make_user()
    url = url.replace("/x", f"/{target.public_id}")
    assert client.post(url, data={"confirm": "y"}).status_code == 400
    assert entries() == []


# --- overview ------------------------------------------------------------------

def test_overview_counts_per_chapter_and_rsvps_per_month(app):
    chapter = make_chapter("ov", name_en="Overland")
    hub = make_hub(chapter, "overview-hub")
    people = [make_user() for _ in range(3)]
    for person in people:
        make_membership(person, hub)
    event = make_event(hub)
    for person in people:
        make_rsvp(event, person)
    client, _admin = admin_client(app)
    html = client.get("/admin/").get_data(as_text=True)
    assert "Overland" in html
    assert 'src="/admin/rsvps.svg"' in html
    assert "<caption>" in html  # the table alternative to the chart
    response = client.get("/admin/rsvps.svg")
    assert response.mimetype == "image/svg+xml"
    svg = ET.fromstring(response.data)  # noqa: S314  (our own output)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.find(f"{ns}title").text
    assert len(svg.findall(f".//{ns}rect")) == 12
    assert b"http" not in response.data.replace(b"http://www.w3.org/2000/svg", b"")
    assert b"<script" not in response.data


def test_overview_query_count_does_not_grow_with_chapters(app):
    client, _admin = admin_client(app)
    client.get("/admin/")

    def count_queries() -> int:
        seen = []

        def listener(*_args):
            seen.append(1)

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/admin/").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    before = count_queries()
    for n in range(4):
        hub = make_hub(make_chapter(f"q{n}"))
        make_membership(make_user(), hub)
        make_event(hub)
    assert count_queries() == before


# --- people ----------------------------------------------------------------------

def test_search_by_name_or_whole_email_any_case(app):
    make_user("Someone.Else@example.org", display_name="Quiet Harbour")
    make_user("other@example.org", display_name="Loud Dock")
    client, _admin = admin_client(app)
    by_name = client.get("/admin/users?q=quiet").get_data(as_text=True)
    assert "Quiet Harbour" in by_name and "Loud Dock" not in by_name
    assert "Someone.Else@example.org" in by_name
    by_email = client.get("/admin/users?q=SOMEONE.ELSE@Example.org").get_data(as_text=True)
    assert "Quiet Harbour" in by_email and "Loud Dock" not in by_email
    # Addresses are encrypted (R40): a part of one finds nobody.
    by_part = client.get("/admin/users?q=SOMEONE.ELSE").get_data(as_text=True)
    assert "Quiet Harbour" not in by_part
    assert "Quiet Harbour" not in client.get("/admin/users?q=%25").get_data(as_text=True)


def test_user_page_shows_memberships_and_roles(app):
    person = make_user(display_name="Roleful")
    hub = make_hub(make_chapter("rl"), "role-hub", name_en="Role Hub")
    make_membership(person, hub, MemberRole.ORGANISER)
    client, _admin = admin_client(app)
    html = client.get(f"/admin/users/{person.public_id}").get_data(as_text=True)
    assert "Role Hub" in html and "Organiser" in html


def test_r24_disable_ends_every_session_and_blocks_sign_in(app):
    person = make_user("victim@example.org")
    their_client = login_as(app.test_client(), person)
    assert their_client.get("/dashboard").status_code == 200
    client, admin = admin_client(app)
    response = client.post(f"/admin/users/{person.public_id}/disable",
                           data={"csrf_token": page_token(client)})
    assert response.status_code == 302
    db.session.refresh(person)
    assert person.disabled_at is not None
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == person.id)) == 0
    assert their_client.get("/dashboard").headers["Location"].startswith("/sign-in")
    attempt = sign_in(app.test_client(), "victim@example.org")
    assert not attempt.headers.get("Location", "").startswith("/dashboard")
    (entry,) = entries("admin.disable")
    assert (entry.actor_id, entry.target_id, entry.subject_user_id) == (
        admin.id, person.public_id, person.id)

    response = client.post(f"/admin/users/{person.public_id}/enable",
                           data={"csrf_token": page_token(client)})
    db.session.refresh(person)
    assert response.status_code == 302 and person.disabled_at is None
    (entry,) = entries("admin.enable")
    assert (entry.actor_id, entry.subject_user_id) == (admin.id, person.id)


def test_admin_cannot_disable_themselves(app):
    client, admin = admin_client(app)
    response = client.post(f"/admin/users/{admin.public_id}/disable",
                           data={"csrf_token": page_token(client)})
    assert response.status_code == 400
    assert admin.disabled_at is None and entries() == []


def test_grant_needs_the_checkbox_and_two_factor(app):
    client, admin = admin_client(app)
    no_2fa = make_user()
    url = f"/admin/users/{no_2fa.public_id}/grant"
    page = client.get(url)
    assert "I understand" in page.get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_token(page), "confirm": "y"})
    assert response.status_code == 400
    assert "two-factor" in response.get_data(as_text=True)
    assert not no_2fa.is_site_admin

    enrolled = make_user(totp_secret=pyotp.random_base32())
    url = f"/admin/users/{enrolled.public_id}/grant"
    unticked = client.post(url, data={"csrf_token": csrf_token(client.get(url))})
    assert unticked.status_code == 400 and not enrolled.is_site_admin
    ticked = client.post(url, data={"csrf_token": csrf_token(client.get(url)), "confirm": "y"})
    db.session.refresh(enrolled)
    assert ticked.status_code == 302 and enrolled.is_site_admin
    (entry,) = entries()
    assert (entry.action, entry.actor_id, entry.target_type, entry.target_id,
            entry.subject_user_id) == ("admin.grant", admin.id, "user", enrolled.public_id,
                                       enrolled.id)


def test_revoke_refuses_the_last_admin(app):
    db.session.execute(sa.update(User).values(is_site_admin=False))
    client, admin = admin_client(app)
    url = f"/admin/users/{admin.public_id}/revoke"
    response = client.post(url, data={"csrf_token": csrf_token(client.get(url)),
                                      "confirm": "y"})
    assert response.status_code == 400
    assert "last site admin" in response.get_data(as_text=True)
    assert admin.is_site_admin and entries() == []

    other = make_user(is_site_admin=True, totp_secret=pyotp.random_base32())
    url = f"/admin/users/{other.public_id}/revoke"
    response = client.post(url, data={"csrf_token": csrf_token(client.get(url)),
                                      "confirm": "y"})
    db.session.refresh(other)
    assert response.status_code == 302 and not other.is_site_admin
    (entry,) = entries()
    assert (entry.action, entry.actor_id, entry.subject_user_id) == (
        "admin.revoke", admin.id, other.id)


# --- audit trail -----------------------------------------------------------------

def _seed_audit(admin):
    from datetime import UTC, datetime

    from community import audit

    other = make_user(display_name="Other Actor")
    old = audit.record(other, "member.approve", "membership", "m1")
    old.created_at = datetime(2024, 1, 5, 12, tzinfo=UTC)
    audit.record(admin, "admin.grant", "user", "u1", detail="=HYPERLINK(\"evil\")")
    db.session.flush()


def test_audit_trail_filters_and_pagination(app):
    client, admin = admin_client(app, make_user(display_name="Chief Admin", is_site_admin=True,
                                                totp_secret=pyotp.random_base32()))
    _seed_audit(admin)
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "Chief Admin" in html and "Other Actor" in html
    html = client.get("/admin/audit?actor=chief").get_data(as_text=True)
    assert "Chief Admin" in html and "Other Actor" not in html
    html = client.get("/admin/audit?action=member.approve").get_data(as_text=True)
    assert "Other Actor" in html and "Chief Admin" not in html
    html = client.get("/admin/audit?since=2024-01-01&until=2024-01-31").get_data(as_text=True)
    assert "Other Actor" in html and "Chief Admin" not in html
    html = client.get("/admin/audit?until=2024-01-04").get_data(as_text=True)
    assert "Other Actor" not in html
    # The last day a date box takes is no end at all (the fuzz test found a 500 here).
    for url in ("/admin/audit?until=9999-12-31", "/admin/audit.csv?until=9999-12-31"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Other Actor" in response.get_data(as_text=True), url


def test_audit_csv_is_formula_safe(app):
    client, admin = admin_client(app)
    _seed_audit(admin)
    response = client.get("/admin/audit.csv?action=admin.grant")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    assert rows[1][-1].startswith("'=")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_audit_entries_cannot_be_edited_or_deleted(app):
    client, _admin = admin_client(app)
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin/audit")]
    assert all(set(r.methods or ()) <= {"GET", "HEAD", "OPTIONS"} for r in rules)
    assert client.post("/admin/audit").status_code in (400, 405)


@pytest.mark.parametrize("url", [
    "/admin/users/%00", "/admin/users/not-a-real-id", "/admin/users/" + "x" * 300,
    "/admin/users/..%2F/grant", "/admin/users?q=%00", "/admin/users?page=-4",
    "/admin/users?page=abc", "/admin/users?q=" + "y" * 500,
    "/admin/audit?action=nope", "/admin/audit?since=2024-13-45&until=yesterday",
    "/admin/audit?since=%00&actor=%00", "/admin/audit?page=999999999999",
    "/admin/audit?actor=" + "z" * 200, "/admin/audit.csv?since=banana&action=%00",
    "/admin/reports?page=0", "/admin/reports/garbage",
])
def test_bad_input_never_500s(app, url):
    client, _admin = admin_client(app)
    assert client.get(url).status_code < 500


def test_bad_post_ids_are_404(app):
    client, _admin = admin_client(app)
    token = page_token(client)
    for url in ("/admin/users/nope/disable", "/admin/users/%00/enable",
                "/admin/reports/nope", "/admin/reports/" + "q" * 100):
        assert client.post(url, data={"csrf_token": token, "confirm": "y"}).status_code == 404


def test_bad_date_shows_a_message(app):
    client, _admin = admin_client(app)
    response = client.get("/admin/audit?since=2024-13-45")
    assert response.status_code == 200
    assert "YYYY-MM-DD" in response.get_data(as_text=True)


def test_the_admin_footer_shows_the_version_and_public_pages_do_not(app):
    from community import __version__

    client, _admin = admin_client(app)
    page = client.get("/admin/").get_data(as_text=True)
    assert f"Harbour version {__version__}" in page
    assert __version__ not in client.get("/").get_data(as_text=True)
