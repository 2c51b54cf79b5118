"""Sending the outbox to a real SMTP server (aiosmtpd on 127.0.0.1): what
arrives, once, in the recipient's language, and after the server was down."""

from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask_babel import force_locale, gettext

from community import mail
from community.database import utcnow
from community.extensions import db
from community.mail import queue_email, queue_templated_email, send_pending
from community.outbox_models import OutboxEmail, OutboxStatus

DAY = date(2025, 3, 4)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts and can refuse mailboxes."""

    messages: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that a test can stop and start again
    on the same port, to play an outage."""

    def __init__(self, **smtp_options) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.smtp_options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Received]:
        return self.inbox.messages


def configure_smtp(app, monkeypatch, port: int) -> None:
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_FROM", "Harbour <no-reply@harbour.test>")


@pytest.fixture
def smtp_server(app, monkeypatch):
    server = SmtpServer()
    server.start()
    configure_smtp(app, monkeypatch, server.port)
    yield server
    server.stop()


def queue_test_message(locale: str = "en", **kw) -> OutboxEmail | None:
    kw.setdefault("to_address", "member@example.org")
    kw.setdefault("topic", "Spring picnic")
    kw.setdefault("note", "See you there")
    return queue_templated_email(locale=locale, template="test_message", day=DAY, **kw)


def reload(email: OutboxEmail) -> OutboxEmail:
    """The row as the database has it now (the CLI works in its own session)."""
    db.session.refresh(email)
    return email


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def test_queued_email_arrives_once_with_subject_sender_text_and_html(smtp_server):
    email = queue_test_message(note="Bring tea")

    report = send_pending()

    assert str(report) == "sent 1, failed 0, retry later 0"
    [received] = smtp_server.messages
    assert received.mail_from == "no-reply@harbour.test"
    assert received.rcpt_tos == ["member@example.org"]
    message = received.message
    assert message["Subject"] == "Harbour: Spring picnic"
    assert message["From"] == "Harbour <no-reply@harbour.test>"
    assert message["To"] == "member@example.org"
    assert message["Date"] and message["Message-ID"].endswith("@harbour.test>")
    assert message.get_content_type() == "multipart/alternative"
    assert "Bring tea" in text_of(message) and "https://harbour.test/" in text_of(message)
    assert "<p>Bring tea</p>" in html_of(message)
    assert email.status is OutboxStatus.SENT and email.sent_at is not None
    assert email.attempts == 0 and email.last_error == ""


def test_email_arrives_in_chinese_for_a_zh_hant_hk_recipient(smtp_server):
    queue_test_message("zh_Hant_HK", topic="春季野餐")
    queue_test_message("en", to_address="english@example.org")

    send_pending()

    chinese, english = (r.message for r in smtp_server.messages)
    with force_locale("zh_Hant_HK"):
        home_link, site = gettext("Go to the home page"), gettext("Harbour")
    assert chinese["Subject"] == f"{site}: 春季野餐"
    assert "2025年3月4日星期二" in text_of(chinese)
    assert "2025年3月4日星期二" in html_of(chinese)
    assert home_link in text_of(chinese)
    assert '<html lang="zh-Hant-HK">' in html_of(chinese)
    assert "Tuesday, 4 March 2025" in text_of(english)  # British English unless told
    assert "2025年" not in text_of(english)


def test_send_pending_commits_stay_inside_the_test_transaction(app, smtp_server):
    email = queue_test_message()
    send_pending()
    assert reload(email).status is OutboxStatus.SENT

    # The per-message commit released a savepoint: another connection sees nothing.
    with db.engine.connect() as other:
        assert other.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == 0


def test_running_the_sender_again_sends_nothing_twice(smtp_server):
    queue_test_message(to_address="one@example.org")
    queue_test_message(to_address="two@example.org")

    first = send_pending()
    second = send_pending()
    much_later = send_pending(now=utcnow() + timedelta(days=30))

    assert (first.sent, second.attempted, much_later.attempted) == (2, 0, 0)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "one@example.org", "two@example.org"
    ]


