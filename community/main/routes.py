"""Home page, language switch and the error pages."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from community.i18n import LANGUAGE_COOKIE, NATIVE_NAMES, supported_locale
from community.main import services
from community.main.forms import LanguageForm
from community.members.services import set_language as set_account_language
from community.pagecache import cached_page
from community.permissions import decide_indexing
from community.security import is_safe_redirect

bp = Blueprint("main", __name__)


@bp.get("/")
@cached_page
def home():
    decide_indexing()
    return render_template(
        "main/home.html",
        events=services.upcoming_public_events(limit=12),
        chapters=services.listed_hubs_by_chapter(),
    )


@bp.post("/language")
def set_language():
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    locale = supported_locale(form.locale.data)
    if locale is None:
        abort(400, description=_("That language is not available."))
    target = form.next.data if is_safe_redirect(form.next.data) else url_for("main.home")
    if current_user.is_authenticated and set_account_language(current_user, locale):
        # Said in the language just chosen, which the next page uses.
        with force_locale(locale):
            flash(_("Your account's language is now %(language)s. Emails will "
                    "come in it too; you can change this in Settings.",
                    language=NATIVE_NAMES[locale]), "success")
    response = make_response(redirect(target))
    response.set_cookie(
        LANGUAGE_COOKIE,
        locale,
        max_age=365 * 24 * 3600,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def _error_texts(code: int) -> tuple[str, str]:
    # Written out so pybabel extracts every message.
    texts = {
        400: (_("Bad request"),
              _("We could not understand that request. "
                "Check the address or the form and try again.")),
        404: (_("Page not found"),
              _("There is nothing here. "
                "The address may be mistyped, or the page may have moved.")),
        405: (_("Not allowed"), _("That action is not available at this address.")),
        413: (_("Too large"), _("What you sent is larger than we accept.")),
        429: (_("Too many attempts"), _("Please wait a little and try again.")),
        500: (_("Something went wrong"),
              _("An error on our side stopped this page. Please try again later.")),
    }
    return texts.get(code, texts[500] if code >= 500 else texts[400])


def render_error(code: int, detail: str | None = None):
    """The translated error page. It reads the database only for the header's
    signed-in state; when the database itself failed, the plain page is shown."""
    from sqlalchemy.exc import SQLAlchemyError

    decide_indexing(public=False)
    title, message = _error_texts(code)
    try:
        return render_template("errors/error.html", code=code, title=title, message=message,
                               detail=detail), code
    except SQLAlchemyError:
        return render_template("errors/bare.html", title=title, message=message), code


def too_many_attempts(retry_after: int):
    """The translated 429 page saying when to try again, with Retry-After."""
    from flask_babel import ngettext

    decide_indexing(public=False)
    minutes = max(1, -(-retry_after // 60))
    message = ngettext("Too many attempts. Please try again in %(num)d minute.",
                       "Too many attempts. Please try again in %(num)d minutes.", minutes)
    page = render_template("errors/error.html", code=429, title=_("Too many attempts"),
                           message=message, detail=None)
    return page, 429, {"Retry-After": str(max(1, retry_after))}


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    return render_error(400, _("The form had expired or was sent from another site. "
                               "Please go back, reload the page and try again."))


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    if isinstance(error, SecurityError):
        # Refused before routing (R29): there is no URL adapter to build links with.
        title, message = _error_texts(400)
        return render_template("errors/bare.html", title=title, message=message), 400
    if error.code == 429:
        import time

        from community.extensions import limiter

        current = limiter.current_limit
        retry_after = int(current.reset_at - time.time()) if current else 60
        return too_many_attempts(retry_after)
    # Show a description only when our own code wrote one (already translated).
    detail = None
    if error.code != 429 and error.description != type(error).description:
        detail = error.description
    return render_error(error.code or 500, detail)


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception):
    # Never a traceback, SQL or configuration in the page (R46).
    from flask import current_app

    current_app.logger.exception("Unhandled error in %s", request.endpoint)
    return render_error(500)
