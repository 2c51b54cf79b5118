"""Forms of the organiser event pages. Shape checks only; the rules (time
zones, daylight saving, capacity, status) are in manage_services.

Each form declares exactly the fields an organiser may change, and the
route builds the service's arguments from those alone, so extra fields
posted alongside (hub_id, status, public_id, created_by_id...) change
nothing (R10).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.fields import DateField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from community.auth.forms import strip
from community.events import series
from community.events.manage.limits import (
    ADDRESS_MAX,
    CANCEL_MESSAGE_MAX,
    CAPACITY_MAX,
    DESCRIPTION_MAX,
    LANGUAGE_TAG,
    LANGUAGES_MAX,
    MAX_GUESTS_MAX,
    ONLINE_URL_MAX,
    OTHER_LANGUAGES_MAX,
    REVEAL_HOURS_MAX,
    TITLE_MAX,
    VENUE_MAX,
    YEAR_MAX,
    YEAR_MIN,
)
from community.events.models import Audience, EventMode, Tier
from community.validators import (
    ChoiceField,
    WholeNumberField,
    at_most,
    is_https_url,
    known_timezone,
    no_control_characters,
    one_line,
    one_line_breaks,
)

# Spoken languages offered as checkboxes, in this order on the page.
COMMON_LANGUAGES = ("yue", "en", "cmn")
_TAG_SEPARATORS = re.compile(r"[\s,，、;]+")


MODE_CHOICES = [
    SelectChoice(EventMode.IN_PERSON.value, _l("In person")),
    SelectChoice(EventMode.ONLINE.value, _l("Online")),
    SelectChoice(EventMode.HYBRID.value, _l("In person and online")),
]
TIER_CHOICES = [
    SelectChoice(Tier.PUBLIC.value, _l("Everyone who can see the event")),
    SelectChoice(Tier.MEMBERS.value, _l("Members of the hub and confirmed attendees")),
    SelectChoice(Tier.ATTENDEES.value, _l("Confirmed attendees only")),
]
INVITE_CHOICE = SelectChoice(Audience.INVITE.value, _l("Invited people only"))
AUDIENCE_CHOICES = [
    SelectChoice(Audience.PUBLIC.value, _l("Public: anyone who can see the hub")),
    SelectChoice(Audience.MEMBERS.value, _l("Members of the hub only")),
    INVITE_CHOICE,
]
REPEAT_CHOICES = [
    SelectChoice(series.NONE, _l("Does not repeat")),
    SelectChoice(series.WEEKLY, _l("Every week")),
    SelectChoice(series.FORTNIGHTLY, _l("Every two weeks")),
    SelectChoice(series.MONTHLY,
                 _l("Every month, on the same weekday (such as the second Saturday)")),
]
# Which occurrences of a series an edit, a cancellation or publishing applies to.
THIS_ONLY = "this"
THIS_AND_FOLLOWING = "following"
SCOPE_CHOICES = [
    SelectChoice(THIS_ONLY, _l("Only this event")),
    SelectChoice(THIS_AND_FOLLOWING, _l("This and following events")),
]


# --- validators -----------------------------------------------------------------








def https_only(_form, field) -> None:
    if field.data and not is_https_url(field.data):
        raise ValidationError(_l("Enter a link that starts with https://, such as "
                                 "https://meet.example.org/our-meeting."))


def plausible_year(_form, field) -> None:
    if field.data is not None and not YEAR_MIN <= field.data.year <= YEAR_MAX:
        raise ValidationError(_("Enter a date from the year %(min)s to %(max)s.",
                                min=YEAR_MIN, max=YEAR_MAX))


def canonical_language_tag(tag: str) -> str:
    """``tag`` in the customary case: language lower, script title, region upper."""
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def split_language_tags(text: str) -> list[str]:
    """The tags in free text separated by spaces or commas, in their customary case."""
    return [canonical_language_tag(tag) for tag in _TAG_SEPARATORS.split(text or "") if tag]


# --- fields -----------------------------------------------------------------------




def date_field(label, *validators) -> DateField:
    """An ``<input type=date>``: browsers offer a picker, and without one the
    ISO form the hint shows is what we read."""
    return DateField(label, validators=[*validators, plausible_year],
                     invalid_value_message=_l("Enter a date such as 2031-03-30."))


def time_field(label, *validators) -> TimeField:
    """An ``<input type=time>`` read as a wall-clock time, 24-hour; seconds are
    accepted (some browsers send them) and ignored."""
    return TimeField(label, validators=list(validators), format=["%H:%M", "%H:%M:%S"],
                     invalid_value_message=_l("Enter a time such as 19:30."))


# --- forms ------------------------------------------------------------------------


class EventForm(FlaskForm):
    """An event's details as an organiser enters them: times are wall-clock
    times in the event's own time zone."""

    title_en = StringField(_l("Title in English"), filters=[strip],
                           validators=[at_most(TITLE_MAX), one_line])
    title_zh = StringField(_l("Title in Chinese"), filters=[strip],
                           validators=[at_most(TITLE_MAX), one_line],
                           render_kw={"lang": "zh-Hant-HK"})
    description_en = TextAreaField(
        _l("Description in English"), filters=[strip, one_line_breaks],
        validators=[at_most(DESCRIPTION_MAX), no_control_characters],
        render_kw={"rows": 8})
    description_zh = TextAreaField(
        _l("Description in Chinese"), filters=[strip, one_line_breaks],
        validators=[at_most(DESCRIPTION_MAX), no_control_characters],
        render_kw={"rows": 8, "lang": "zh-Hant-HK"})

    # A text field with suggestions (<datalist>): searchable without JavaScript.
    timezone = StringField(
        _l("Time zone"), filters=[strip],
        validators=[InputRequired(_l("Enter a time zone, such as Europe/London.")),
                    at_most(64), known_timezone],
        render_kw={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"},
    )
    start_date = date_field(_l("Start date"),
                            InputRequired(_l("Enter the date the event starts.")))
    start_time = time_field(_l("Start time"),
                            InputRequired(_l("Enter the time the event starts.")))
    end_date = date_field(_l("End date"), InputRequired(_l("Enter the date the event ends.")))
    end_time = time_field(_l("End time"), InputRequired(_l("Enter the time the event ends.")))

    mode = ChoiceField(_l("How people take part"), choices=MODE_CHOICES,
                       default=EventMode.IN_PERSON.value)
    venue = StringField(_l("Venue"), filters=[strip],
                        validators=[at_most(VENUE_MAX), one_line])
    address = StringField(_l("Address"), filters=[strip],
                          validators=[at_most(ADDRESS_MAX), one_line])
    location_visibility = ChoiceField(_l("Who sees the venue and address"),
                                      choices=TIER_CHOICES, default=Tier.PUBLIC.value)
    online_url = StringField(
        _l("Link to join online"), filters=[strip],
        validators=[at_most(ONLINE_URL_MAX), https_only],
        render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"})
    online_visibility = ChoiceField(_l("Who sees the link"), choices=TIER_CHOICES,
                                    default=Tier.ATTENDEES.value)
    reveal_hours = WholeNumberField(
        _l("Share the place only this many hours before the start (optional)"),
        validators=[Optional(),
                    NumberRange(0, REVEAL_HOURS_MAX,
                                _l("Enter a number of hours from %(min)s to %(max)s, or "
                                   "leave it empty to share the place at once."))],
        render_kw={"inputmode": "numeric"})

    audience = ChoiceField(_l("Who can see the event"), choices=AUDIENCE_CHOICES,
                           default=Audience.PUBLIC.value)
    capacity = WholeNumberField(
        _l("Places (optional)"),
        validators=[Optional(),
                    NumberRange(0, CAPACITY_MAX,
                                _l("Enter a number from %(min)s to %(max)s, or leave it "
                                   "empty for no limit."))],
        render_kw={"inputmode": "numeric"})
    max_guests = WholeNumberField(
        _l("Guests each person may bring"), default=0,
        validators=[InputRequired(_l("Enter how many guests each person may bring, such "
                                     "as 0.")),
                    NumberRange(0, MAX_GUESTS_MAX, _l("Enter a number from 0 to 20."))],
        render_kw={"inputmode": "numeric"})
    waitlist_enabled = BooleanField(_l("Keep a waiting list when the event is full"),
                                    default=True)
    rsvp_approval = BooleanField(_l("Organisers approve each RSVP"))
    hide_attendee_count = BooleanField(_l("Hide how many people are going"))
    burn_after = BooleanField(_l("Delete the answers after the event"))
    rsvp_opens_date = date_field(_l("RSVPs open on (date)"), Optional())
    rsvp_opens_time = time_field(_l("RSVPs open at (time)"), Optional())
    rsvp_closes_date = date_field(_l("RSVPs close on (date)"), Optional())
    rsvp_closes_time = time_field(_l("RSVPs close at (time)"), Optional())

    lang_yue = BooleanField(_l("Cantonese"))
    lang_en = BooleanField(_l("English"))
    lang_cmn = BooleanField(_l("Mandarin"))
    other_languages = StringField(
        _l("Other languages (optional)"), filters=[strip],
        validators=[at_most(LANGUAGES_MAX)],
        render_kw={"autocomplete": "off", "spellcheck": "false"})

    def validate_other_languages(self, field) -> None:
        tags = split_language_tags(field.data or "")
        wrong = [tag for tag in tags if not LANGUAGE_TAG.match(tag)]
        if wrong:
            raise ValidationError(_("“%(tag)s” is not a language tag. Use tags such as fr, "
                                    "ja or zh-Hant, separated by spaces.", tag=wrong[0]))
        if len(tags) > OTHER_LANGUAGES_MAX:
            raise ValidationError(_("Name at most %(num)s other languages.",
                                    num=OTHER_LANGUAGES_MAX))
        if len(" ".join(self.language_tags())) > LANGUAGES_MAX:
            raise ValidationError(_("Name fewer languages."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.title_en.errors or self.title_zh.errors) and not (
                self.title_en.data or self.title_zh.data):
            self.title_en.errors = [*self.title_en.errors,
                                    _("Give the event a title in English, in Chinese or "
                                      "in both.")]
            valid = False
        return valid

    def keep_invite_audience(self) -> None:
        """Offer "invited people only" for an event that has that audience already,
        so that saving it never opens it to a wider audience."""
        self.audience.choices = list(AUDIENCE_CHOICES)

    def details_values(self) -> dict:
        """The declared fields only, as manage_services.EventDetails takes them (R10)."""
        return {
            "title_en": self.title_en.data or "", "title_zh": self.title_zh.data or "",
            "description_en": self.description_en.data or "",
            "description_zh": self.description_zh.data or "",
            "timezone": self.timezone.data or "",
            "start_date": self.start_date.data, "start_time": self.start_time.data,
            "end_date": self.end_date.data, "end_time": self.end_time.data,
            "mode": EventMode(self.mode.data), "venue": self.venue.data or "",
            "address": self.address.data or "",
            "location_visibility": Tier(self.location_visibility.data),
            "online_url": self.online_url.data or "",
            "online_visibility": Tier(self.online_visibility.data),
            "reveal_hours": self.reveal_hours.data, "audience": Audience(self.audience.data),
            "capacity": self.capacity.data, "max_guests": self.max_guests.data or 0,
            "waitlist_enabled": bool(self.waitlist_enabled.data),
            "rsvp_approval": bool(self.rsvp_approval.data),
            "hide_attendee_count": bool(self.hide_attendee_count.data),
            "burn_after": bool(self.burn_after.data),
            "rsvp_opens_date": self.rsvp_opens_date.data,
            "rsvp_opens_time": self.rsvp_opens_time.data,
            "rsvp_closes_date": self.rsvp_closes_date.data,
            "rsvp_closes_time": self.rsvp_closes_time.data,
            "languages": self.language_tags(),
        }

    def language_tags(self) -> list[str]:
        """The ticked common languages, then the others typed, without repeats."""
        tags = [tag for tag in COMMON_LANGUAGES if getattr(self, f"lang_{tag}").data]
        seen = {tag.casefold() for tag in tags}
        for tag in split_language_tags(self.other_languages.data or ""):
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
        return tags


def event_form_data(details) -> dict:
    """What an EventForm shows for an event's details (manage_services.EventDetails)."""
    from dataclasses import asdict

    data = asdict(details)
    tags = data.pop("languages")
    for tag in COMMON_LANGUAGES:
        data[f"lang_{tag}"] = tag in tags
    data["other_languages"] = " ".join(tag for tag in tags if tag not in COMMON_LANGUAGES)
    for name in ("mode", "location_visibility", "online_visibility", "audience"):
        data[name] = data[name].value
    return data


class NewEventForm(EventForm):
    """A new event, which may repeat as a series."""

    repeat_frequency = ChoiceField(_l("Repeat"), choices=REPEAT_CHOICES, default=series.NONE)
    repeat_count = WholeNumberField(
        _l("Number of events (optional)"),
        validators=[Optional(),
                    NumberRange(series.MIN_OCCURRENCES, series.MAX_OCCURRENCES,
                                _l("Enter a number of events from %(min)s to %(max)s."))],
        render_kw={"inputmode": "numeric"})
    repeat_until = date_field(_l("Last date (optional)"), Optional())

    def repeat(self) -> series.Repeat:
        """The repeat setting as series.Repeat takes it."""
        return series.Repeat(frequency=self.repeat_frequency.data or series.NONE,
                             count=self.repeat_count.data, until=self.repeat_until.data)


class EditEventForm(EventForm):
    """An existing event; for an occurrence of a series, which ones to change."""

    scope = ChoiceField(_l("Apply the changes to"), choices=SCOPE_CHOICES, default=THIS_ONLY)


class CancelForm(FlaskForm):
    scope = ChoiceField(_l("Which events to cancel"), choices=SCOPE_CHOICES,
                        default=THIS_ONLY, id="cancel_scope")
    message = TextAreaField(
        _l("Message to show on the event page"), filters=[strip, one_line_breaks],
        validators=[InputRequired(_l("Write a short message saying why the event is "
                                     "cancelled.")),
                    at_most(CANCEL_MESSAGE_MAX), no_control_characters],
        render_kw={"rows": 3, "maxlength": CANCEL_MESSAGE_MAX},
    )


class EventActionForm(FlaskForm):
    """Publish and duplicate: a button that only needs CSRF protection."""


class PublishForm(FlaskForm):
    """Publish: for an occurrence of a series, this one or the drafts from it on."""

    scope = ChoiceField(_l("Which events to publish"), choices=SCOPE_CHOICES,
                        default=THIS_ONLY, id="publish_scope")