def test_nothing_is_lost_or_doubled_while_the_mail_server_is_down(smtp_server):
    email = queue_test_message()
    queued_at = utcnow()
    smtp_server.stop()

    down = send_pending()

    assert str(down) == "sent 0, failed 0, retry later 1"
    reload(email)
    assert email.status is OutboxStatus.PENDING
    assert email.attempts == 1
    assert email.next_attempt_at >= queued_at + timedelta(minutes=1)
    assert email.last_error == "mail server unavailable: ConnectionRefusedError"
    # Not due yet: a second run right away leaves it alone.
    assert send_pending().attempted == 0

    smtp_server.start()
    assert send_pending().attempted == 0  # still backing off
    with time_machine.travel(queued_at + timedelta(minutes=2), tick=True):
        back = send_pending()
        again = send_pending()

    assert (back.sent, again.attempted) == (1, 0)
    assert len(smtp_server.messages) == 1
    assert reload(email).status is OutboxStatus.SENT
    assert email.attempts == 1


def test_a_later_email_waits_while_the_server_is_down_and_both_arrive_after(smtp_server):
    first = queue_test_message(to_address="one@example.org")
    second = queue_test_message(to_address="two@example.org")
    smtp_server.stop()

    report = send_pending()

    # One failed connection is enough: the rest of the batch is not charged an attempt.
    assert str(report) == "sent 0, failed 0, retry later 1"
    assert (reload(first).attempts, reload(second).attempts) == (1, 0)

    smtp_server.start()
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=True):
        assert send_pending().sent == 2
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "one@example.org", "two@example.org"
    ]


def test_email_is_marked_failed_after_max_attempts(app, monkeypatch, smtp_server):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    email = queue_test_message()
    smtp_server.stop()
    start = utcnow()

    reports = [send_pending(now=start + timedelta(days=day)) for day in range(4)]

    assert [str(r) for r in reports] == [
        "sent 0, failed 0, retry later 1",
        "sent 0, failed 0, retry later 1",
        "sent 0, failed 1, retry later 0",
        "sent 0, failed 0, retry later 0",
    ]
    assert reload(email).status is OutboxStatus.FAILED
    assert email.attempts == 3 and email.sent_at is None


def test_a_refused_mailbox_is_retried_later_and_the_batch_goes_on(smtp_server):
    smtp_server.inbox.refused.add("gone@example.org")
    refused = queue_test_message(to_address="gone@example.org")
    fine = queue_test_message(to_address="member@example.org")

    report = send_pending()

    assert str(report) == "sent 1, failed 0, retry later 1"
    assert [r.rcpt_tos for r in smtp_server.messages] == [["member@example.org"]]
    assert reload(fine).status is OutboxStatus.SENT
    assert reload(refused).status is OutboxStatus.PENDING
    # The reason is kept short and never repeats the server's words or the address.
    assert refused.last_error == "SMTPRecipientsRefused 550"


def test_r44_injected_header_lines_never_reach_the_server(smtp_server):
    queue_email(
        db.session,
        to_address="member@example.org",
        subject="Subject\r\nBcc: spy@example.net",
        body_text="Hello",
        extra_headers={"X-Harbour-Hub": "london\r\nBcc: spy@example.net"},
    )
    queue_test_message(topic="Picnic\r\nBcc: spy@example.net")
    # A row written around queue_email is cleaned again when it is sent.
    db.session.add(OutboxEmail(
        to_address="member@example.org", subject="Hi\nCc: spy@example.net", body_text="Hello",
        extra_headers="Bcc: spy@example.net\nReply-To: organiser@example.net",
    ))
    db.session.flush()

    assert send_pending().sent == 3

    subjects = []
    for received in smtp_server.messages:
        assert received.rcpt_tos == ["member@example.org"]
        message = received.message
        for header in ("Bcc", "Cc", "Reply-To"):
            assert message[header] is None
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        subjects.append(message["Subject"])
    assert subjects == [
        "Subject Bcc: spy@example.net",
        "Harbour: Picnic Bcc: spy@example.net",
        "Hi Cc: spy@example.net",
    ]
    assert smtp_server.messages[0].message["X-Harbour-Hub"] == "london Bcc: spy@example.net"


