"""Extensions are created unbound here and bound in create_app()."""

from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from community.database import Base, render_migration_item
from community.security import rate_limit_key

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=render_migration_item)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Cached public pages, calendars and feeds (community/pagecache.py).
cache = Cache()
limiter = Limiter(key_func=rate_limit_key, default_limits=[], headers_enabled=False)
