"""Event forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, IntegerField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from community.auth.forms import strip
from community.validators import at_most, known_timezone


class RsvpForm(FlaskForm):
    guests = IntegerField(
        _l("Guests you are bringing"), default=0,
        validators=[Optional(), NumberRange(min=0, max=20,
                                            message=_l("Enter a number from 0 to 20."))],
    )
    note = TextAreaField(
        _l("Note to the organisers (optional)"), filters=[strip],
        validators=[Length(max=500, message=_l("Use at most %(max)d characters."))],
    )


class WithdrawForm(FlaskForm):
    pass


class ZoneFilterForm(Form):
    """The events list's typed time zone (a GET filter: no CSRF). The list offers the
    chapters' zones; any other IANA zone can be typed here."""

    tz_other = StringField(_l("Or type another time zone"), filters=[strip],
                           validators=[Optional(), at_most(64), known_timezone])
