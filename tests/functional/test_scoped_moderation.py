"""Moderation by hub leads and coordinators, and the chapter audit trail
(issue 7 items 2 and 3): each sees and acts on their own hub or chapter only."""

from __future__ import annotations

import csv
import io

import pyotp
import pytest
from sqlalchemy import select

from community import audit
from community.admin.models import Report, ReportStatus, ReportTarget
from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_hub,
    make_membership,
    make_update,
    make_user,
)
from community.hubs.models import MemberRole
from community.updates.models import UpdateStatus
from tests.conftest import csrf_token, login_as, outbox
from tests.functional.permission_matrix_moderation import MATRIX as MODERATION_MATRIX
from tests.functional.test_permission_matrix import (  # noqa: F401  (world is a fixture)
    ROLES,
    outcome,
    request_as,
    world,
)


def staff(email: str, **kw):
    return make_user(email, totp_secret=pyotp.random_base32(), **kw)


@pytest.fixture
def scene(app):
    x = make_chapter("cx", name_en="Chapter X")
    y = make_chapter("cy", name_en="Chapter Y")
    hub_a = make_hub(x, "hub-a")
    hub_b = make_hub(x, "hub-b")
    hub_c = make_hub(y, "hub-c")
    lead_a = staff("lead-a@scope.example", display_name="Lead A")
    lead_b = staff("lead-b@scope.example", display_name="Lead B")
    make_membership(lead_a, hub_a, MemberRole.LEAD)
    make_membership(lead_b, hub_b, MemberRole.LEAD)
    coord_x = staff("coord-x@scope.example", display_name="Coordinator X")
    coord_y = staff("coord-y@scope.example", display_name="Coordinator Y")
    make_coordinator(coord_x, x)
    make_coordinator(coord_y, y)
    admin = staff("admin@scope.example", display_name="Site Admin", is_site_admin=True)
    author = make_user("author@scope.example", display_name="Loud Author")
    reporter = make_user("reporter@scope.example", display_name="Careful Reporter")

    def report(hub=None, chapter=None, title="Shouty"):
        update = make_update(hub, chapter=chapter, title_en=title, author_id=author.id)
        row = Report(target_type=ReportTarget.UPDATE, target_public_id=update.public_id,
                     hub_id=hub.id if hub else None,
                     chapter_id=chapter.id if chapter else None,
                     reporter_id=reporter.id, reason=f"Rude: {title}")
        db.session.add(row)
        db.session.flush()
        return row

    reports = {
        "a": report(hub_a, title="Update in A"),
        "b": report(hub_b, title="Update in B"),
        "c": report(hub_c, title="Update in C"),
        "x": report(chapter=x, title="Chapter X news"),
    }
    return {"x": x, "y": y, "a": hub_a, "b": hub_b, "c": hub_c, "lead_a": lead_a,
            "lead_b": lead_b, "coord_x": coord_x, "coord_y": coord_y, "admin": admin,
            "author": author, "reporter": reporter, "reports": reports}


def client_for(app, user):
    return login_as(app.test_client(), user)


def decide(client, queue_url: str, report: Report, action: str,
           reason: str = "Against the rules", *, csrf: bool = True):
    data = {f"{report.public_id}-action": action, f"{report.public_id}-reason": reason}
    if csrf:
        data["csrf_token"] = csrf_token(client.get(queue_url))
    return client.post(f"{queue_url}/{report.public_id}", data=data)


def fresh(obj):
    db.session.refresh(obj)
    return obj


def entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


# --- scope isolation -----------------------------------------------------------

def test_hub_lead_sees_only_their_hubs_reports(app, scene):
    html = client_for(app, scene["lead_a"]).get("/hubs/hub-a/moderation").get_data(as_text=True)
    assert "Update in A" in html
    assert "Careful Reporter" in html  # moderators see who reported
    assert "Rude: Update in A" in html
    assert "Update in B" not in html and "Update in C" not in html
    assert "Chapter X news" not in html
    assert "Disable the author" not in html  # site admins only


