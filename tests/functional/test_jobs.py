"""The job queue (community/jobs.py): a publication answers at once and leaves
one small row and one queued fan-out; the fan-out writes one email per
recipient in their language, however often and by however many workers it
runs; the worker's schedule; and a real worker process that sends the mail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from community import create_app, notifications
from community.auth.models import User
from community.auth.passwords import hash_password
from community.database import utcnow
from community.extensions import db
from community.factories import make_hub, make_membership, make_user
from community.hubs.models import Chapter, Hub, MemberRole, Membership, MembershipStatus
from community.jobs import SCHEDULE, jobs
from community.outbox_models import OutboxEmail, OutboxStatus, Publication
from community.updates.models import Update, UpdateStatus
from community.updates.services import publish_update
from tests.conftest import (
    TEST_SECRET,
    base_config,
    csrf_token,
    login_as,
    outbox,
    real_clock_env,
    run_jobs,
    wait_for_exit,
)

MEMBERS = 300


def members(hub, count: int, prefix: str) -> list[User]:
    """``count`` verified members of ``hub``, alternately English and Chinese readers."""
    password_hash = hash_password("correct horse battery staple")
    now = utcnow()
    people = [User(email=f"{prefix}{n}@jobs.example", display_name=f"{prefix} {n}",
                   password_hash=password_hash, email_verified_at=now,
                   locale="zh_Hant_HK" if n % 2 else "en") for n in range(count)]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(Membership(user=user, hub=hub, role=MemberRole.MEMBER,
                                  status=MembershipStatus.ACTIVE) for user in people)
    db.session.flush()
    return people


def assert_one_email_each_in_their_language(people: list[User], update_title_zh: str) -> None:
    emails = {email.to_address: email for email in outbox()}
    assert len(outbox()) == len(people)
    for user in people:
        email = emails[user.email]
        chinese = update_title_zh in email.subject
        assert chinese is (user.locale == "zh_Hant_HK"), (user.locale, email.subject)


def pending_task_names(app) -> list[str]:
    return [task.name for task in jobs(app).huey.pending()]


# --- (a) publishing answers at once and queues one fan-out ------------------------------

def test_publishing_to_hundreds_answers_quickly_and_queues_one_fan_out(app):
    hub = make_hub(slug="jobs-hub")
    organiser = make_user("organiser@jobs.example", totp_secret="JBSWY3DPEHPK3PXP")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    people = members(hub, MEMBERS, "member")
    db.session.flush()
    client = login_as(app.test_client(), organiser)
    url = "/hubs/jobs-hub/updates/new"
    token = csrf_token(client.get(url))
    data = {"csrf_token": token, "title_en": "Picnic news", "title_zh": "野餐消息",
            "body_en": "Bring food.", "body_zh": "請帶食物。", "audience": "members",
            "publish": "y"}

    started = time.perf_counter()
    response = client.post(url, data=data)
    elapsed = time.perf_counter() - started

    assert response.status_code == 302, response.get_data(as_text=True)
    assert elapsed < 1.0, f"publishing to {MEMBERS} members took {elapsed:.2f} s"
    assert outbox() == []  # nothing written for recipients inside the request
    [publication] = db.session.scalars(select(Publication)).all()
    assert publication.done_at is None
    assert pending_task_names(app) == ["fan_out_publication"]

    run_jobs(app)

    assert_one_email_each_in_their_language(people, "野餐消息")
    db.session.refresh(publication)
    assert publication.done_at is not None


def test_a_broken_queue_never_breaks_the_publication_and_the_sweep_catches_up(
        app, monkeypatch):
    hub = make_hub(slug="jobs-broken")
    organiser = make_user(totp_secret="JBSWY3DPEHPK3PXP")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    people = members(hub, 4, "broken")
    db.session.flush()

    def down(*_args):
        raise ConnectionError("queue down")

    monkeypatch.setitem(jobs(app).tasks, "fan_out_publication", down)
    client = login_as(app.test_client(), organiser)
    url = "/hubs/jobs-broken/updates/new"
    response = client.post(url, data={
        "csrf_token": csrf_token(client.get(url)), "title_en": "News", "title_zh": "消息",
        "body_en": "Text.", "body_zh": "", "audience": "members", "publish": "y"})

    assert response.status_code == 302
    assert outbox() == [] and pending_task_names(app) == []
    jobs(app).tasks["sweep_publications"]()  # what the worker's schedule does
    run_jobs(app)
    assert_one_email_each_in_their_language(people, "消息")


# --- (b) the fan-out: exactly once, in each recipient's language --------------------------

def test_the_fan_out_run_twice_writes_one_email_per_recipient(app):
    hub = make_hub()
    organiser = make_user()
    make_membership(organiser, hub, MemberRole.ORGANISER)
    people = members(hub, 30, "twice")
    update = Update(hub=hub, author_id=organiser.id, status=UpdateStatus.DRAFT,
                    title_en="Spring list", title_zh="春季書單", body_en="b", body_zh="b")
    db.session.add(update)
    db.session.flush()
    with app.test_request_context():
        publish_update(organiser, update)
    publication = db.session.scalars(select(Publication)).one()

    assert notifications.fan_out(publication.id, batch=7) == 30
    publication.done_at = None  # as if a worker died before recording it
    assert notifications.fan_out(publication.id) == 0
    assert notifications.fan_out(publication.id) == 0

    assert_one_email_each_in_their_language(people, "春季書單")


@pytest.fixture
def committed_publication(app):
    """A published update to 200 members, committed, with its publication row
    (other threads and processes cannot see the per-test transaction)."""
    with app.app_context():
        hub = make_hub(slug="jobs-committed")
        organiser = make_user("organiser@committed.example")
        make_membership(organiser, hub, MemberRole.ORGANISER)
        people = members(hub, 200, "committed")
        update = Update(hub=hub, author_id=organiser.id, status=UpdateStatus.PUBLISHED,
                        published_at=utcnow(), title_en="Spring list",
                        title_zh="春季書單", body_en="b", body_zh="b")
        db.session.add(update)
        db.session.flush()
        publication = Publication(kind="update", target_id=update.id)
        db.session.add(publication)
        db.session.commit()
        ids = {"publication": publication.id, "update": update.id, "hub": hub.id,
               "chapter": hub.chapter_id, "users": [organiser.id] + [p.id for p in people],
               "locales": {p.email: p.locale for p in people}}
    yield ids
    with app.app_context():
        db.session.execute(delete(OutboxEmail).where(OutboxEmail.user_id.in_(ids["users"])))
        db.session.execute(delete(Publication).where(Publication.id == ids["publication"]))
        db.session.execute(delete(Update).where(Update.id == ids["update"]))
        db.session.execute(delete(Membership).where(Membership.hub_id == ids["hub"]))
        db.session.execute(delete(User).where(User.id.in_(ids["users"])))
        db.session.execute(delete(Hub).where(Hub.id == ids["hub"]))
        db.session.execute(delete(Chapter).where(Chapter.id == ids["chapter"]))
        db.session.commit()


def committed_emails(app, user_ids) -> list:
    """(to_address, subject, status) of the committed emails to ``user_ids``."""
    with app.app_context():
        rows = list(db.session.execute(
            select(OutboxEmail.to_address, OutboxEmail.subject, OutboxEmail.status)
            .where(OutboxEmail.user_id.in_(user_ids))))
        db.session.commit()
        return rows


def assert_committed_once_each(app, ids) -> list:
    emails = committed_emails(app, ids["users"])
    addresses = [email.to_address for email in emails]
    assert len(addresses) == len(set(addresses)) == len(ids["locales"])
    for email in emails:
        chinese = "春季書單" in email.subject
        assert chinese is (ids["locales"][email.to_address] == "zh_Hant_HK")
    return emails


@pytest.mark.no_db
def test_two_workers_fanning_out_at_once_write_one_email_each(app, committed_publication,
                                                              database_url):
    ids = committed_publication
    config = base_config(database_url)
    worker_app = create_app(config)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    counts: list[int] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=20)
            counts.append(jobs(worker_app).tasks["fan_out_publication"].call_local(
                ids["publication"]))
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with worker_app.app_context():
        db.engine.dispose()

    assert errors == []
    assert sum(counts) == 200
    assert_committed_once_each(app, ids)


# --- (c) the schedule ---------------------------------------------------------------------

def test_the_worker_schedule_runs_mail_reminders_digest_and_retention(app):
    huey = jobs(app).huey
    periodic = {task.name for task in huey._registry.periodic_tasks}
    assert periodic == {"drain_outbox", "sweep_publications", "send_reminders",
                        "send_digest", "retention", "burn_events"} == set(SCHEDULE)

    def due(*when: int) -> set[str]:
        # Huey keeps naive UTC times.
        at = datetime(*when, tzinfo=UTC).replace(tzinfo=None)
        return {task.name for task in huey.read_periodic(at)}

    # Times are UTC. 2026-11-30 is a Monday.
    assert due(2026, 11, 30, 8, 0) == {"drain_outbox", "sweep_publications",
                                                 "send_digest"}
    assert due(2026, 12, 1, 8, 0) == {"drain_outbox", "sweep_publications"}
    assert due(2026, 12, 1, 14, 5) == {"drain_outbox", "sweep_publications",
                                                 "send_reminders"}
    assert due(2026, 12, 1, 3, 30) == {"drain_outbox", "sweep_publications",
                                                 "retention"}
    assert due(2026, 12, 1, 3, 31) == {"drain_outbox"}
    assert due(2026, 12, 1, 3, 20) == {"drain_outbox", "sweep_publications", "burn_events"}


def test_mail_queued_by_a_request_asks_a_worker_to_send_it_now(app, client):
    from tests.conftest import post_form

    make_user("forgetful@jobs.example")
    db.session.flush()
    response = post_form(client, "/reset-password", {"email": "forgetful@jobs.example"},
                         page_url="/reset-password")

    assert response.status_code in (200, 302)
    assert len(outbox("forgetful@jobs.example")) == 1
    assert pending_task_names(app) == ["drain_outbox"]


# --- (d) a real worker process --------------------------------------------------------------

def _start_worker(database_url: str, queue_path: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_HARBOUR_ENV": "testing",
        "FLASK_SECRET_KEY": TEST_SECRET,
        "FLASK_BASE_URL": "https://harbour.test",
        "FLASK_MAIL_BACKEND": "console",
        "FLASK_HUEY_STORAGE": "sqlite",
        "FLASK_HUEY_SQLITE_PATH": str(queue_path),
    }
    env = real_clock_env(env)  # children keep the real clock (make test-anytime)
    flask = Path(sys.executable).with_name("flask")
    return subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
        [str(flask), "--app", "wsgi", "worker", "--workers", "2"],
        env=env, cwd=Path(__file__).resolve().parents[2], start_new_session=True,
        stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.mark.no_db
def test_two_worker_processes_send_every_email_exactly_once(app, committed_publication,
                                                             database_url, tmp_path):
    ids = committed_publication
    queue_path = tmp_path / "huey.sqlite"
    producer = create_app({**base_config(database_url), "HUEY_STORAGE": "sqlite",
                           "HUEY_SQLITE_PATH": str(queue_path)})
    with producer.app_context():
        # The same fan-out twice, as a retry would: both workers may take one.
        jobs(producer).tasks["fan_out_publication"](ids["publication"])
        jobs(producer).tasks["fan_out_publication"](ids["publication"])
        db.engine.dispose()
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [_start_worker(database_url, queue_path, log) for log in logs]
    try:
        deadline = time.monotonic() + 90
        while True:
            emails = committed_emails(app, ids["users"])
            if len(emails) == 200 and all(e.status is OutboxStatus.SENT for e in emails):
                break
            for worker, log in zip(workers, logs, strict=True):
                assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, [log.read_text()[-3000:] for log in logs]
            threading.Event().wait(0.5)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)  # huey's graceful stop
        for worker in workers:
            try:
                wait_for_exit(worker, 30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    # Delivered mail keeps only its bookkeeping (issue 13): who got what is
    # checked in what the workers printed.
    emails = committed_emails(app, ids["users"])
    assert len(emails) == len(ids["locales"])
    assert {(email.to_address, email.subject) for email in emails} == {("", "")}
    printed = "".join(log.read_text() for log in logs)
    for address in ids["locales"]:
        assert printed.count(f"To: {address}\n") == 1, address
    with app.app_context():
        done = db.session.scalar(select(func.count()).select_from(Publication).where(
            Publication.id == ids["publication"], Publication.done_at.is_not(None)))
        db.session.commit()
    assert done == 1


# --- storage ----------------------------------------------------------------------------

def test_the_queue_is_sqlite_by_default_and_redis_when_a_url_is_given(database_url, tmp_path):
    from huey import RedisHuey, SqliteHuey

    default = create_app({**base_config(database_url), "HUEY_STORAGE": None,
                          "HUEY_SQLITE_PATH": str(tmp_path / "queue.sqlite")})
    assert isinstance(jobs(default).huey, SqliteHuey)
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    on_redis = create_app({**base_config(database_url), "HUEY_STORAGE": None,
                           "HUEY_REDIS_URL": url, "HUEY_NAME": "harbour-test"})
    huey = jobs(on_redis).huey
    assert isinstance(huey, RedisHuey)
    try:
        huey.flush()
    except Exception:  # noqa: BLE001 (no Redis here: the type is what we can check)
        pytest.skip("no Redis at " + url)
    jobs(on_redis).tasks["sweep_publications"]()
    assert [task.name for task in huey.pending()] == ["sweep_publications"]
    huey.flush()


# --- the batched fan-out ----------------------------------------------------------------

def _published_update(hub, author) -> Update:
    update = Update(hub=hub, author_id=author.id, status=UpdateStatus.PUBLISHED,
                    published_at=utcnow(), title_en="Spring list", title_zh="春季書單",
                    body_en="b", body_zh="b")
    db.session.add(update)
    db.session.flush()
    publication = Publication(kind="update", target_id=update.id)
    db.session.add(publication)
    db.session.flush()
    return update, publication


def _statements_of_fan_out(publication_id: int) -> tuple[int, int]:
    """(statements sent, emails queued) by one fan-out."""
    from sqlalchemy import event as sa_event

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args, **_kwargs):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
            statements.append(statement)

    db.session.expire_all()  # as in a worker: nothing already loaded
    engine = db.session.get_bind()
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        queued = notifications.fan_out(publication_id)
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    return len(statements), queued


def test_the_fan_out_runs_the_same_statements_for_5_or_300_recipients(app):
    organiser = make_user()
    small_hub, large_hub = make_hub(), make_hub()
    members(small_hub, 5, "few")
    members(large_hub, 300, "many")
    _, small = _published_update(small_hub, organiser)
    _, large = _published_update(large_hub, organiser)

    few_statements, few = _statements_of_fan_out(small.id)
    many_statements, many = _statements_of_fan_out(large.id)

    assert (few, many) == (5, 300)
    assert many_statements == few_statements, "the fan-out grows with its recipients"
    assert few_statements <= 12
    # Run again, it reads which emails exist in one query and adds none.
    large.done_at = None
    db.session.flush()
    again_statements, again = _statements_of_fan_out(large.id)
    assert again == 0 and again_statements <= many_statements


def test_each_batched_email_is_the_one_rendered_for_that_person_alone(app):
    from community.mail import render_email

    hub = make_hub()
    organiser = make_user()
    people = members(hub, 4, "render")
    people[0].display_name = 'Ann <b>&"Co"'
    people[1].display_name = "陳 <i>"
    db.session.flush()
    update, publication = _published_update(hub, organiser)

    assert notifications.fan_out(publication.id, batch=3) == 4

    for person in people:
        [email] = outbox(person.email)
        link = notifications.unsubscribe_url(person, "updates")
        subject, text, html = render_email(
            person.locale, "new_update", display_name=person.display_name,
            unsubscribe_url=link, update=update, owner=hub,
            update_url=f"https://harbour.test/updates/{update.public_id}")
        assert (email.subject, email.body_text, email.body_html) == (subject, text, html)
        assert email.extra_headers == (f"List-Unsubscribe: <{link}>\n"
                                       "List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        assert email.dedupe_key == f"publish:update:{update.public_id}:{person.public_id}"
    [ann] = outbox(people[0].email)
    assert 'Ann <b>&"Co"' in ann.body_text
    assert "Ann &lt;b&gt;&amp;&#34;Co&#34;" in ann.body_html


def test_a_bad_address_is_skipped_and_the_others_still_hear(app):
    hub = make_hub()
    organiser = make_user()
    people = members(hub, 3, "skip")
    people[1].email = "two@addresses.example, other@evil.example"
    db.session.flush()
    _, publication = _published_update(hub, organiser)

    assert notifications.fan_out(publication.id) == 2
    assert {email.to_address for email in outbox()} == {people[0].email, people[2].email}


def test_each_batched_event_email_is_the_one_rendered_for_that_person_alone(app):
    from community.events.models import Audience, EventStatus
    from community.factories import make_event
    from community.mail import render_email

    hub = make_hub()
    organiser = make_user()
    people = members(hub, 3, "event-render")
    people[2].display_name = "Léa & <Sam>"
    event = make_event(hub, status=EventStatus.PUBLISHED, audience=Audience.MEMBERS,
                       created_by_id=organiser.id, title_en="Night walk", title_zh="夜行",
                       starts_at=datetime(2099, 6, 1, 18, 0, tzinfo=UTC),
                       timezone="Asia/Hong_Kong")
    db.session.add(Publication(kind="event", target_id=event.id))
    db.session.flush()
    publication = db.session.scalars(select(Publication).where(
        Publication.target_id == event.id, Publication.kind == "event")).one()

    assert notifications.fan_out(publication.id, batch=2) == 3

    for person in people:
        [email] = outbox(person.email)
        subject, text, html = render_email(
            person.locale, "new_event", display_name=person.display_name,
            unsubscribe_url=notifications.unsubscribe_url(person, "events"), event=event,
            hub=hub, event_url=f"https://harbour.test/events/{event.public_id}")
        assert (email.subject, email.body_text, email.body_html) == (subject, text, html)
