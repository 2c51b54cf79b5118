"""The outbox without a mail server: rendering, queueing, deduplication and
the R44 guards on headers and HTML."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, get_locale, gettext

from community import mail
from community.database import utcnow
from community.extensions import db
from community.mail import (
    InvalidRecipient,
    MailConfigurationError,
    RemoteResourceInEmail,
    build_message,
    check_no_remote_resources,
    queue_email,
    queue_templated_email,
    send_pending,
)
from community.outbox_models import OutboxEmail, OutboxStatus

DAY = date(2025, 3, 4)


def queue_test_message(locale: str = "en", **kw) -> OutboxEmail | None:
    kw.setdefault("to_address", "member@example.org")
    kw.setdefault("topic", "Spring picnic")
    kw.setdefault("note", "See you there")
    return queue_templated_email(locale=locale, template="test_message", day=DAY, **kw)


def outbox_rows() -> list[OutboxEmail]:
    return list(db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)))


def test_templated_email_is_queued_with_a_one_line_subject_text_and_html():
    email = queue_test_message(note="Bring <snacks> & tea")

    assert outbox_rows() == [email]
    assert email.status is OutboxStatus.PENDING and email.attempts == 0
    assert email.subject == "Harbour: Spring picnic"
    assert "https://harbour.test/" in email.body_text
    assert "Tuesday, 4 March 2025" in email.body_text  # British English unless told
    # Text is not HTML-escaped; HTML is.
    assert "Bring <snacks> & tea" in email.body_text
    assert "Bring &lt;snacks&gt; &amp; tea" in email.body_html
    assert '<html lang="en">' in email.body_html
    assert '<a href="https://harbour.test/">' in email.body_html


def test_templated_email_is_rendered_in_the_recipients_language():
    email = queue_test_message("zh_Hant_HK")

    with force_locale("zh_Hant_HK"):
        home_link = gettext("Go to the home page")
        site = gettext("Harbour")
    # Babel writes the date the Hong Kong Chinese way only under the forced locale.
    assert "2025年3月4日星期二" in email.body_text
    assert "2025年3月4日星期二" in email.body_html
    assert "Tuesday" not in email.body_text
    assert home_link in email.body_text and home_link in email.body_html
    assert email.subject == f"{site}: Spring picnic"
    assert '<html lang="zh-Hant-HK">' in email.body_html


def test_emailing_in_chinese_leaves_the_english_request_in_english(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert gettext("Go to the home page") == "Go to the home page"
        email = queue_test_message("zh_Hant_HK")
        assert gettext("Go to the home page") == "Go to the home page"
        assert str(get_locale()) == "en"
    assert "2025年3月4日星期二" in email.body_text


def test_dedupe_key_prevents_a_second_email():
    first = queue_test_message(dedupe_key="event-7-published:user-3")
    second = queue_test_message(dedupe_key="event-7-published:user-3")

    assert first is not None and second is None
    assert outbox_rows() == [first]


def test_losing_a_dedupe_race_keeps_the_callers_transaction_usable(monkeypatch):
    first = queue_test_message(dedupe_key="race")
    # Another request inserted the same key after our check: the unique
    # constraint must stop the insert without spoiling this transaction.
    real_check = mail._dedupe_key_taken
    calls = []

    def check_misses_the_other_insert_once(key: str) -> bool:
        calls.append(key)
        return len(calls) > 1 and real_check(key)

    monkeypatch.setattr(mail, "_dedupe_key_taken", check_misses_the_other_insert_once)

    assert queue_test_message(dedupe_key="race") is None
    other = queue_test_message(to_address="other@example.org")
    db.session.commit()
    assert outbox_rows() == [first, other]


def test_templates_receive_base_url_from_config_not_from_the_caller():
    email = queue_test_message(base_url="https://evil.example")
    assert "evil.example" not in email.body_text + email.body_html


def test_r44_subject_and_header_values_lose_cr_and_lf():
    email = queue_email(
        db.session,
        to_address="member@example.org",
        subject="Subject\r\nBcc: spy@example.net",
        body_text="Hello",
        extra_headers={"List-Unsubscribe": "<https://harbour.test/u>\r\nBcc: spy@example.net"},
    )
    templated = queue_test_message(topic="Picnic\nBcc: spy@example.net\r\n")

    assert email.subject == "Subject Bcc: spy@example.net"
    assert email.extra_headers == "List-Unsubscribe: <https://harbour.test/u> Bcc: spy@example.net"
    assert templated.subject == "Harbour: Picnic Bcc: spy@example.net"
    for value in (email.subject, email.extra_headers, templated.subject):
        assert "\r" not in value and "\n" not in value


@pytest.mark.parametrize(
    "address",
    [
        "member@example.org\r\nBcc: spy@example.net",
        "member@example.org, spy@example.net",
        "Member <member@example.org> spy@example.net",
        "not-an-address",
        "",
    ],
)
def test_r44_a_recipient_must_be_exactly_one_mailbox(address):
    with pytest.raises(InvalidRecipient):
        queue_email(db.session, to_address=address, subject="Hi", body_text="Hello")
    assert outbox_rows() == []


@pytest.mark.parametrize(
    "name", ["Bcc", "cc", "Reply-To", "From", "To", "X-Bad\r\nBcc", "X Bad", ""]
)
def test_r44_extra_headers_cannot_add_recipients_or_senders(name):
    with pytest.raises(ValueError, match="cannot be set"):
        queue_email(db.session, to_address="member@example.org", subject="Hi",
                    body_text="Hello", extra_headers={name: "spy@example.net"})


def test_r44_unsafe_stored_header_lines_are_dropped_when_the_message_is_built():
    # A row written around queue_email still cannot add a recipient or a header line.
    email = OutboxEmail(
        to_address="member@example.org",
        subject="Hi\r\nBcc: spy@example.net",
        body_text="Hello",
        extra_headers="Bcc: spy@example.net\nList-Id: <hub.harbour.test>\nno colon here",
    )
    db.session.add(email)
    db.session.flush()

    message = build_message(email, "Harbour <no-reply@harbour.test>", utcnow())

    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: spy@example.net"
    assert message["List-Id"] == "<hub.harbour.test>"
    assert message.as_string().count("spy@example.net") == 1


@pytest.mark.parametrize(
    "html",
    [
        '<p><img src="https://tracker.example/p.gif" alt=""></p>',
        '<link rel="stylesheet" href="https://cdn.example/a.css">',
        "<style>@import 'https://cdn.example/a.css';</style>",
        '<div style="background-image: url(https://tracker.example/p.gif)">x</div>',
        '<table background="https://tracker.example/bg.png"><tr><td>x</td></tr></table>',
        '<iframe src="https://example.net"></iframe>',
        '<script src="https://cdn.example/a.js"></script>',
        '<picture><source srcset="https://tracker.example/a.webp"></picture>',
    ],
)
def test_r44_html_that_loads_anything_remote_is_refused(html):
    with pytest.raises(RemoteResourceInEmail):
        check_no_remote_resources(html)


def test_r44_links_and_inline_styles_are_allowed_in_html():
    check_no_remote_resources(
        '<p style="color:#333">src=1 url(x) is just text; '
        '<a href="https://harbour.test/events/abc">an event</a></p>'
    )


def test_r44_rendered_templates_load_nothing_remote():
    for locale in ("en", "zh_Hant_HK"):
        email = queue_test_message(locale)
        check_no_remote_resources(email.body_html)
        assert "<img" not in email.body_html and "<link" not in email.body_html


def test_message_has_text_and_html_parts_and_a_stable_keyed_message_id():
    email = queue_test_message()
    first = build_message(email, "Harbour <no-reply@harbour.test>", utcnow())
    later = build_message(email, "Harbour <no-reply@harbour.test>", utcnow() + timedelta(hours=2))

    assert first["From"] == "Harbour <no-reply@harbour.test>"
    assert first["To"] == "member@example.org"
    assert first.get_body(("plain",)).get_content().startswith("Go to the home page")
    assert "<html" in first.get_body(("html",)).get_content()
    assert first["Message-ID"] == later["Message-ID"]
    assert first["Message-ID"].endswith("@harbour.test>")
    # Keyed, so it says nothing about how many emails were sent.
    assert f"<{email.id}@" not in first["Message-ID"]


def test_backoff_grows_then_stays_at_four_hours():
    waits = [mail.backoff(n) for n in range(1, 8)]
    assert waits[:5] == [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
    assert waits[5:] == [timedelta(minutes=240)] * 2


def test_outbox_only_backend_leaves_mail_pending():
    email = queue_test_message()
    report = send_pending(now=datetime(2100, 1, 1, tzinfo=UTC))
    assert report.attempted == 0
    assert email.status is OutboxStatus.PENDING and email.attempts == 0


def test_an_unknown_backend_is_a_configuration_error(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "carrier-pigeon")
    with pytest.raises(MailConfigurationError, match="MAIL_BACKEND"):
        send_pending()


def test_credentials_are_never_sent_in_clear_text_to_a_remote_server(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example.net")
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "harbour")
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "secret")
    email = queue_test_message()

    with pytest.raises(MailConfigurationError, match="clear text"):
        send_pending()
    assert email.attempts == 0