def test_hub_lead_cannot_see_or_act_on_another_hubs_reports(app, scene):
    client = client_for(app, scene["lead_a"])
    assert client.get("/hubs/hub-b/moderation").status_code == 404
    other = scene["reports"]["b"]
    assert decide(client, "/hubs/hub-a/moderation", other, "dismiss").status_code == 404
    token = csrf_token(client.get("/hubs/hub-a/moderation"))
    response = client.post(f"/hubs/hub-b/moderation/{other.public_id}", data={
        "csrf_token": token, f"{other.public_id}-action": "dismiss",
        f"{other.public_id}-reason": "x"})
    assert response.status_code == 404
    assert fresh(other).status is ReportStatus.OPEN
    assert entries() == []


def test_coordinator_sees_their_chapter_and_its_hubs(app, scene):
    html = client_for(app, scene["coord_x"]).get("/chapters/cx/moderation").get_data(
        as_text=True)
    for title in ("Update in A", "Update in B", "Chapter X news"):
        assert title in html
    assert "Update in C" not in html
    assert "Careful Reporter" in html


def test_coordinator_of_another_chapter_gets_404(app, scene):
    client = client_for(app, scene["coord_y"])
    assert client.get("/chapters/cx/moderation").status_code == 404
    assert client.get("/chapters/cx/audit").status_code == 404
    assert client.get("/chapters/cx/audit.csv").status_code == 404
    report = scene["reports"]["c"]
    # Their own report through someone else's chapter is not found either.
    assert decide(client, "/chapters/cy/moderation", scene["reports"]["a"],
                  "dismiss").status_code == 404
    token = csrf_token(client.get("/chapters/cy/moderation"))
    response = client.post(f"/chapters/cx/moderation/{report.public_id}", data={
        "csrf_token": token, f"{report.public_id}-action": "dismiss",
        f"{report.public_id}-reason": "x"})
    assert response.status_code == 404
    assert entries() == []


@pytest.mark.parametrize("who", ["lead_a", "author"])
def test_chapter_pages_are_404_to_non_coordinators(app, scene, who):
    user = scene[who]
    if who == "author":
        user.totp_secret = pyotp.random_base32()
    client = client_for(app, user)
    for url in ("/chapters/cx/moderation", "/chapters/cx/audit", "/chapters/cx/audit.csv"):
        assert client.get(url).status_code == 404


def test_chapter_pages_sign_in_first_and_admins_may_enter(app, scene):
    anonymous = app.test_client()
    for url in ("/chapters/cx/moderation", "/chapters/cx/audit"):
        response = anonymous.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")
    admin = client_for(app, scene["admin"])
    assert admin.get("/chapters/cx/moderation").status_code == 200
    assert admin.get("/chapters/cx/audit").status_code == 200


def test_coordinator_without_two_factor_is_sent_to_enrol(app, scene):
    scene["coord_x"].totp_secret = None
    response = client_for(app, scene["coord_x"]).get("/chapters/cx/moderation")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor")


# --- decisions -------------------------------------------------------------------

QUEUES = [("lead_a", "/hubs/hub-a/moderation", "a"),
          ("coord_x", "/chapters/cx/moderation", "a"),
          ("coord_x", "/chapters/cx/moderation", "x")]


@pytest.mark.parametrize("action", ["dismiss", "hide", "warn"])
@pytest.mark.parametrize("who,queue,key", QUEUES)
def test_each_decision_records_one_entry_and_tells_the_reporter(app, scene, action, who,
                                                                queue, key):
    report = scene["reports"][key]
    response = decide(client_for(app, scene[who]), queue, report, action)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(queue)
    (entry,) = entries()
    assert entry.action == f"report.{action}"
    assert entry.actor_id == scene[who].id
    assert entry.target_id == report.public_id
    assert entry.detail == "Against the rules"
    assert entry.chapter_id == scene["x"].id
    assert entry.hub_id == report.hub_id
    expected = ReportStatus.DISMISSED if action == "dismiss" else ReportStatus.ACTIONED
    assert fresh(report).status is expected and report.resolved_by_id == scene[who].id
    assert len(outbox("reporter@scope.example")) == 1
    warned = outbox("author@scope.example")
    assert len(warned) == (1 if action == "warn" else 0)


