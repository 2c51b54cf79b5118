"""Hub forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import Length

from community.auth.forms import strip


class JoinForm(FlaskForm):
    answer = TextAreaField(
        _l("Your answer"), filters=[strip],
        validators=[Length(max=1000, message=_l("Use at most %(max)d characters."))],
    )


class ListingForm(FlaskForm):
    listed = BooleanField(_l("Show my display name to other members of this hub"))


class LeaveForm(FlaskForm):
    confirm = HiddenField(default="yes")
