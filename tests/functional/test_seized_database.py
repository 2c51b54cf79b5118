"""Issue 13's "done when": a copy of the database gives away nothing useful.

Demo data, a sign-up, mail sent, an RSVP to an event whose place is for
attendees only, an answer to a hub's join question, a report, the retention
job and an account deletion; then the raw bytes (the SQLite file with its
WAL, or a plain `pg_dump` on PostgreSQL) hold no email address, hidden venue
or address, two-factor key, organiser note, RSVP note, join answer, report
reason, or email subject or body in clear. The member's export, the
moderators' queue and "who looked at my RSVPs" still work.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from community import create_app
from community.admin.models import Report
from community.admin.services import open_reports
from community.auth.models import User
from community.auth.services import find_user
from community.cli import seed_demo
from community.events.attendees.services import open_attendee_list
from community.events.models import Event, Tier
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_update, make_user
from community.hubs.models import Hub, JoinPolicy, MemberRole, Membership
from community.jobs import retention
from community.mail import send_pending
from community.members.services import export_user_data
from community.members.transparency.routes import accesses
from community.outbox_models import OutboxEmail
from tests.conftest import (
    IsolatedClient,
    base_config,
    csrf_token,
    normalise_url,
    postgres_database,
    run_process,
)

pytestmark = pytest.mark.no_db

DEMO_PASSWORD = "harbour-demo-password-long"  # noqa: S105 (test data)
PASSWORD = "a long and unusual passphrase"  # noqa: S105 (test data)
SIGN_UP = "Seized.Person@Example.org"
STORED = "Seized.Person@example.org"  # the domain is lower-cased on the way in
LEAVER = "leaving.member@example.org"
VENUE = "Marker Back Room 7Q"
ADDRESS = "41 Markerhidden Lane, Croydon"
ONLINE = "https://meet.example/marker-room-9x"
ORGANISER_NOTE = "Marker note: brother works at the consulate"
RSVP_NOTE = "Marker rsvp: I will come with my cousin"
JOIN_ANSWER = "Marker join: my aunt was arrested at the vigil"
REPORT_REASON = "Marker report: this comment names my neighbour"


@pytest.fixture
def seized_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'seized.sqlite'}"
        return
    # Named after the test database, so suites on two databases never collide.
    name = f"{sa.engine.make_url(normalise_url(url)).database}_seized"
    yield normalise_url(postgres_database(url, name))
    postgres_database(url, name, drop=True)


def _raw_bytes(url: str) -> bytes:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = run_process(["pg_dump", "--no-owner", "--format=plain", plain], timeout=120)
    assert dump.returncode == 0, dump.stderr
    return dump.stdout.encode()


def _post(client, path: str, page: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client.get(page)), **data})


def test_a_seized_database_gives_away_nothing_useful(seized_url):
    from flask_migrate import upgrade

    app = create_app(base_config(seized_url) | {
        "MAIL_BACKEND": "console", "MAIL_FROM": "Harbour <no-reply@harbour.test>"})
    app.test_client_class = IsolatedClient
    secrets_in_mail: list[str] = []
    with app.app_context():
        upgrade()
        seed_demo(DEMO_PASSWORD)
        hub = db.session.scalar(select(Hub).order_by(Hub.id).limit(1))
        organiser = make_user("marker.organiser@example.org", password=PASSWORD,
                              totp_secret=pyotp.random_base32())
        make_membership(organiser, hub, MemberRole.ORGANISER)
        make_membership(make_user(LEAVER, password=PASSWORD), hub)
        make_membership(make_user("noted.member@example.org"), hub).organiser_notes = \
            ORGANISER_NOTE
        starts = datetime(2099, 5, 1, 18, 0, tzinfo=UTC)
        event = make_event(hub, starts_at=starts, venue=VENUE, address=ADDRESS,
                           online_url=ONLINE, location_visibility=Tier.ATTENDEES,
                           online_visibility=Tier.ATTENDEES, burn_after=True)
        event_id = event.public_id
        asking = make_hub(hub.chapter, join_policy=JoinPolicy.APPROVAL,
                          join_question="How did you hear of us?")
        asking_slug = asking.slug
        update_id = make_update(hub).public_id
        totp_secret = organiser.totp_secret
        db.session.commit()

    client = app.test_client()
    # Sign up, confirm the address, sign in, answer the event with a note.
    response = _post(client, "/sign-up", "/sign-up", {
        "email": SIGN_UP, "display_name": "Seized Person", "password": PASSWORD,
        "confirm": PASSWORD, "locale": "en"})
    assert response.status_code == 302
    with app.app_context():
        [verify] = db.session.scalars(select(OutboxEmail).where(
            OutboxEmail.to_index == find_user(SIGN_UP).email_index)).all()
        link = re.search(r"https://harbour\.test(/verify-email/\S+)", verify.body_text).group(1)
        secrets_in_mail += [verify.subject, link]
    assert _post(client, link, link, {}).status_code == 302
    assert _post(client, "/sign-in", "/sign-in",
                 {"email": SIGN_UP.lower(), "password": PASSWORD}).status_code == 302
    assert _post(client, f"/events/{event_id}/rsvp", f"/events/{event_id}",
                 {"guests": "0", "note": RSVP_NOTE}).status_code == 302
    assert VENUE in client.get(f"/events/{event_id}").get_data(as_text=True)
    # Ask to join a hub that asks a question, and report an update.
    assert _post(client, f"/hubs/{asking_slug}/join", f"/hubs/{asking_slug}",
                 {"answer": JOIN_ANSWER}).status_code == 302
    assert _post(client, f"/updates/{update_id}/report", f"/updates/{update_id}/report",
                 {"reason": REPORT_REASON}).status_code == 302

    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.public_id == event_id))
        organiser = find_user("marker.organiser@example.org")
        open_attendee_list(organiser, event)  # "who looked at my RSVPs" has a line
        db.session.commit()
        addresses = [user.email for user in db.session.scalars(select(User))]
        # R43: a deleted account leaves not even its blind index behind (on
        # SQLite this needs secure_delete and the WAL checkpoint).
        leaver_index = find_user(LEAVER).email_index
        assert STORED in addresses and LEAVER in addresses and len(addresses) > 30
        for email in db.session.scalars(select(OutboxEmail)):
            secrets_in_mail += [email.subject, *re.findall(r"https://\S+", email.body_text)]
        assert any("Confirm" in subject for subject in secrets_in_mail)

        report = send_pending(limit=1000)
        assert report.sent >= 2 and report.failed == 0
        retention()

    # The leaver deletes their account.
    leaving = app.test_client()
    assert _post(leaving, "/sign-in", "/sign-in",
                 {"email": LEAVER, "password": PASSWORD}).status_code == 302
    response = _post(leaving, "/account/delete", "/account/delete", {"password": PASSWORD})
    assert response.status_code == 302

    with app.app_context():
        assert find_user(LEAVER) is None
        member = find_user(SIGN_UP)
        exported = export_user_data(member)
        assert STORED in str(exported) and RSVP_NOTE in str(exported)
        assert JOIN_ANSWER in str(exported) and REPORT_REASON in str(exported)
        seen = accesses(member)
        assert seen.total >= 1
        db.session.commit()

    raw = _raw_bytes(seized_url).lower()
    markers = {
        **{f"address {a}": a for a in addresses},
        "venue": VENUE, "address": ADDRESS, "online link": ONLINE,
        "two-factor key": totp_secret, "deleted account's blind index": leaver_index,
        "organiser note": ORGANISER_NOTE, "rsvp note": RSVP_NOTE,
        "join answer": JOIN_ANSWER, "report reason": REPORT_REASON,
        **{f"mail {n}": text for n, text in enumerate(secrets_in_mail) if len(text) > 12},
    }
    found = sorted(name for name, marker in markers.items()
                   if marker.lower().encode() in raw)
    assert found == [], f"in clear in the database: {found}"
    # The data is there, only encrypted: the app still reads it.
    with app.app_context():
        assert db.session.scalar(select(Membership).where(
            Membership.organiser_notes != "")) is not None
        assert JOIN_ANSWER in [m.join_answer for m in db.session.scalars(select(Membership))]
        assert REPORT_REASON in [row.report.reason for row in open_reports(per_page=500).items]
        assert db.session.scalar(select(Report).where(Report.reason != "")) is not None
        assert find_user(SIGN_UP).email == STORED
        db.session.remove()
        db.engine.dispose()