def test_hide_takes_the_update_down(app, scene):
    report = scene["reports"]["a"]
    decide(client_for(app, scene["lead_a"]), "/hubs/hub-a/moderation", report, "hide")
    from community.updates.models import Update
    update = db.session.scalar(select(Update).where(
        Update.public_id == report.target_public_id))
    assert fresh(update).status is UpdateStatus.DRAFT


@pytest.mark.parametrize("who,queue", [("lead_a", "/hubs/hub-a/moderation"),
                                       ("coord_x", "/chapters/cx/moderation")])
def test_disabling_the_author_is_for_site_admins_only(app, scene, who, queue):
    report = scene["reports"]["a"]
    response = decide(client_for(app, scene[who]), queue, report, "disable")
    assert response.status_code == 400
    assert "Choose one of the decisions." in response.get_data(as_text=True)
    assert fresh(scene["author"]).disabled_at is None
    assert fresh(report).status is ReportStatus.OPEN
    assert entries() == []


def test_a_missing_reason_is_shown_not_recorded(app, scene):
    report = scene["reports"]["a"]
    response = decide(client_for(app, scene["lead_a"]), "/hubs/hub-a/moderation", report,
                      "dismiss", reason="")
    assert response.status_code == 400
    assert "Give a short reason." in response.get_data(as_text=True)
    assert entries() == []


@pytest.mark.parametrize("who,queue", [("lead_a", "/hubs/hub-a/moderation"),
                                       ("coord_x", "/chapters/cx/moderation")])
def test_missing_csrf_is_400(app, scene, who, queue):
    report = scene["reports"]["a"]
    response = decide(client_for(app, scene[who]), queue, report, "dismiss", csrf=False)
    assert response.status_code == 400
    assert fresh(report).status is ReportStatus.OPEN
    assert entries() == []


@pytest.mark.parametrize("who,queue", [("lead_a", "/hubs/hub-a/moderation"),
                                       ("coord_x", "/chapters/cx/moderation")])
@pytest.mark.parametrize("bad", ["nope", "x" * 40, "%00", "a.b"])
def test_bad_report_ids_are_404(app, scene, who, queue, bad):
    client = client_for(app, scene[who])
    token = csrf_token(client.get(queue))
    assert client.post(f"{queue}/{bad}", data={"csrf_token": token}).status_code == 404


def test_a_report_already_dealt_with_is_404(app, scene):
    client = client_for(app, scene["lead_a"])
    report = scene["reports"]["a"]
    assert decide(client, "/hubs/hub-a/moderation", report, "dismiss").status_code == 302
    assert decide(client, "/hubs/hub-a/moderation", report, "warn").status_code == 404
    assert len(entries()) == 1


def test_unknown_chapter_is_404(app, scene):
    client = client_for(app, scene["admin"])
    for url in ("/chapters/nope/moderation", "/chapters/NOPE!/audit", "/chapters/zz/audit.csv"):
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["listed", "unlisted"])
def test_decision_route_matrix(app, world, kind, role):  # noqa: F811 (the fixture)
    route = ("POST", "/hubs/<slug>/moderation/<report_id>")
    hub = world[kind]
    update = make_update(hub)
    report = Report(target_type=ReportTarget.UPDATE, target_public_id=update.public_id,
                    hub_id=hub.id, chapter_id=hub.chapter_id, reason="Matrix")
    db.session.add(report)
    db.session.flush()
    url = f"/hubs/{hub.slug}/moderation/{report.public_id}"
    response = request_as(app, world, role, "POST", url, {
        f"{report.public_id}-action": "dismiss", f"{report.public_id}-reason": "Matrix"})
    assert outcome(response) == MODERATION_MATRIX[route][kind][ROLES.index(role)]


