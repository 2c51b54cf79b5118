"""The member area: dashboard and personal settings."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from community.auth.forms import ActionForm
from community.members import services

bp = Blueprint("members", __name__)


@bp.get("/dashboard")
@login_required
def dashboard():
    return render_template(
        "members/dashboard.html",
        hubs=services.my_hubs(current_user),
        rsvps=services.my_upcoming_rsvps(current_user),
        updates=services.latest_updates_for(current_user),
        action=ActionForm(),
    )
