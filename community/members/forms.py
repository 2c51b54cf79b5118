"""Member area forms. Each form declares exactly what a member may change;
the service copies those fields and nothing else (R10)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from community.auth.forms import language_choices, strip
from community.auth.passwords import MAX_LENGTH
from community.i18n import ENGLISH_REGIONS
from community.validators import display_name_characters, known_timezone

DISPLAY_NAME_MAX = 64
class SettingsForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        filters=[strip],
        validators=[DataRequired(_l("Choose a display name.")),
                    Length(max=DISPLAY_NAME_MAX, message=_l("Use at most %(max)d characters.")),
                    display_name_characters],
        render_kw={"autocomplete": "nickname"},
    )
    # Checked in validate_locale, so a forged value gets our own translated message.
    locale = SelectField(_l("Language for emails and pages"), choices=language_choices,
                         validate_choice=False)
    date_format = SelectField(_l("How to write dates in English"), choices=lambda: [
        ("", _l("As my browser says")),
        ("en_GB", _l("United Kingdom: 9 December 2026, 18:00")),
        ("en_AU", _l("Australia: 9 December 2026, 6:00 pm")),
        ("en_CA", _l("Canada: December 9, 2026, 6:00 p.m.")),
        ("en_US", _l("United States: December 9, 2026, 6:00 PM")),
    ], validate_choice=False)
    # A text field with suggestions (<datalist>) rather than a 600-option select:
    # searchable by typing, and it needs no JavaScript (DESIGN §2 rule 5).
    timezone = StringField(
        _l("Time zone"),
        filters=[strip],
        validators=[DataRequired(_l("Enter a time zone, such as Europe/London.")),
                    known_timezone],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"},
    )
    notify_events = BooleanField(_l("New events in my hubs"))
    notify_updates = BooleanField(_l("New updates from my hubs"))
    notify_reminders = BooleanField(_l("Reminders before events I am going to"))
    notify_waitlist = BooleanField(_l("A place opening for me on a waiting list"))
    weekly_digest = BooleanField(_l("A weekly summary of what is coming up in my hubs"))

    def validate_date_format(self, field) -> None:
        if field.data not in (None, "", *ENGLISH_REGIONS):
            raise ValidationError(_l("Choose one of the date formats in the list."))

    def validate_locale(self, field) -> None:
        if field.data not in [choice.value for choice in language_choices()]:
            raise ValidationError(_l("Choose one of the languages in the list."))


class DeleteAccountForm(FlaskForm):
    """Deleting an account asks for the password again, on top of R20's re-authentication."""

    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")),
                    Length(max=MAX_LENGTH, message=_l("Use at most %(max)d characters."))],
        render_kw={"autocomplete": "current-password"},
    )


class HubNameForm(FlaskForm):
    """The name used in one hub; each hub's form on the page has its own prefix."""

    name = StringField(
        _l("Name in this hub"),
        filters=[strip],
        validators=[Length(max=DISPLAY_NAME_MAX, message=_l("Use at most %(max)d characters.")),
                    display_name_characters],
        render_kw={"autocomplete": "off"},
    )