# --- audit trails ------------------------------------------------------------------

@pytest.fixture
def trail(scene):
    actor = scene["admin"]
    audit.record(actor, "member.approve", "membership", "m-a", hub=scene["a"],
                 detail="=HYPERLINK(\"http://evil\")")
    audit.record(actor, "member.remove", "membership", "m-b", hub=scene["b"], detail="in B")
    audit.record(actor, "admin.chapter_edit", "chapter", "cx", chapter=scene["x"],
                 detail="chapter X itself")
    audit.record(actor, "member.approve", "membership", "m-c", hub=scene["c"],
                 detail="in C")
    audit.record(actor, "admin.grant", "user", "u-1", detail="site wide")
    db.session.flush()
    return scene


def test_chapter_audit_shows_the_chapter_and_its_hubs_only(app, trail):
    html = client_for(app, trail["coord_x"]).get("/chapters/cx/audit").get_data(as_text=True)
    assert "in B" in html and "chapter X itself" in html and "HYPERLINK" in html
    assert "in C" not in html and "site wide" not in html
    assert "3 entries" in html


def test_chapter_audit_filters_by_action_and_date(app, trail):
    client = client_for(app, trail["coord_x"])
    html = client.get("/chapters/cx/audit?action=member.remove").get_data(as_text=True)
    assert "in B" in html and "chapter X itself" not in html
    # An action from outside the chapter is not offered, so it does not filter.
    html = client.get("/chapters/cx/audit?action=admin.grant").get_data(as_text=True)
    assert "site wide" not in html
    assert "No entries match." in client.get(
        "/chapters/cx/audit?since=2999-01-01").get_data(as_text=True)
    assert "3 entries" in client.get(
        "/chapters/cx/audit?until=2999-01-01").get_data(as_text=True)
    assert client.get("/chapters/cx/audit?since=yesterday&page=x").status_code == 200


def test_chapter_audit_is_paginated(app, trail):
    for n in range(55):
        audit.record(trail["admin"], "member.notes", "membership", f"p{n}", hub=trail["a"])
    db.session.flush()
    client = client_for(app, trail["coord_x"])
    first = client.get("/chapters/cx/audit").get_data(as_text=True)
    assert "58 entries" in first and "Next page" in first
    assert "Previous page" in client.get("/chapters/cx/audit?page=2").get_data(as_text=True)


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_chapter_audit_csv_is_scoped_filtered_and_formula_safe(app, trail):
    client = client_for(app, trail["coord_x"])
    rows = rows_of(client.get("/chapters/cx/audit.csv"))
    details = [row[-1] for row in rows[1:]]
    assert sorted(details) == sorted(["'=HYPERLINK(\"http://evil\")", "in B",
                                      "chapter X itself"])
    rows = rows_of(client.get("/chapters/cx/audit.csv?action=member.remove"))
    assert [row[-1] for row in rows[1:]] == ["in B"]


def test_hub_audit_csv_is_the_hubs_only(app, trail):
    client = client_for(app, trail["lead_a"])
    rows = rows_of(client.get("/hubs/hub-a/organise/audit.csv"))
    assert [row[-1] for row in rows[1:]] == ["'=HYPERLINK(\"http://evil\")"]
    assert rows_of(client.get("/hubs/hub-a/organise/audit.csv?action=member.remove"))[1:] == []
    assert client.get("/hubs/hub-b/organise/audit.csv").status_code == 404


def test_admin_trail_is_unchanged_by_scopes(app, trail):
    from community.admin import services

    assert services.audit_log().total == 5
    assert services.audit_log(scope=services.Scope.of_chapter(trail["x"])).total == 3
    assert services.audit_log(scope=services.Scope.of_hub(trail["a"])).total == 1
    assert services.open_reports().total == 4
    assert services.open_reports(scope=services.Scope.of_chapter(trail["y"])).total == 1
