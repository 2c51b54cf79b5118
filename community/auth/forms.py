"""Account forms. Shape checks live here; rules that need the database live in services."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from community.auth.passwords import MAX_LENGTH
from community.validators import display_name_characters


def strip(value):
    """Trim, and drop NUL characters, which no text field may hold."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


def language_choices() -> list[SelectChoice]:
    """Each language named in itself, marked with its own lang attribute."""
    return [SelectChoice("en", "English", render_kw={"lang": "en"}),
            SelectChoice("zh_Hant_HK", "中文（香港）", render_kw={"lang": "zh-Hant-HK"})]


def email_field(label=None):
    return EmailField(
        label or _l("Email address"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254, message=_l("That email address is too long.")),
            Email(_l("Enter an email address like name@example.org."),
                  check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def new_password_field(label=None):
    return PasswordField(
        label or _l("Password"),
        validators=[
            InputRequired(_l("Choose a password.")),
            Length(max=MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def confirm_field(other: str):
    return PasswordField(
        _l("Password again"),
        validators=[InputRequired(_l("Type the password again.")),
                    EqualTo(other, _l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"},
    )


class SignUpForm(FlaskForm):
    email = email_field()
    display_name = StringField(
        _l("Display name"),
        filters=[strip],
        validators=[DataRequired(_l("Choose a display name.")),
                    Length(max=64, message=_l("Use at most %(max)d characters.")),
                    display_name_characters],
        render_kw={"autocomplete": "nickname"},
    )
    password = new_password_field()
    confirm = confirm_field("password")
    locale = SelectField(_l("Language for emails and pages"), choices=language_choices)


class SignInForm(FlaskForm):
    email = email_field()
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")),
                    Length(max=MAX_LENGTH, message=_l("Use at most %(max)d characters."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device for up to 14 days"))
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the code.")),
                    Length(max=20, message=_l("That code is too long."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                   "spellcheck": "false"},
    )


class ResetRequestForm(FlaskForm):
    email = email_field()


class NewPasswordForm(FlaskForm):
    password = new_password_field(_l("New password"))
    confirm = confirm_field("password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    password = new_password_field(_l("New password"))
    confirm = confirm_field("password")


class ChangeEmailForm(FlaskForm):
    email = email_field(_l("New email address"))
    password = PasswordField(
        _l("Password"), validators=[InputRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


class ConfirmForm(FlaskForm):
    """Re-authentication before a sensitive action (R20)."""

    password = PasswordField(
        _l("Password"), validators=[InputRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Code from your authenticator app"), filters=[strip],
        validators=[Length(max=20, message=_l("That code is too long."))],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )
    next = HiddenField()


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(
        _l("Password"), validators=[InputRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


class ActionForm(FlaskForm):
    """A button that only needs CSRF protection (sign out, resend, revoke)."""

    target = HiddenField()
