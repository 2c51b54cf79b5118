"""The mail outbox: every email is a row written in the same transaction as
the change that caused it, then sent by `flask --app wsgi send-mail`.

``queue_templated_email`` renders an email in the recipient's language and
queues it; ``send_pending`` delivers what is due through MAIL_BACKEND
("console", "smtp" or "outbox-only"), retrying with backoff; ``init_cli``
registers the command.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import signal
import smtplib
import ssl
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from html.parser import HTMLParser

import click
import sqlalchemy as sa
from flask import Flask, current_app, render_template
from flask_babel import force_locale

from community.auth.models import User
from community.database import utcnow
from community.extensions import db
from community.i18n import english_region_of
from community.outbox_models import OutboxEmail, OutboxStatus, recipient_index
from community.transaction import immediate

# --- Queueing -------------------------------------------------------------

# Headers the outbox writes itself. A caller setting them could add recipients
# or show an organiser's personal address to attendees (R44).
RESERVED_HEADERS = frozenset({
    "bcc", "cc", "content-transfer-encoding", "content-type", "date", "from",
    "message-id", "mime-version", "reply-to", "resent-bcc", "resent-cc", "resent-from",
    "resent-sender", "resent-to", "return-path", "sender", "subject", "to",
})
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,75}\Z")
# One plain mailbox: no quoted local part, comment, group or second address.
ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+\Z")
SUBJECT_MAX_LENGTH = 300  # the column's length


class InvalidRecipient(ValueError):
    """The address is not exactly one mailbox, so the email can never be delivered."""


class RemoteResourceInEmail(ValueError):
    """An email's HTML would fetch something when opened (R44)."""


def _clean_header(value: str) -> str:
    """Header values never carry CR, LF or other control characters (R44: no header injection)."""
    spaced = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value
    )
    return " ".join(spaced.split())


def single_address(value: str) -> str:
    """The one addr-spec in ``value`` ("a@example.org" or "Name <a@example.org>").

    Raises InvalidRecipient for none, several, or anything else that could
    smuggle in a second recipient.
    """
    pairs = getaddresses([_clean_header(value)])
    if len(pairs) != 1 or not ADDR_SPEC.match(pairs[0][1]):
        raise InvalidRecipient("not exactly one email address")
    return pairs[0][1]


def _format_extra_headers(headers: dict[str, str] | None) -> str:
    """Extra headers as stored: "Name: value" lines. Raises ValueError for a
    malformed or reserved name."""
    lines = []
    for name, value in (headers or {}).items():
        if not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
            raise ValueError(f"the header {name!r} cannot be set on an outbox email")
        lines.append(f"{name}: {_clean_header(str(value))}")
    return "\n".join(lines)


def _parse_extra_headers(stored: str) -> list[tuple[str, str]]:
    """The stored header lines that are still safe to send; anything else is dropped."""
    headers = []
    for line in stored.splitlines():
        name, colon, value = line.partition(":")
        name = name.strip()
        if colon and HEADER_NAME.match(name) and name.lower() not in RESERVED_HEADERS:
            headers.append((name, _clean_header(value)))
    return headers


def queue_email(
    session,
    *,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    user_id: int | None = None,
    dedupe_key: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> OutboxEmail:
    """Add an email to the outbox in the caller's transaction and flush it.

    Raises InvalidRecipient unless ``to_address`` is one mailbox, and ValueError
    for a malformed or reserved extra header. A duplicate ``dedupe_key``
    surfaces as an IntegrityError at flush; queue_templated_email handles it.
    """
    single_address(to_address)
    email = OutboxEmail(
        user_id=user_id,
        to_address=_clean_header(to_address),
        subject=_clean_header(subject)[:SUBJECT_MAX_LENGTH],
        body_text=body_text,
        body_html=body_html,
        dedupe_key=dedupe_key,
        extra_headers=_format_extra_headers(extra_headers),
    )
    session.add(email)
    session.flush()
    return email


def _dedupe_key_taken(dedupe_key: str) -> bool:
    query = sa.select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key).limit(1)
    return db.session.scalar(query) is not None


