"""Forms shared by every page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired


class LanguageForm(FlaskForm):
    """The language switch: a POST with CSRF, so no GET changes state (R26)."""

    locale = HiddenField(_l("Language"), validators=[DataRequired()])
    next = HiddenField()
