"""Event forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from community.auth.forms import strip


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
