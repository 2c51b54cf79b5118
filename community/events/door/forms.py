"""Forms of the door-staff pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from community.events.attendees.forms import CheckinCodeForm
from community.validators import ChoiceField

__all__ = ["AssignForm", "CheckinCodeForm", "RemoveForm"]


class AssignForm(FlaskForm):
    """Pick one active member of the hub (the choices are set by the route)."""

    member = ChoiceField(_l("Member of the hub"), choices=[])

    def set_candidates(self, memberships) -> None:
        self.member.choices = [SelectChoice("", _l("Choose a member"))] + [
            SelectChoice(m.public_id, m.shown_name) for m in memberships]


class RemoveForm(FlaskForm):
    """A button that only needs CSRF protection."""
