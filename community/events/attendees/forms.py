"""Forms of the organiser's attendee pages and the door check-in.

Shape checks only; the rules (capacity, who may be messaged, what a ticket
is worth) live in attendee_services.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

from community.auth.forms import strip
from community.events.attendees.services import (
    MESSAGE_BODY_MAX_LENGTH,
    MESSAGE_GROUPS,
    MESSAGE_SUBJECT_MAX_LENGTH,
    TICKET_CODE_MAX_LENGTH,
)
from community.hubs.organise.forms import one_line_breaks

SEARCH_MAX_LENGTH = 100

GROUP_LABELS = {
    "all": _l("Everyone going, on the waiting list or waiting for approval"),
    "going": _l("Going"),
    "waitlisted": _l("On the waiting list"),
    "pending": _l("Waiting for approval"),
    "declined": _l("Declined"),
}


class AttendeeActionForm(FlaskForm):
    """Confirm, move, decline and export: a button that only needs CSRF protection."""


class MessageForm(FlaskForm):
    """A plain-text message to one group of attendees, sent one email each."""

    # validate_choice is off so that the message below, which is in our
    # catalogue, is the one shown for a value that is not a group.
    group = SelectField(
        _l("Send to"),
        choices=[SelectChoice(value, label) for value, label in GROUP_LABELS.items()],
        default="all",
        validate_choice=False,
        validators=[AnyOf(list(MESSAGE_GROUPS), message=_l("Choose who gets the message."))],
    )
    subject = StringField(
        _l("Subject"),
        filters=[strip],
        validators=[
            DataRequired(_l("Write a subject.")),
            Length(max=MESSAGE_SUBJECT_MAX_LENGTH,
                   message=_l("Use at most %(max)d characters.")),
        ],
        render_kw={"maxlength": MESSAGE_SUBJECT_MAX_LENGTH, "autocomplete": "off"},
    )
    body = TextAreaField(
        _l("Message"),
        filters=[strip, one_line_breaks],
        validators=[
            DataRequired(_l("Write a message.")),
            Length(max=MESSAGE_BODY_MAX_LENGTH,
                   message=_l("Use at most %(max)d characters.")),
        ],
        render_kw={"rows": 10, "maxlength": MESSAGE_BODY_MAX_LENGTH},
    )


class CheckinCodeForm(FlaskForm):
    """A ticket code, typed or sent by a scanner that types like a keyboard."""

    code = StringField(
        _l("Ticket code"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter or scan a ticket code.")),
            Length(max=TICKET_CODE_MAX_LENGTH, message=_l("That is not a ticket code.")),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )


class CheckinPersonForm(FlaskForm):
    """The "check in" button beside a name: the button itself carries the RSVP's id."""

    rsvp = StringField(
        _l("Attendee"),
        filters=[strip],
        validators=[DataRequired(_l("Choose someone to check in.")),
                    Length(max=64, message=_l("Choose someone to check in."))],
    )


class CheckinSearchForm(FlaskForm):
    """The name search of the check-in list, read from the query string (no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search by display name"),
        filters=[strip],
        validators=[Length(max=SEARCH_MAX_LENGTH, message=_l("Use at most %(max)d characters."))],
        render_kw={"type": "search", "autocomplete": "off"},
    )
