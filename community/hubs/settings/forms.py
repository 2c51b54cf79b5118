"""Forms of the hub settings and invite pages.

Each form declares exactly the fields an organiser may change; the route
passes those to a service and nothing else, so extra fields posted alongside
(status, chapter_id, slug, high_risk...) change nothing (R10).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from community.auth.forms import strip
from community.hubs.models import CountDisplay, HubVisibility, JoinPolicy
from community.validators import ChoiceField, WholeNumberField, at_most, known_timezone, one_line
from community.validators import no_control_characters as no_nul

NAME_MAX = 100
CITY_MAX = 100
DESCRIPTION_MAX = 10_000
JOIN_QUESTION_MAX = 300
EXPIRY_DAYS_MIN, EXPIRY_DAYS_MAX, EXPIRY_DAYS_DEFAULT = 1, 90, 7
MAX_USES_MIN, MAX_USES_MAX = 1, 1000




def join_policy_choices() -> list[SelectChoice]:
    return [
        SelectChoice(JoinPolicy.OPEN.value, _l("Open: anyone signed in can join")),
        SelectChoice(JoinPolicy.APPROVAL.value, _l("Approval: organisers approve each request")),
        SelectChoice(JoinPolicy.INVITE.value,
                     _l("Invitation only: people join with an invite link")),
    ]


def visibility_choices() -> list[SelectChoice]:
    return [
        SelectChoice(HubVisibility.LISTED.value, _l("Listed in the hub directory")),
        SelectChoice(HubVisibility.UNLISTED.value, _l("Unlisted: only members can see the hub")),
    ]


def count_display_choices() -> list[SelectChoice]:
    return [
        SelectChoice(CountDisplay.EXACT.value, _l("The exact number")),
        SelectChoice(CountDisplay.RANGE.value, _l("A range, such as “fewer than 10”")),
        SelectChoice(CountDisplay.HIDDEN.value, _l("Nothing: counts are hidden")),
    ]




def vouch_choices() -> list[SelectChoice]:
    return [
        SelectChoice("0", _l("Nobody: organisers decide alone")),
        SelectChoice("1", _l("One member")),
        SelectChoice("2", _l("Two members")),
        SelectChoice("3", _l("Three members")),
    ]


class HubSettingsForm(FlaskForm):
    name_en = StringField(
        _l("Name in English"), filters=[strip],
        validators=[DataRequired(_l("Enter the hub's name in English.")), at_most(NAME_MAX),
                    one_line],
    )
    name_zh = StringField(_l("Name in Chinese"), filters=[strip],
                          validators=[at_most(NAME_MAX), one_line],
                          render_kw={"lang": "zh-Hant-HK"})
    description_en = TextAreaField(_l("Description in English"), filters=[strip],
                                   validators=[at_most(DESCRIPTION_MAX), no_nul])
    description_zh = TextAreaField(_l("Description in Chinese"), filters=[strip],
                                   validators=[at_most(DESCRIPTION_MAX), no_nul],
                                   render_kw={"lang": "zh-Hant-HK"})
    city_en = StringField(_l("City or region in English"), filters=[strip],
                          validators=[at_most(CITY_MAX), one_line])
    city_zh = StringField(_l("City or region in Chinese"), filters=[strip],
                          validators=[at_most(CITY_MAX), one_line],
                          render_kw={"lang": "zh-Hant-HK"})
    # A text field with suggestions (<datalist>): searchable without JavaScript.
    timezone = StringField(
        _l("Time zone"), filters=[strip],
        validators=[DataRequired(_l("Enter a time zone, such as Europe/London.")),
                    at_most(64), known_timezone],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"},
    )
    visibility = ChoiceField(_l("Who can find the hub"), choices=visibility_choices)
    join_policy = ChoiceField(_l("How people join"), choices=join_policy_choices)
    join_question = StringField(_l("Question for people asking to join"), filters=[strip],
                                validators=[at_most(JOIN_QUESTION_MAX), one_line])
    rsvp_approval_default = BooleanField(_l("New events ask organisers to approve each RSVP"))
    attendee_count_display = ChoiceField(_l("What members see of how many are going"),
                                         choices=count_display_choices)
    keep_checkin_records = BooleanField(_l("Keep a record of who checked in at events"))
    noindex = BooleanField(_l("Ask search engines not to index the hub's pages"))
    allow_comments = BooleanField(_l("Members may comment on members-only updates"))
    show_authors = BooleanField(_l("Name the organiser who wrote each update"))
    attendee_list_two_keys = BooleanField(
        _l("A second organiser must agree before an attendee list is opened or downloaded"))
    vouches_required = ChoiceField(_l("Members who must vouch for each request to join"),
                                   choices=vouch_choices)


class HighRiskForm(FlaskForm):
    """The preset's one switch: ``on`` or ``off``."""

    state = HiddenField()

    def validate_state(self, field) -> None:
        if field.data not in ("on", "off"):
            raise ValidationError(_l("Choose to turn the preset on or off."))


class InviteForm(FlaskForm):
    expires_in_days = WholeNumberField(
        _l("Link works for (days)"), default=EXPIRY_DAYS_DEFAULT,
        validators=[InputRequired(_l("Enter for how many days the link works.")),
                    NumberRange(EXPIRY_DAYS_MIN, EXPIRY_DAYS_MAX,
                                _l("Enter a number of days from %(min)s to %(max)s."))],
    )
    max_uses = WholeNumberField(
        _l("How many people can use it (optional)"),
        validators=[Optional(),
                    NumberRange(MAX_USES_MIN, MAX_USES_MAX,
                                _l("Enter a number from %(min)s to %(max)s, or leave it "
                                   "empty for no limit."))],
    )


class InviteActionForm(FlaskForm):
    """A button that only needs CSRF protection (join by invite, revoke an invite)."""
