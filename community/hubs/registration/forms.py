"""Forms for proposing a hub and for a coordinator's decision on it.

Shape checks live here; rules that need the database (a known chapter, a free
web address) live in registration_services.
"""


from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from community.auth.forms import strip
from community.hubs.registration.services import DECLINE_REASON_MAX, is_valid_slug
from community.hubs.settings.forms import join_policy_choices, visibility_choices
from community.validators import known_timezone_or_empty, no_control_characters, one_line

TOO_LONG = _l("Use at most %(max)d characters.")
DESCRIPTION_MAX = 10_000

# The same words as the hub settings page, so a choice reads the same in both places.
JOIN_POLICY_CHOICES = join_policy_choices()
VISIBILITY_CHOICES = visibility_choices()


def choice_labels(choices: list[SelectChoice]) -> dict:
    """Each choice's label by its value, to show a stored choice in words."""
    return {choice.value: choice.label for choice in choices}


def lower(value):
    return value.lower() if isinstance(value, str) else value






def known_choice(_form, field) -> None:
    """A forged value gets our own translated message, not WTForms'."""
    if field.data not in {choice.value for choice in field.choices}:
        raise ValidationError(_l("Choose one of the options in the list."))


def slug_shape(_form, field) -> None:
    if field.data and not is_valid_slug(field.data):
        raise ValidationError(_l(
            "Use 3 to 64 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit."))


def _text(label, max_length: int, *validators, area: bool = False, **render_kw):
    if area:
        return TextAreaField(label, filters=[strip], render_kw=render_kw or None, validators=[
            *validators, Length(max=max_length, message=TOO_LONG), no_control_characters])
    return StringField(label, filters=[strip], render_kw=render_kw or None, validators=[
        *validators, Length(max=max_length, message=TOO_LONG), one_line])


class RegisterHubForm(FlaskForm):
    """Propose a hub. The chapter choices are set by the view from the database;
    an unknown chapter is refused by the service, not here."""

    chapter = SelectField(
        _l("Chapter"), filters=[strip], validate_choice=False,
        validators=[DataRequired(_l("Choose the chapter your hub belongs to."))],
    )
    name_en = _text(_l("Name in English"), 100,
                    DataRequired(_l("Enter the hub's name in English.")))
    name_zh = _text(_l("Name in Chinese"), 100, lang="zh-Hant-HK")
    city_en = _text(_l("City or region in English"), 100)
    city_zh = _text(_l("City or region in Chinese"), 100, lang="zh-Hant-HK")
    description_en = _text(_l("Description in English"), DESCRIPTION_MAX, area=True)
    description_zh = _text(_l("Description in Chinese"), DESCRIPTION_MAX, area=True,
                           lang="zh-Hant-HK")
    # A text field with suggestions (<datalist>) rather than a 600-option select:
    # searchable by typing, and it needs no JavaScript (DESIGN §2 rule 5).
    timezone = StringField(
        _l("Time zone"), filters=[strip], validators=[known_timezone_or_empty],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"},
    )
    slug = StringField(
        _l("Web address"), filters=[strip, lower], validators=[slug_shape],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    join_policy = SelectField(_l("How people join"), choices=JOIN_POLICY_CHOICES,
                              default="approval", validate_choice=False,
                              validators=[known_choice])
    join_question = _text(_l("Question for people asking to join"), 300)
    visibility = SelectField(_l("Who can find the hub"), choices=VISIBILITY_CHOICES,
                             default="listed", validate_choice=False,
                             validators=[known_choice])


class ApproveRegistrationForm(FlaskForm):
    """A button: approving needs nothing but CSRF protection."""


class DeclineRegistrationForm(FlaskForm):
    """Declining needs a reason, which the proposer receives by email.

    Build it with ``prefix=decline_prefix(hub.slug)`` so each hub's form on the
    queue page has its own field ids.
    """

    reason = _text(_l("Reason for declining"), DECLINE_REASON_MAX,
                   DataRequired(_l("Give a reason, so the proposer knows what to change.")),
                   area=True)


def decline_prefix(slug: str) -> str:
    return f"decline-{slug}"
