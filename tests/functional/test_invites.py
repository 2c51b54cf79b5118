"""Invite links (DESIGN §3 Invite, R7, R8, R9): made by organisers, shown once,
stored only as a hash, used within their limits even under concurrent use,
revocable; every link that no longer works looks like one that never did."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import delete, select, update

from community.audit_models import AuditEntry
from community.database import utcnow
from community.extensions import db
from community.factories import make_chapter, make_hub, make_membership, make_user
from community.hubs.models import (
    Chapter,
    Hub,
    HubStatus,
    HubVisibility,
    Invite,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.hubs.settings import services as services
from tests.conftest import csrf_token, login_as
from tests.functional.permission_matrix_settings import MATRIX
from tests.functional.test_permission_matrix import (
    ROLES,
    outcome,
    request_as,
    world,  # noqa: F401 (a fixture, used by name)
)

LINK = re.compile(r"https://harbour\.test/invite/([A-Za-z0-9_-]+)")
CSRF_VALUE = re.compile(r'name="csrf_token"[^>]*? value="[^"]+"')


@pytest.fixture
def hub():
    return make_hub(make_chapter("iv"), "invite-only-circle", name_en="Quiet Circle",
                    name_zh="靜圈", visibility=HubVisibility.UNLISTED,
                    join_policy=JoinPolicy.INVITE)


@pytest.fixture
def organiser(hub):
    user = make_user("organiser@invites.example", totp_secret=pyotp.random_base32())
    make_membership(user, hub, MemberRole.ORGANISER)
    return user


@pytest.fixture
def in_request(app):
    """Services translate their messages, so they run inside a request."""
    with app.test_request_context():
        yield


def client_for(app, user=None):
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    return client


def invites_url(hub) -> str:
    return f"/hubs/{hub.slug}/settings/invites"


def create(client, hub, **data):
    page = client.get(invites_url(hub))
    return client.post(invites_url(hub), data={"csrf_token": csrf_token(page), **data})


def new_token(client, hub, **data) -> str:
    response = create(client, hub, **{"expires_in_days": "7", **data})
    assert response.status_code == 200
    return LINK.search(response.get_data(as_text=True)).group(1)


def accept(client, token: str, csrf_from: str = "/", **extra):
    page = client.get(csrf_from)
    return client.post(f"/invite/{token}", data={"csrf_token": csrf_token(page), **extra})


def invite_for(token: str) -> Invite:
    db.session.expire_all()
    return db.session.scalar(select(Invite).where(
        Invite.token_hash == hashlib.sha256(token.encode()).hexdigest()))


def membership(user, hub) -> Membership | None:
    db.session.expire_all()
    return db.session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.hub_id == hub.id))


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def masked(response) -> str:
    body = CSRF_VALUE.sub('name="csrf_token" value="…"', response.get_data(as_text=True))
    # The language switch returns to the requested path.
    return re.sub(r'name="next" value="/invite/[^"]*"', 'name="next" value="…"', body)


def decoded_bytes(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


# --- making links ------------------------------------------------------------------

def test_an_organiser_makes_a_link_that_is_shown_once_and_stored_hashed(app, hub, organiser):
    client = client_for(app, organiser)
    page = client.get(invites_url(hub))
    assert page.status_code == 200
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert "No invite link works at the moment." in page.get_data(as_text=True)

    response = create(client, hub, expires_in_days="14", max_uses="3")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "It will not be shown again." in body
    assert "It works for 3 people until" in body
    token = LINK.search(body).group(1)
    assert decoded_bytes(token) >= 16  # R7

    invite = invite_for(token)
    assert invite is not None and invite.hub_id == hub.id
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(getattr(invite, column.key))
                         for column in Invite.__table__.columns}
    assert (invite.max_uses, invite.use_count, invite.revoked_at) == (3, 0, None)
    assert invite.created_by_id == organiser.id
    expected = utcnow() + timedelta(days=14)
    assert abs((invite.expires_at - expected).total_seconds()) < 60

    [entry] = audit("invite.create")
    assert (entry.actor_id, entry.hub_id, entry.chapter_id) == (
        organiser.id, hub.id, hub.chapter_id)
    assert (entry.target_type, entry.target_id) == ("invite", invite.public_id)
    assert token not in entry.detail and "use limit 3" in entry.detail

    # The list shows the link's dates and uses, never the link itself.
    listing = client.get(invites_url(hub)).get_data(as_text=True)
    assert token not in listing
    assert "0 of 3" in listing
    assert f"/settings/invites/{invite.public_id}/revoke" in listing
    assert "Invite links" in listing and 'href="/hubs/invite-only-circle"' in listing

    unlimited = create(client, hub, expires_in_days="1").get_data(as_text=True)
    assert "It works for any number of people until" in unlimited
    listing = client.get(invites_url(hub)).get_data(as_text=True)
    assert "0 of 3" in listing and "0 times, no limit" in listing


def test_r10_extra_fields_do_not_shape_the_invite(app, hub, organiser):
    other = make_hub(make_chapter("ix"), "someone-elses-hub")
    token = new_token(client_for(app, organiser), hub, max_uses="2", hub_id=str(other.id),
                      use_count="-50", public_id="chosen-by-me", created_by_id="1",
                      token_hash="0" * 64, revoked_at="", event_id="1")
    invite = invite_for(token)
    assert (invite.hub_id, invite.use_count, invite.event_id) == (hub.id, 0, None)
    assert invite.public_id != "chosen-by-me" and invite.created_by_id == organiser.id
    assert db.session.scalar(select(Invite).where(Invite.hub_id == other.id)) is None


def test_r7_tokens_and_ids_are_long_unique_and_random(in_request, hub, organiser):
    made = [services.create_invite(hub, organiser, expires_in_days=1) for _ in range(50)]
    tokens = [token for _invite, token in made]
    ids = [invite.public_id for invite, _token in made]
    for values in (tokens, ids):
        assert len(set(values)) == 50
        assert all(decoded_bytes(value) >= 16 for value in values)
        assert values != sorted(values)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"expires_in_days": "0"}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "-5"}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "91"}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "9" * 40}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "1.5"}, "expires_in_days", "Enter a whole number"),
    ({"expires_in_days": "soon"}, "expires_in_days", "Enter a whole number"),
    ({"expires_in_days": ""}, "expires_in_days", "Enter for how many days the link works."),
    ({}, "expires_in_days", "Enter for how many days the link works."),
    ({"expires_in_days": "7", "max_uses": "0"}, "max_uses", "from 1 to 1000"),
    ({"expires_in_days": "7", "max_uses": "-1"}, "max_uses", "from 1 to 1000"),
    ({"expires_in_days": "7", "max_uses": "1001"}, "max_uses", "from 1 to 1000"),
    ({"expires_in_days": "7", "max_uses": "lots"}, "max_uses", "Enter a whole number"),
])
def test_garbage_makes_no_link_and_keeps_the_input(app, hub, organiser, data, field, message):
    response = create(client_for(app, organiser), hub, **data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body and f'id="{field}-error"' in body
    assert LINK.search(body) is None
    assert db.session.scalar(select(Invite).where(Invite.hub_id == hub.id)) is None
    assert audit("invite.create") == []
    if data.get(field):
        assert f'value="{data[field]}"' in body


def test_service_refuses_bad_limits(in_request, hub, organiser):
    for kwargs, field in [({"expires_in_days": 0}, "expires_in_days"),
                          ({"expires_in_days": 91}, "expires_in_days"),
                          ({"expires_in_days": 7, "max_uses": 0}, "max_uses"),
                          ({"expires_in_days": 7, "max_uses": 1001}, "max_uses")]:
        with pytest.raises(services.SettingsError) as error:
            services.create_invite(hub, organiser, **kwargs)
        assert error.value.field == field
    member = make_user()
    make_membership(member, hub)
    with pytest.raises(services.NotAllowed):
        services.create_invite(hub, member, expires_in_days=7)


# --- using links -------------------------------------------------------------------

def test_a_visitor_sees_the_hub_name_and_is_asked_to_sign_in(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub)
    visitor = app.test_client()
    assert visitor.get(f"/hubs/{hub.slug}").status_code == 404  # unlisted
    page = visitor.get(f"/invite/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Quiet Circle" in body
    assert f'href="/sign-in?next=/invite/{token}"' in body
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    response = accept(visitor, token)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sign-in?next=/invite/{token}"
    assert invite_for(token).use_count == 0


def test_signing_in_from_an_invite_comes_back_to_it(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub)
    make_user("returning@invites.example")
    client = app.test_client()
    page = client.get(f"/sign-in?next=/invite/{token}")
    response = client.post("/sign-in", data={
        "csrf_token": csrf_token(page), "email": "returning@invites.example",
        "password": "correct horse battery staple", "next": f"/invite/{token}"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/invite/{token}"
    assert ">Join</button>" in client.get(f"/invite/{token}").get_data(as_text=True)


def test_joining_by_invite_makes_an_active_member_and_counts_one_use(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub, max_uses="2")
    newcomer = make_user("newcomer@invites.example")
    client = client_for(app, newcomer)
    page = client.get(f"/invite/{token}")
    assert ">Join</button>" in page.get_data(as_text=True)
    # Extra fields are ignored (R10): an invite makes a plain member.
    response = accept(client, token, csrf_from=f"/invite/{token}", role="lead",
                      status="active", hub_id="1", user_id=str(organiser.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/hubs/{hub.slug}"
    joined = membership(newcomer, hub)
    assert joined.status is MembershipStatus.ACTIVE and joined.role is MemberRole.MEMBER
    assert invite_for(token).use_count == 1
    hub_page = client.get(f"/hubs/{hub.slug}")
    assert hub_page.status_code == 200
    assert "Welcome! You are now a member of this hub." in hub_page.get_data(as_text=True)


def test_an_invite_skips_approval_and_activates_a_pending_request(app, organiser, hub):
    hub.join_policy = JoinPolicy.APPROVAL
    waiting = make_user("waiting@invites.example")
    make_membership(waiting, hub, status=MembershipStatus.PENDING)
    token = new_token(client_for(app, organiser), hub)
    response = accept(client_for(app, waiting), token)
    assert response.status_code == 302
    assert membership(waiting, hub).status is MembershipStatus.ACTIVE
    assert invite_for(token).use_count == 1


def test_a_member_following_an_invite_uses_nothing(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub, max_uses="1")
    client = client_for(app, organiser)
    assert "You are already a member of this hub." in client.get(
        f"/invite/{token}").get_data(as_text=True)
    response = accept(client, token)
    assert response.status_code == 302 and response.headers["Location"] == f"/hubs/{hub.slug}"
    assert invite_for(token).use_count == 0


def test_a_removed_member_cannot_come_back_by_invite(app, hub, organiser):
    removed = make_user("removed@invites.example")
    make_membership(removed, hub, status=MembershipStatus.REMOVED)
    token = new_token(client_for(app, organiser), hub)
    client = client_for(app, removed)
    response = accept(client, token)
    assert response.status_code == 302 and response.headers["Location"] == f"/invite/{token}"
    assert "have removed you" in client.get(f"/invite/{token}").get_data(as_text=True)
    assert membership(removed, hub).status is MembershipStatus.REMOVED
    assert invite_for(token).use_count == 0  # the failed join used nothing


def test_an_unverified_account_must_confirm_first(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub)
    unverified = make_user("unverified@invites.example", verified=False)
    response = accept(client_for(app, unverified), token)
    assert response.status_code == 302
    assert membership(unverified, hub) is None
    assert invite_for(token).use_count == 0


def test_a_used_up_link_stops_working(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub, max_uses="1")
    first, second = make_user(), make_user()
    assert accept(client_for(app, first), token).status_code == 302
    client = client_for(app, second)
    assert client.get(f"/invite/{token}").status_code == 404
    response = accept(client, token)
    assert response.status_code == 404
    assert "This invite link does not work" in response.get_data(as_text=True)
    assert membership(second, hub) is None
    assert invite_for(token).use_count == 1


def test_r8_expired_revoked_used_up_and_unknown_links_look_the_same(app, hub, organiser):
    organiser_client = client_for(app, organiser)
    tokens = {kind: new_token(organiser_client, hub, max_uses="1")
              for kind in ("expired", "revoked", "used_up")}
    db.session.execute(update(Invite).where(Invite.token_hash == invite_for(
        tokens["expired"]).token_hash).values(expires_at=utcnow() - timedelta(seconds=1)))
    invite_for(tokens["revoked"]).revoked_at = utcnow()
    db.session.flush()
    invite_for(tokens["used_up"]).use_count = 1
    db.session.flush()
    tokens["unknown"] = "A" * 22
    tokens["overlong"] = "B" * 500
    tokens["unicode"] = "%F0%9F%94%91ü"

    for client in (app.test_client(), client_for(app, make_user())):
        pages = {kind: client.get(f"/invite/{token}") for kind, token in tokens.items()}
        assert {kind: page.status_code for kind, page in pages.items()} == dict.fromkeys(
            tokens, 404)
        bodies = {masked(page) for page in pages.values()}
        assert len(bodies) == 1
        assert "This invite link does not work" in bodies.pop()
        assert not any("X-Robots-Tag" in page.headers for page in pages.values())

    # A NUL byte names nothing at all: the site-wide 404 answers it.
    assert app.test_client().get("/invite/bad%00token").status_code == 404
    client = client_for(app, make_user())
    posts = [accept(client, token) for token in tokens.values()]
    assert [post.status_code for post in posts] == [404] * len(tokens)
    assert len({masked(post) for post in posts}) == 1


def test_an_invite_to_a_hub_that_is_no_longer_active_does_not_work(app, hub, organiser):
    token = new_token(client_for(app, organiser), hub)
    hub.status = HubStatus.ARCHIVED
    db.session.flush()
    assert app.test_client().get(f"/invite/{token}").status_code == 404


def test_r26_joining_and_making_links_need_csrf(app, hub, organiser):
    client = client_for(app, organiser)
    token = new_token(client, hub)
    newcomer = make_user()
    assert client_for(app, newcomer).post(f"/invite/{token}").status_code == 400
    assert client.post(invites_url(hub), data={"expires_in_days": "7"}).status_code == 400
    invite = invite_for(token)
    assert client.post(f"{invites_url(hub)}/{invite.public_id}/revoke").status_code == 400
    assert membership(newcomer, hub) is None
    assert invite_for(token).revoked_at is None
    assert len(audit("invite.create")) == 1


# --- the use limit holds under concurrency -------------------------------------------

def test_a_use_is_counted_by_the_database_not_from_a_stale_copy(in_request, hub, organiser):
    invite, token = services.create_invite(hub, organiser, expires_in_days=7, max_uses=1)
    stale, _hub = services.invite_for_token(token)  # checked while it still had a use left
    # Meanwhile another request uses it up.
    db.session.execute(update(Invite).where(Invite.id == invite.id).values(use_count=1))
    with pytest.raises(services.InviteUnavailable):
        services.claim_invite_use(stale)
    db.session.expire_all()
    assert db.session.get(Invite, invite.id).use_count == 1


@pytest.mark.no_db
def test_concurrent_uses_never_exceed_the_limit(app):
    """Two requests holding the same usable invite at once: the database lets one
    through. Needs real concurrent transactions, which PostgreSQL gives (SQLite
    runs one writer at a time, so there the race cannot arise)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
        chapter = Chapter(code="race", name_en="Race", name_zh="競", default_timezone="UTC")
        race_hub = Hub(chapter=chapter, slug="race-hub", name_en="Race", timezone="UTC",
                       status=HubStatus.ACTIVE)
        db.session.add_all([chapter, race_hub])
        db.session.flush()
        token = "race-token-" + "x" * 16
        db.session.add(Invite(token_hash=services.invite_token_hash(token), hub_id=race_hub.id,
                              expires_at=utcnow() + timedelta(days=1), max_uses=1))
        db.session.commit()
        ids = (chapter.id, race_hub.id)

    first_claimed, both_loaded = threading.Event(), threading.Barrier(2, timeout=10)
    results: dict[str, str] = {}

    def use(name: str) -> None:
        with app.app_context():
            try:
                invite, _hub = services.invite_for_token(token)
                both_loaded.wait()  # both have seen one use left
                if name == "second":
                    first_claimed.wait(10)
                services.claim_invite_use(invite)
                if name == "first":
                    first_claimed.set()
                    # Hold the row while the second request tries to claim it.
                    threading.Event().wait(0.3)
                db.session.commit()
                results[name] = "joined"
            except services.InviteUnavailable:
                db.session.rollback()
                results[name] = "refused"
            finally:
                first_claimed.set()
                db.session.remove()

    threads = [threading.Thread(target=use, args=(name,)) for name in ("first", "second")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        with app.app_context():
            count = db.session.scalar(select(Invite.use_count).where(Invite.hub_id == ids[1]))
        assert results == {"first": "joined", "second": "refused"}
        assert count == 1
    finally:
        with app.app_context():
            db.session.execute(delete(Invite).where(Invite.hub_id == ids[1]))
            db.session.execute(delete(Hub).where(Hub.id == ids[1]))
            db.session.execute(delete(Chapter).where(Chapter.id == ids[0]))
            db.session.commit()
            db.session.remove()


# --- revoking -------------------------------------------------------------------------

def test_an_organiser_revokes_a_link(app, hub, organiser):
    client = client_for(app, organiser)
    token = new_token(client, hub)
    invite = invite_for(token)
    page = client.get(invites_url(hub))
    response = client.post(f"{invites_url(hub)}/{invite.public_id}/revoke",
                           data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"] == invites_url(hub)
    assert invite_for(token).revoked_at is not None
    [entry] = audit("invite.revoke")
    assert (entry.actor_id, entry.hub_id, entry.target_type, entry.target_id) == (
        organiser.id, hub.id, "invite", invite.public_id)
    listing = client.get(invites_url(hub)).get_data(as_text=True)
    assert "The invite link is revoked. It no longer works." in listing
    assert invite.public_id not in listing
    assert app.test_client().get(f"/invite/{token}").status_code == 404


def test_r9_an_invite_of_another_hub_cannot_be_revoked_from_this_one(app, hub, organiser):
    other = make_hub(make_chapter("io"), "other-invites")
    other_lead = make_user(totp_secret=pyotp.random_base32())
    make_membership(other_lead, other, MemberRole.LEAD)
    token = new_token(client_for(app, other_lead), other)
    foreign = invite_for(token)
    client = client_for(app, organiser)
    page = client.get(invites_url(hub))
    for target in (f"{invites_url(hub)}/{foreign.public_id}/revoke",
                   f"{invites_url(other)}/{foreign.public_id}/revoke",
                   f"{invites_url(hub)}/no-such-invite/revoke",
                   f"{invites_url(hub)}/{'x' * 300}/revoke"):
        assert client.post(target, data={"csrf_token": csrf_token(page)}).status_code == 404
    assert invite_for(token).revoked_at is None
    assert audit("invite.revoke") == []


@pytest.mark.parametrize("kind", ["listed", "unlisted"])
def test_revoke_permission_matrix(app, world, kind):  # noqa: F811 (the imported fixture)
    """The revoke row of permission_matrix_settings.py, each role with a fresh
    invite of the hub in its URL."""
    rule = "/hubs/<slug>/settings/invites/<invite_id>/revoke"
    hub = world[kind]
    creator = world["users"]["lead"]
    actual = []
    for role in ROLES:
        with app.test_request_context():
            invite, _token = services.create_invite(hub, creator, expires_in_days=1)
        path = rule.replace("<slug>", hub.slug).replace("<invite_id>", invite.public_id)
        actual.append(outcome(request_as(app, world, role, "POST", path)))
        db.session.expire_all()
        revoked = db.session.get(Invite, invite.id).revoked_at is not None
        assert revoked is (actual[-1] == 302), role
    assert dict(zip(ROLES, actual, strict=True)) == dict(
        zip(ROLES, MATRIX[("POST", rule)][kind], strict=True))


def test_every_settings_route_with_a_hub_is_in_the_matrix(app):
    mine = {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/hubs/<slug>/settings")
            for method in rule.methods or () if method in ("GET", "POST")}
    assert mine == set(MATRIX)
