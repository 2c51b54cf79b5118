"""Forms of the admin area. Shape checks only; the rules are in admin.services."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError

from community.auth.forms import strip

REASON_MAX_LENGTH = 500

REPORT_ACTIONS = {
    "dismiss": _l("Dismiss: no action needed"),
    "hide": _l("Hide the content"),
    "warn": _l("Warn the author by email"),
    "disable": _l("Disable the author's account"),
}


def parse_date(value: str | None) -> date | None:
    """A YYYY-MM-DD date, or None for anything else."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _a_date(_form, field) -> None:
    if field.data and parse_date(field.data) is None:
        raise ValidationError(_l("Enter a date as YYYY-MM-DD."))


class ButtonForm(FlaskForm):
    """A button that only needs CSRF protection (disable, enable)."""


class ConfirmForm(FlaskForm):
    """The confirmation step of granting or revoking site admin."""

    confirm = BooleanField(
        _l("I understand"),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )


class UserSearchForm(FlaskForm):
    """Search people by display name or email (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Display name or email"), filters=[strip],
                    validators=[Length(max=254, message=_l("Use at most %(max)d characters."))])


class AuditFilterForm(FlaskForm):
    """The audit trail's filters, read from the query string (no CSRF)."""

    class Meta:
        csrf = False

    actor = StringField(_l("Who (display name)"), filters=[strip],
                        validators=[Length(max=64, message=_l("Use at most %(max)d characters."))])
    action = SelectField(_l("Action"), default="", validate_choice=False)
    since = StringField(_l("From (YYYY-MM-DD)"), filters=[strip], validators=[_a_date],
                        render_kw={"type": "date"})
    until = StringField(_l("To (YYYY-MM-DD)"), filters=[strip], validators=[_a_date],
                        render_kw={"type": "date"})

    def set_actions(self, choices: list[tuple[str, str]]) -> None:
        self.action.choices = [SelectChoice("", _l("All actions")),
                               *(SelectChoice(value, label) for value, label in choices)]
        allowed = [""] + [value for value, _label in choices]
        self.action.validators = [AnyOf(allowed, message=_l("Choose an action from the list."))]


class ReportActionForm(FlaskForm):
    """What to do about one report, and why (recorded, and sent to the author
    when warning them)."""

    action = RadioField(
        _l("Decision"),
        choices=[SelectChoice(value, label) for value, label in REPORT_ACTIONS.items()],
        validate_choice=False,
        validators=[AnyOf(list(REPORT_ACTIONS), message=_l("Choose one of the decisions."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        filters=[strip],
        validators=[DataRequired(message=_l("Give a short reason.")),
                    Length(max=REASON_MAX_LENGTH,
                           message=_l("Use at most %(max)d characters."))],
        render_kw={"rows": 2, "maxlength": REASON_MAX_LENGTH},
    )