def render_email(locale: str, template: str, date_format: str | None = None,
                 **context) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of ``templates/email/<template>.*`` in
    ``locale``, with dates in the recipient's English (``date_format``, their
    account's choice; never the acting person's browser region).
    Raises jinja2.TemplateNotFound or RemoteResourceInEmail (R44)."""
    config = current_app.config
    # Links come from the configuration, never from the request's Host (R29).
    context.update(base_url=config["BASE_URL"].rstrip("/"), site_name=config["SITE_NAME"])
    with force_locale(locale), english_region_of(date_format):
        subject = _clean_header(render_template(f"email/{template}.subject.txt", **context))
        body_text = render_template(f"email/{template}.txt", subject=subject, **context)
        body_html = render_template(f"email/{template}.html", subject=subject, **context)
    check_no_remote_resources(body_html)
    return subject, body_text.rstrip() + "\n", body_html

def _account_of(to_address: str) -> User | None:
    """The account whose address ``to_address`` is, for mail queued to a bare
    address: travel mode holds that too (issue 16)."""
    index = recipient_index(to_address)
    if index is None:
        return None
    return db.session.scalar(sa.select(User).where(User.email_index == index).limit(1))


def queue_templated_email(
    *,
    to_address: str,
    locale: str,
    template: str,
    user_id: int | None = None,
    dedupe_key: str | None = None,
    extra_headers: dict[str, str] | None = None,
    **context,
) -> OutboxEmail | None:
    """Render ``templates/email/<template>.subject.txt``, ``.txt`` and ``.html``
    in the recipient's ``locale`` and queue the email in the current transaction.

    Templates get ``base_url`` and ``site_name`` from the configuration, and
    ``subject`` in the bodies. Babel's date filters use the acting user's time
    zone, not the recipient's: format times with ``format_in_zone`` and an
    explicit zone. Returns None, adding nothing, when an email with
    ``dedupe_key`` exists already or the recipient ``user_id`` has travel mode
    on. Raises jinja2.TemplateNotFound, RemoteResourceInEmail (R44),
    InvalidRecipient, or ValueError for a reserved extra header.
    """
    if dedupe_key is not None and _dedupe_key_taken(dedupe_key):
        return None
    recipient = (db.session.get(User, user_id) if user_id is not None
                 else _account_of(to_address))
    if recipient is not None and recipient.travel_mode_since is not None:
        return None  # travel mode stops all email to the member (issue 16)
    if user_id is None:
        recipient = None  # a bare address keeps the default date format
    subject, body_text, body_html = render_email(
        locale, template, getattr(recipient, "date_format", None), **context)
    try:
        # A savepoint, so that losing a race for the dedupe key rolls back
        # this insert only and leaves the caller's transaction usable.
        with db.session.begin_nested():
            email = queue_email(
                db.session,
                to_address=to_address,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                user_id=user_id,
                dedupe_key=dedupe_key,
                extra_headers=extra_headers,
            )
    except sa.exc.IntegrityError:
        if dedupe_key is not None and _dedupe_key_taken(dedupe_key):
            return None
        raise
    return email


# --- Queueing many at once (a publication's fan-out) -----------------------


def taken_dedupe_keys(keys: list[str]) -> set[str]:
    """Which of ``keys`` already have an email: one query."""
    if not keys:
        return set()
    return set(db.session.scalars(
        sa.select(OutboxEmail.dedupe_key).where(OutboxEmail.dedupe_key.in_(keys))))


def outbox_row(*, to_address: str, subject: str, body_text: str, body_html: str,
               user_id: int | None, dedupe_key: str, extra_headers: dict[str, str] | None,
               now: datetime) -> dict:
    """One email as a row for ``insert_emails``, checked as ``queue_email``
    checks it. Raises InvalidRecipient or ValueError (a reserved header)."""
    single_address(to_address)
    return {
        "user_id": user_id,
        "to_address": _clean_header(to_address),
        # Core inserts skip the model's validator: index the recipient here too.
        "to_index": recipient_index(to_address),
        "subject": _clean_header(subject)[:SUBJECT_MAX_LENGTH],
        "body_text": body_text,
        "body_html": body_html,
        "dedupe_key": dedupe_key,
        "extra_headers": _format_extra_headers(extra_headers),
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def insert_emails(rows: list[dict]) -> int:
    """Add ``rows`` (from ``outbox_row``) to the outbox in one INSERT, in the
    caller's transaction, skipping any whose dedupe key exists already, even
    one a concurrent transaction is inserting (``ON CONFLICT DO NOTHING``,
    on SQLite and PostgreSQL alike). Returns how many were added."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover (Harbour runs on SQLite and PostgreSQL)
        raise RuntimeError(f"insert_emails does not know {dialect}")
    statement = (insert(OutboxEmail.__table__)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(OutboxEmail.__table__.c.id))
    # SQLAlchemy sends the rows as one multi-row INSERT (its "insertmanyvalues"
    # batches 1,000 rows a statement), compiled once. Counting the returned
    # ids, since the drivers' rowcount is not dependable for this.
    return len(db.session.execute(statement, rows).all())


