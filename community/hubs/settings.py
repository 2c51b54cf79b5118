"""Hub settings pages (routes on the hubs blueprint)."""

from community.hubs.routes import bp

__all__ = ["bp"]
