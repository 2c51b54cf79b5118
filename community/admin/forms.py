"""Forms of the admin area. Shape checks only; the rules are in admin.services."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError

from community.auth.forms import strip
from community.hubs.models import HubStatus
from community.i18n import valid_timezone

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


# --- chapters and hubs -------------------------------------------------------

CHAPTER_CODE = re.compile(r"[a-z0-9-]{2,16}\Z")
NAME_MAX_LENGTH = 100

HUB_STATUS_LABELS = {
    HubStatus.ACTIVE: _l("Active"),
    HubStatus.ARCHIVED: _l("Archived"),
    HubStatus.PENDING: _l("Waiting for approval"),
    HubStatus.DECLINED: _l("Declined"),
}


def _a_chapter_code(_form, field) -> None:
    if not isinstance(field.data, str) or not CHAPTER_CODE.match(field.data):
        raise ValidationError(_l("Use 2 to 16 lowercase letters, digits or hyphens."))


def _a_time_zone(_form, field) -> None:
    if valid_timezone(field.data) is None:
        raise ValidationError(_l("Choose a time zone from the list, such as Europe/London."))


def _name(label):
    return StringField(
        label, filters=[strip],
        validators=[DataRequired(message=_l("Enter a name.")),
                    Length(max=NAME_MAX_LENGTH, message=_l("Use at most %(max)d characters."))],
        render_kw={"maxlength": NAME_MAX_LENGTH})


class ChapterEditForm(FlaskForm):
    """A chapter's names in both languages and its default time zone."""

    name_en = _name(_l("Name in English"))
    name_zh = _name(_l("Name in Chinese"))
    default_timezone = StringField(
        _l("Default time zone"), filters=[strip],
        validators=[DataRequired(message=_l("Choose a time zone.")), _a_time_zone],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"})


class ChapterForm(ChapterEditForm):
    """A new chapter: the edit form plus its code, which never changes."""

    code = StringField(
        _l("Code"), filters=[strip],
        validators=[DataRequired(message=_l("Enter a code.")), _a_chapter_code],
        render_kw={"maxlength": 16, "autocomplete": "off", "spellcheck": "false"})


class CoordinatorForm(FlaskForm):
    """Appoint the person with this public id (a button per search result)."""

    user = StringField(validators=[DataRequired(), Length(max=32)], filters=[strip])


class HubFilterForm(FlaskForm):
    """The hub list's filters, read from the query string (no CSRF)."""

    class Meta:
        csrf = False

    chapter = SelectField(_l("Chapter"), default="", validate_choice=False)
    status = SelectField(
        _l("Status"), default="", validate_choice=False,
        choices=[SelectChoice("", _l("Any status")),
                 *(SelectChoice(status.value, label)
                   for status, label in HUB_STATUS_LABELS.items())],
        validators=[AnyOf(["", *(s.value for s in HubStatus)],
                          message=_l("Choose a status from the list."))])

    def set_chapters(self, choices: list[tuple[str, str]]) -> None:
        self.chapter.choices = [SelectChoice("", _l("All chapters")),
                                *(SelectChoice(value, label) for value, label in choices)]
        allowed = [""] + [value for value, _label in choices]
        self.chapter.validators = [AnyOf(allowed, message=_l("Choose a chapter from the list."))]


class LeadForm(FlaskForm):
    """Make one of the hub's active members its lead."""

    member = SelectField(_l("New lead"), validate_choice=False,
                         validators=[DataRequired(message=_l("Choose a member."))])

    def set_members(self, choices: list[tuple[str, str]]) -> None:
        # A required <select> starts with an empty placeholder (HTML: the first
        # option of a required single select must have an empty value).
        self.member.choices = [SelectChoice("", _l("Choose a member"))] + [
            SelectChoice(value, label) for value, label in choices]


def audit_filters(formdata, actions: list[str]) -> tuple[AuditFilterForm, dict]:
    """The audit filter form over ``actions`` and the filters that passed their
    check: one bad field does not throw away the others."""
    from community.audit import describe

    form = AuditFilterForm(formdata=formdata)
    form.set_actions([(action, describe(action)) for action in actions])
    form.validate()
    filters = {
        "actor_name": "" if form.actor.errors else (form.actor.data or ""),
        "action": "" if form.action.errors else (form.action.data or ""),
        "since": None if form.since.errors else parse_date(form.since.data),
        "until": None if form.until.errors else parse_date(form.until.data),
    }
    return form, filters


def audit_query_args(filters: dict) -> dict:
    """The filters as query-string values for pagination and CSV links."""
    return {
        "actor": filters["actor_name"] or None,
        "action": filters["action"] or None,
        "since": filters["since"].isoformat() if filters["since"] else None,
        "until": filters["until"].isoformat() if filters["until"] else None,
    }