# Elements and attributes that make a mail client fetch something on opening;
# a remote fetch tells the sender who read the email, when and from where (R39, R44).
_FETCHING_TAGS = frozenset({
    "audio", "base", "embed", "frame", "frameset", "iframe", "image", "img", "input",
    "link", "object", "picture", "script", "source", "svg", "track", "use", "video",
})
_FETCHING_ATTRIBUTES = frozenset({
    "background", "data", "dynsrc", "lowsrc", "poster", "src", "srcset", "xlink:href",
})
_CSS_FETCH = re.compile(r"url\s*\(|@import|image-set\s*\(", re.IGNORECASE)


class _RemoteResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag in _FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name in _FETCHING_ATTRIBUTES:
                self.found.append(f"{name}=")
            elif name == "style" and value and _CSS_FETCH.search(value):
                self.found.append("url() in a style attribute")
        self._in_style = tag == "style"

    def handle_endtag(self, tag) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data) -> None:
        if self._in_style and _CSS_FETCH.search(data):
            self.found.append("url() in <style>")


def check_no_remote_resources(html: str) -> None:
    """Raise RemoteResourceInEmail if ``html`` would load an image, style,
    script or frame when opened (R44). A guard for our templates, not a sanitiser."""
    finder = _RemoteResourceFinder()
    finder.feed(html)
    finder.close()
    if finder.found:
        raise RemoteResourceInEmail("email HTML loads " + ", ".join(sorted(set(finder.found))))


# --- Sending --------------------------------------------------------------

# Minutes to wait after the 1st, 2nd, ... failed attempt; the last step repeats.
BACKOFF_MINUTES = (1, 5, 15, 60, 240)
DEFAULT_MAX_ATTEMPTS = 8
SMTP_TIMEOUT_SECONDS = 10


class MailConfigurationError(RuntimeError):
    """The MAIL_* settings cannot work; raised before any email is touched."""


class MailServerUnavailable(Exception):
    """No connection to the mail server; the rest of the batch waits for the next run."""


