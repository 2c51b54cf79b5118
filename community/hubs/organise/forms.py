"""Forms of the organiser pages. Shape checks only; the rules are in organise_services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length

from community.auth.forms import strip
from community.hubs.models import MemberRole
from community.hubs.organise.services import NOTES_MAX_LENGTH
from community.validators import one_line_breaks

ROLE_LABELS = {
    MemberRole.MEMBER: _l("Member"),
    MemberRole.ORGANISER: _l("Organiser"),
    MemberRole.LEAD: _l("Lead"),
}


def role_label(role: MemberRole | str) -> str:
    """A role in the viewer's language; an unknown value as it is."""
    try:
        return str(ROLE_LABELS[MemberRole(getattr(role, "value", role))])
    except (ValueError, KeyError):
        return str(role)



class MemberActionForm(FlaskForm):
    """Approve, decline and remove: a button that only needs CSRF protection."""


class NotesForm(FlaskForm):
    """Private notes about one member; the page prefixes each row's form with
    the membership's id, so every field has its own id."""

    notes = TextAreaField(
        _l("Private notes"),
        filters=[strip, one_line_breaks],
        validators=[Length(max=NOTES_MAX_LENGTH,
                           message=_l("Use at most %(max)d characters."))],
        render_kw={"rows": 2, "maxlength": NOTES_MAX_LENGTH},
    )


class RoleForm(FlaskForm):
    # validate_choice is off so that the message below, which is in our
    # catalogue, is the one shown for a value that is not a role.
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validate_choice=False,
        validators=[AnyOf([role.value for role in MemberRole],
                          message=_l("Choose member, organiser or lead."))],
    )


class AuditFilterForm(FlaskForm):
    """The audit page's filter, read from the query string (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), default="", validate_choice=False)

    def set_actions(self, choices: list[tuple[str, str]]) -> None:
        self.action.choices = [SelectChoice("", _l("All actions")),
                               *(SelectChoice(value, label) for value, label in choices)]
        allowed = [""] + [value for value, _label in choices]
        self.action.validators = [AnyOf(allowed, message=_l("Choose an action from the list."))]
