"""Update, comment, hide and report forms. Shape checks only; the rules are in
services. Each form declares exactly the fields a person may change (R10)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from community.auth.forms import strip
from community.events.manage.forms import (
    ChoiceField,
    at_most,
    no_control_characters,
    one_line,
    one_line_breaks,
)
from community.updates.models import UpdateAudience
from community.updates.services import UpdateContent

TITLE_MAX = 200
BODY_MAX = 20_000
COMMENT_MAX = 2000
HIDE_REASON_MAX = 500  # the column's length
REPORT_REASON_MAX = 1000

AUDIENCE_CHOICES = [
    SelectChoice(UpdateAudience.PUBLIC.value, _l("Public: anyone who can see the hub")),
    SelectChoice(UpdateAudience.MEMBERS.value, _l("Members only")),
]


def _text(label, maximum: int, *validators) -> TextAreaField:
    return TextAreaField(label, filters=[strip, one_line_breaks],
                         validators=[*validators, at_most(maximum), no_control_characters])


class UpdateForm(FlaskForm):
    title_en = StringField(_l("Title in English"), filters=[strip],
                           validators=[at_most(TITLE_MAX), one_line])
    title_zh = StringField(_l("Title in Chinese"), filters=[strip],
                           validators=[at_most(TITLE_MAX), one_line])
    body_en = _text(_l("Text in English (Markdown)"), BODY_MAX)
    body_zh = _text(_l("Text in Chinese (Markdown)"), BODY_MAX)
    audience = ChoiceField(_l("Who can read it"), choices=AUDIENCE_CHOICES,
                           default=UpdateAudience.PUBLIC.value)
    pinned = BooleanField(_l("Pin it above the other updates"))
    allow_comments = BooleanField(_l("Members may comment (members-only updates)"))

    def content(self) -> UpdateContent:
        return UpdateContent(
            title_en=self.title_en.data or "", title_zh=self.title_zh.data or "",
            body_en=self.body_en.data or "", body_zh=self.body_zh.data or "",
            audience=UpdateAudience(self.audience.data), pinned=bool(self.pinned.data),
            allow_comments=bool(self.allow_comments.data),
        )


class NewUpdateForm(UpdateForm):
    publish = BooleanField(_l("Publish now (otherwise it is kept as a draft)"))


def update_form_data(update) -> dict:
    return {"title_en": update.title_en, "title_zh": update.title_zh,
            "body_en": update.body_en, "body_zh": update.body_zh,
            "audience": update.audience.value, "pinned": update.pinned,
            "allow_comments": update.allow_comments}


class CommentForm(FlaskForm):
    body = _text(_l("Your comment"), COMMENT_MAX,
                 DataRequired(message=_l("Write a comment first.")))


class HideForm(FlaskForm):
    reason = _text(_l("Why are you hiding it? Its author will see this."), HIDE_REASON_MAX,
                   DataRequired(message=_l("Give a reason.")))


class ReportForm(FlaskForm):
    reason = _text(_l("What is wrong with it?"), REPORT_REASON_MAX,
                   DataRequired(message=_l("Tell the moderators what is wrong.")))


class ActionForm(FlaskForm):
    """Publish and delete buttons: CSRF only."""