@dataclass
class SendReport:
    """What one batch did: sent, given up for good, or left to retry later."""

    sent: int = 0
    failed: int = 0
    retry_later: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.retry_later

    def __str__(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, retry later {self.retry_later}"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    step = BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1]
    return timedelta(minutes=step)


def _describe_failure(exc: BaseException) -> str:
    """A short reason for ``last_error``: the kind of error and the SMTP code.

    Never the server's own words, which may echo the recipient's address (R40)
    or a user name.
    """
    cause = exc.__cause__ if isinstance(exc, MailServerUnavailable) and exc.__cause__ else exc
    reason = type(cause).__name__
    code = getattr(cause, "smtp_code", None)
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(c) for c, _msg in cause.recipients.values()})
        code = ",".join(codes) or None
    if code:
        reason = f"{reason} {code}"
    if isinstance(exc, MailServerUnavailable):
        reason = f"mail server unavailable: {reason}"
    return reason[:200]


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _message_id(email: OutboxEmail, domain: str) -> str:
    """The same Message-ID on every attempt, so that a resend after a crash can
    be recognised as a duplicate; keyed, so it does not reveal a count of emails."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    seed = f"outbox-message-id:{email.id}:{email.created_at.isoformat()}".encode()
    digest = hmac.new(key, seed, hashlib.sha256).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(email: OutboxEmail, sender: str, now: datetime) -> EmailMessage:
    """The email as sent: text plus an HTML alternative when there is one.

    Raises InvalidRecipient for a malformed stored address.
    """
    message = EmailMessage()
    message["From"] = _clean_header(sender)
    message["To"] = single_address(email.to_address)
    message["Subject"] = _clean_header(email.subject)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = _message_id(email, _domain(single_address(sender)))
    for name, value in _parse_extra_headers(email.extra_headers):
        message[name] = value
    # Quoted-printable keeps every line 7-bit, for servers without 8BITMIME.
    message.set_content(email.body_text, cte="quoted-printable")
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html", cte="quoted-printable")
    return message


class ConsoleBackend:
    """Development default: print each email instead of sending it."""

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        lines = [f"{name}: {value}" for name, value in message.items()
                 if name.lower() not in ("content-type", "mime-version")]
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        lines += ["", text.get_content().rstrip() if text else ""]
        if html is not None:
            lines += ["", f"[HTML alternative: {len(html.get_content())} characters]"]
        rule = "-" * 72
        click.echo("\n".join([rule, *lines, rule]))

    def close(self) -> None:
        pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpBackend:
    """One SMTP connection per batch, opened on the first email."""

    def __init__(self, config, sender: str) -> None:
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.username = config.get("MAIL_USERNAME") or ""
        self.password = config.get("MAIL_PASSWORD") or ""
        # Greet with the sending domain rather than this machine's name.
        self.local_hostname = _domain(sender)
        self._connection: smtplib.SMTP | None = None
        if self.use_tls and self.use_ssl:
            raise MailConfigurationError("set MAIL_USE_TLS or MAIL_USE_SSL, not both")
        if self.username and not (self.use_tls or self.use_ssl) and not _is_loopback(self.host):
            raise MailConfigurationError(
                "MAIL_USERNAME is set but neither MAIL_USE_TLS nor MAIL_USE_SSL: "
                "refusing to send the password in clear text"
            )

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname,
                timeout=SMTP_TIMEOUT_SECONDS, context=context,
            )
        else:
            connection = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        try:
            if self.use_tls:
                # Raises if the server offers no STARTTLS: never fall back to clear text.
                connection.starttls(context=context)
            if self.username:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        """Raises MailServerUnavailable when no session can be opened, and
        smtplib.SMTPException or OSError when this one email was not accepted."""
        if self._connection is None:
            try:
                self._connection = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise MailServerUnavailable(_describe_failure(exc)) from exc
        try:
            self._connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
            raise  # smtplib has reset the session, so it can carry the next email
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def make_backend(config, sender: str) -> ConsoleBackend | SmtpBackend | None:
    """The backend MAIL_BACKEND names; None for "outbox-only", which leaves
    every email pending. Raises MailConfigurationError for anything else."""
    name = config.get("MAIL_BACKEND", "console")
    if name == "console":
        return ConsoleBackend()
    if name == "smtp":
        return SmtpBackend(config, sender)
    if name == "outbox-only":
        return None
    raise MailConfigurationError(
        f"MAIL_BACKEND must be console, smtp or outbox-only, not {name!r}"
    )


# Emails a PostgreSQL sender claims (locks) and records with one commit. Two
# senders claim different batches (SKIP LOCKED) and send side by side.
POSTGRES_CLAIM = 10


def _claim_due(now: datetime, count: int) -> list[OutboxEmail]:
    # The row locks are held while these emails are sent and released by the
    # commit that records them, so another sender skips them instead of
    # sending them again (and an account deletion waits for that commit).
    query = (
        sa.select(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(count)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(db.session.scalars(query))


def count_due(now: datetime | None = None) -> int:
    """How many emails are waiting and due at ``now``."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.PENDING,
               OutboxEmail.next_attempt_at <= (now or utcnow()))) or 0


def _record_failure(email: OutboxEmail, reason: str, at: datetime, max_attempts: int,
                    *, permanent: bool = False) -> bool:
    """Count a failed attempt; True when the email is given up for good."""
    email.attempts += 1
    email.last_error = reason[:500]
    if permanent or email.attempts >= max_attempts:
        email.status = OutboxStatus.FAILED
        return True
    email.next_attempt_at = at + backoff(email.attempts)
    return False


def forget_content(email: OutboxEmail) -> None:
    """Reduce a delivered email to its bookkeeping (id, dedupe key, status,
    times): who it went to and what it said is not kept (issue 13)."""
    email.to_address = ""
    email.subject = ""
    email.body_text = ""
    email.body_html = ""
    email.extra_headers = ""


