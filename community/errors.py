"""One kind of refusal for every business rule, and one way onto a form.

Services raise ``DomainError`` (or a subclass that names the area) with a
translated message for the person and, when it belongs beside one field, the
field's name. Routes show it with ``show_on_form`` and re-render the form with
what the person typed (flaskbb's ``populate_errors`` shape).
"""

from __future__ import annotations

from typing import Any

from flask import flash


class DomainError(Exception):
    """A rule refused the request; ``message`` is translated and safe to show,
    ``field`` names the form field it belongs beside (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def show_on_form(form: Any, error: DomainError, errors: list[str] | None = None) -> list[str]:
    """Put ``error`` beside its field of ``form``. A refusal of the whole form
    goes into ``errors`` (the page shows them above the form) when a list is
    given, else into a flashed message. Returns ``errors`` (or an empty list)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    elif errors is not None:
        errors.append(error.message)
    else:
        flash(error.message, "error")
    return errors if errors is not None else []
