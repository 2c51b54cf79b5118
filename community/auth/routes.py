"""Sign-up, sign-in and account security pages."""

from flask import Blueprint

from community.auth.models import User
from community.extensions import db, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.scalar(
        db.select(User).where(User.public_id == user_id, User.disabled_at.is_(None))
    )