def test_starttls_that_the_server_does_not_offer_is_never_skipped(app, monkeypatch, smtp_server):
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", True)
    email = queue_test_message()

    report = send_pending()

    assert str(report) == "sent 0, failed 0, retry later 1"
    assert smtp_server.messages == []
    assert reload(email).last_error == "mail server unavailable: SMTPNotSupportedError"


def test_the_configured_credentials_are_used_to_log_in(app, monkeypatch):
    # AUTH offered without TLS is only acceptable because this is loopback.
    server = SmtpServer(auth_require_tls=False)
    server.smtp_options["authenticator"] = server.inbox.authenticate
    server.start()
    try:
        configure_smtp(app, monkeypatch, server.port)
        monkeypatch.setitem(app.config, "MAIL_USERNAME", "harbour")
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", "mail-password")
        queue_test_message()

        assert send_pending().sent == 1
    finally:
        server.stop()
    assert server.inbox.logins == [(b"harbour", b"mail-password")]
    assert len(server.messages) == 1


def test_send_mail_command_sends_and_prints_a_summary(runner, smtp_server):
    email = queue_test_message()

    result = runner.invoke(args=["send-mail"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "sent 1, failed 0, retry later 0"
    assert "Sending mail" in result.output  # click's progress bar (its label when not a terminal)
    assert len(smtp_server.messages) == 1
    assert reload(email).status is OutboxStatus.SENT


def test_send_mail_command_respects_the_limit(runner, smtp_server):
    for n in range(3):
        queue_test_message(to_address=f"member{n}@example.org")

    first = runner.invoke(args=["send-mail", "--limit", "2"])
    second = runner.invoke(args=["send-mail", "--limit", "2"])

    assert first.output.strip().splitlines()[-1] == "sent 2, failed 0, retry later 0"
    assert second.output.strip().splitlines()[-1] == "sent 1, failed 0, retry later 0"
    assert len(smtp_server.messages) == 3


def test_send_mail_loop_finishes_the_batch_and_stops_cleanly_on_ctrl_c(
    runner, monkeypatch, smtp_server
):
    queue_test_message()
    real_send_pending = mail.send_pending
    handler_before = signal.getsignal(signal.SIGINT)

    def send_then_press_ctrl_c(**kwargs):
        report = real_send_pending(**kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return report

    monkeypatch.setattr(mail, "send_pending", send_then_press_ctrl_c)
    result = runner.invoke(args=["send-mail", "--loop", "--interval", "0"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Sending mail every 0 s; Ctrl-C to stop.",
        "sent 1, failed 0, retry later 0",
        "Stopped.",
    ]
    assert len(smtp_server.messages) == 1
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_send_mail_loop_stops_cleanly_on_keyboard_interrupt(runner, monkeypatch, smtp_server):
    calls = []

    def interrupted(**kwargs):
        calls.append(kwargs)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return mail.SendReport()

    monkeypatch.setattr(mail, "send_pending", interrupted)
    result = runner.invoke(args=["send-mail", "--loop", "--interval", "0", "--limit", "5"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Stopped."
    assert len(calls) == 3 and calls[0]["limit"] == 5


def test_console_backend_prints_the_message_and_marks_it_sent(app, monkeypatch, capsys):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    email = queue_test_message(note="Bring tea")

    report = send_pending()

    out = capsys.readouterr().out
    assert str(report) == "sent 1, failed 0, retry later 0"
    assert "To: member@example.org" in out
    assert "Subject: Harbour: Spring picnic" in out
    assert "Bring tea" in out and "https://harbour.test/" in out
    assert "[HTML alternative:" in out
    assert email.status is OutboxStatus.SENT


def test_console_backend_is_the_development_default():
    from community.config import DEFAULTS

    assert DEFAULTS["MAIL_BACKEND"] == "console"


@pytest.mark.no_db
def test_two_senders_at_once_send_each_email_exactly_once(app, monkeypatch):
    """Row locks with SKIP LOCKED keep concurrent senders apart (PostgreSQL;
    SQLite has no row locks and runs a single sender)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks need PostgreSQL")
    server = SmtpServer()
    server.start()
    configure_smtp(app, monkeypatch, server.port)
    addresses = [f"concurrent{n}@example.org" for n in range(20)]
    ids = []
    try:
        with app.app_context():
            for address in addresses:
                ids.append(queue_email(db.session, to_address=address, subject="Hi",
                                       body_text="Hello").id)
            db.session.commit()

        reports = []

        def worker() -> None:
            with app.app_context():
                reports.append(send_pending())
                db.session.remove()

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.stop()
        with app.app_context():
            # Delivered rows no longer hold their address: clean up by id.
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.id.in_(ids)))
            db.session.commit()
            db.session.remove()

    assert sum(r.sent for r in reports) == 20
    assert sorted(r.rcpt_tos[0] for r in server.messages) == sorted(addresses)


@pytest.mark.no_db
def test_a_second_sender_sends_while_the_first_is_held_up(app, monkeypatch):
    """Two PostgreSQL senders work side by side: while one waits on a slow
    server with its batch claimed, the other sends everything else, and no
    email goes twice."""
    from community import mail

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks need PostgreSQL; on SQLite one sender runs at a time")
    server = SmtpServer()
    server.start()
    configure_smtp(app, monkeypatch, server.port)
    addresses = [f"side-by-side{n}@example.org" for n in range(25)]
    held, release = threading.Event(), threading.Event()
    real_send = mail.SmtpBackend.send

    def slow_for_the_first(self, message, sender, recipient):
        if threading.current_thread().name == "slow" and not release.is_set():
            held.set()
            assert release.wait(timeout=60)
        return real_send(self, message, sender, recipient)

    monkeypatch.setattr(mail.SmtpBackend, "send", slow_for_the_first)
    reports: dict[str, object] = {}

    def sender() -> None:
        with app.app_context():
            reports[threading.current_thread().name] = send_pending(limit=100)
            db.session.remove()

    ids: list[int] = []
    try:
        with app.app_context():
            queued = [queue_email(db.session, to_address=address, subject="Hi",
                                  body_text="Hello") for address in addresses]
            db.session.commit()
            # Sent mail forgets its recipient (issue 13): clean up by id.
            ids += [email.id for email in queued]
        slow = threading.Thread(target=sender, name="slow")
        slow.start()
        assert held.wait(timeout=30)
        fast = threading.Thread(target=sender, name="fast")
        fast.start()
        fast.join(timeout=60)
        # The other sender finished everything but the slow one's claimed batch.
        fast_report = reports["fast"]
        assert fast_report.sent == len(addresses) - mail.POSTGRES_CLAIM
        release.set()
        slow.join(timeout=60)
    finally:
        release.set()
        server.stop()
        with app.app_context():
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.id.in_(ids)))
            db.session.commit()
            db.session.remove()

    assert reports["slow"].sent == mail.POSTGRES_CLAIM
    assert sorted(r.rcpt_tos[0] for r in server.messages) == sorted(addresses)


def test_sent_at_and_backoff_use_aware_utc_times(smtp_server):
    email = queue_test_message()
    with time_machine.travel(datetime(2030, 5, 6, 7, 8, tzinfo=UTC), tick=False):
        send_pending()
    assert reload(email).sent_at == datetime(2030, 5, 6, 7, 8, tzinfo=UTC)


def test_a_delivered_email_keeps_only_its_bookkeeping(smtp_server):
    """Issue 13: once the server has it, the row no longer says who it went to
    or what it said; the dedupe key still stops a second copy."""
    email = queue_test_message(note="Meet at the side door", dedupe_key="blank-test")
    waiting = email.to_address, email.subject
    assert waiting == ("member@example.org", "Harbour: Spring picnic")

    assert str(send_pending()) == "sent 1, failed 0, retry later 0"

    row = db.session.execute(sa.text(
        "SELECT to_address, to_index, subject, body_text, body_html, extra_headers, "
        "dedupe_key, status, sent_at FROM outbox_emails WHERE id = :id"), {"id": email.id}).one()
    assert row[:6] == ("", None, "", "", "", "")
    assert row.dedupe_key == "blank-test" and row.status == "sent" and row.sent_at is not None
    assert queue_test_message(dedupe_key="blank-test") is None
    assert "Meet at the side door" in text_of(smtp_server.messages[0].message)