def send_pending(
    limit: int = 100,
    now: datetime | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SendReport:
    """Send up to ``limit`` emails that are due at ``now``.

    On PostgreSQL a sender locks a batch of ``POSTGRES_CLAIM`` due emails
    (SELECT ... FOR UPDATE SKIP LOCKED), sends them and marks them sent in one
    commit, so concurrent senders never share an email, work side by side,
    and a sent one is never picked again. On SQLite each email is its own
    transaction, which holds the write lock, so senders take turns. What
    remains is an at-least-once window: if the process dies, or the database
    fails, after the server accepted an email but before the commit that
    records it, the email (on PostgreSQL, its batch) is sent again on a later
    run, with the same Message-ID, so mail clients can spot the duplicate.

    A failure counts an attempt and waits (``backoff``); after
    MAIL_MAX_ATTEMPTS attempts, or at once for an undeliverable address, the
    email is marked failed. When the server cannot be reached the rest of the
    batch waits for the next run. This commits the session, so call it from a
    worker or the CLI, never inside a request. Raises MailConfigurationError.
    """
    config = current_app.config
    try:
        sender = single_address(config["MAIL_FROM"])
    except InvalidRecipient as exc:
        raise MailConfigurationError("MAIL_FROM must hold one email address") from exc
    backend = make_backend(config, sender)
    report = SendReport()
    if backend is None:
        return report
    batch_time = now or utcnow()

    def clock() -> datetime:
        return now or utcnow()

    max_attempts = int(config.get("MAIL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
    # SQLite has no row locks: each email's transaction takes the write lock
    # first (BEGIN IMMEDIATE), so two senders never pick the same email; they
    # take turns, one email a commit, so web requests never wait long for the
    # lock. PostgreSQL senders each claim a batch, skipping rows another
    # sender holds, and record it with one commit.
    claim = POSTGRES_CLAIM if db.session.get_bind().dialect.name == "postgresql" else 1
    db.session.commit()
    with immediate():
        try:
            server_down = False
            while (report.attempted < limit and not server_down
                   and not (should_stop and should_stop())):
                batch = _claim_due(batch_time, min(claim, limit - report.attempted))
                if not batch:
                    break
                for email in batch:
                    if should_stop and should_stop():
                        break  # the rest stays pending: the commit releases it
                    if progress is not None:
                        progress(1)
                    try:
                        message = build_message(email, config["MAIL_FROM"], clock())
                        backend.send(message, sender, single_address(email.to_address))
                    except InvalidRecipient as exc:
                        gave_up = _record_failure(email, str(exc), clock(), max_attempts,
                                                  permanent=True)
                    except MailServerUnavailable as exc:
                        gave_up = _record_failure(email, _describe_failure(exc), clock(),
                                                  max_attempts)
                        server_down = True
                    except (smtplib.SMTPException, OSError) as exc:
                        gave_up = _record_failure(email, _describe_failure(exc), clock(),
                                                  max_attempts)
                    else:
                        email.status = OutboxStatus.SENT
                        email.sent_at = clock()
                        email.last_error = ""
                        forget_content(email)
                        report.sent += 1
                        continue
                    if gave_up:
                        report.failed += 1
                    else:
                        report.retry_later += 1
                    if server_down:
                        break  # the rest of the batch waits for the next run
                db.session.commit()
            # End the read transaction too, so a looping sender does not sit idle
            # in a transaction between batches.
            db.session.commit()
        finally:
            backend.close()
    return report


# --- Command line ---------------------------------------------------------


def _run_loop(limit: int, interval: float) -> None:
    """Send batches until SIGINT or SIGTERM. A signal lets the email being
    sent finish and be recorded, so stopping never causes a resend; a second
    one stops at once."""
    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        if stopping:
            raise KeyboardInterrupt
        stopping = True

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        while not stopping:
            report = send_pending(limit=limit, should_stop=lambda: stopping)
            if report.attempted:
                click.echo(str(report))
            if report.attempted >= limit:
                continue  # a full batch: more may be waiting
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("Stopped.")


def init_cli(app: Flask) -> None:
    """Register `flask --app wsgi send-mail`."""

    @app.cli.command("send-mail")
    @click.option("--loop", "keep_polling", is_flag=True,
                  help="Keep polling for new mail until stopped (Ctrl-C or SIGTERM).")
    @click.option("--interval", type=click.FloatRange(min=0), default=10.0, show_default=True,
                  help="Seconds between polls with --loop.")
    @click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
                  help="At most this many emails per batch.")
    def send_mail_command(keep_polling: bool, interval: float, limit: int) -> None:
        """Send the emails waiting in the outbox, retrying failed ones when due."""
        try:
            if keep_polling:
                click.echo(f"Sending mail every {interval:g} s; Ctrl-C to stop.")
                _run_loop(limit, interval)
            else:
                due = min(count_due(), limit)
                with click.progressbar(length=due, label="Sending mail") as bar:
                    report = send_pending(limit=limit, progress=bar.update)
                click.echo(str(report))
        except MailConfigurationError as exc:
            raise click.ClickException(str(exc)) from exc
