"""Default configuration. Every value can be overridden from the instance
folder's ``config.py`` and then from ``FLASK_*`` environment variables
(``FLASK_SECRET_KEY``, ``FLASK_TRUSTED_HOSTS='["harbour.example"]'``)."""

from datetime import timedelta
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# templates/, translations/ and migrations/: at the top of a checkout (and of an
# editable install), or inside the package when installed from a wheel (setup.py).
PROJECT_ROOT = _PACKAGE / "_data" if (_PACKAGE / "_data").is_dir() else _PACKAGE.parent

# The key every fresh checkout has; production refuses to start with it (R46).
DEFAULT_SECRET_KEY = "harbour-development-key-not-for-production"  # noqa: S105 (a known value refused in production)

LOCALES = ("en", "zh_Hant_HK")

DEFAULTS = {
    # "production" unless told otherwise, so a forgotten setting fails closed.
    "HARBOUR_ENV": "production",
    "SECRET_KEY": DEFAULT_SECRET_KEY,
    "SITE_NAME": "Harbour",
    # Absolute links in emails, calendars and feeds come from here, never from Host (R29).
    "BASE_URL": "http://127.0.0.1:5000",
    "TRUSTED_HOSTS": None,
    # Reverse proxies in front of Harbour whose X-Forwarded-For and
    # X-Forwarded-Proto are believed (Werkzeug's ProxyFix). 0 trusts nothing,
    # so a client cannot forge its address; behind one nginx set 1.
    "TRUSTED_PROXY_HOPS": 0,
    "ONION_LOCATION": "",
    "SQLALCHEMY_DATABASE_URI": None,  # set in create_app: SQLite in the instance folder
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # R21: the session cookie is host-only, Secure, HttpOnly, SameSite=Lax.
    "SESSION_COOKIE_NAME": "__Host-session",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_PATH": "/",
    # Cookie lifetime of a "remember me" session; the server enforces the rest (R23).
    "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
    # R23: idle and absolute timeouts of server-side sessions.
    "SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
    "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12),
    "STAFF_SESSION_IDLE_TIMEOUT": timedelta(minutes=15),
    "STAFF_SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=8),
    # Password or second factor confirmed this recently for sensitive actions (R20).
    "REAUTH_WINDOW": timedelta(minutes=10),
    # R20: organisers and admins must use two-factor authentication.
    "TWO_FACTOR_REQUIRED_FOR_STAFF": True,
    "EMAIL_TOKEN_MAX_AGE": timedelta(hours=48),
    "RESET_TOKEN_MAX_AGE": timedelta(hours=1),
    "REMEMBER_COOKIE_NAME": "__Host-remember",
    "REMEMBER_COOKIE_DURATION": timedelta(days=14),
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_PATH": "/",
    # R36: request size limits.
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1000,
    "WTF_CSRF_TIME_LIMIT": 12 * 3600,
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    # Top-level translations/ beside the package (STYLE habit 9).
    "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
    "LANGUAGES": LOCALES,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_STRATEGY": "fixed-window",
    # argon2-cffi's RFC 9106 low-memory profile (R11): m=64 MiB, t=3, p=4.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    "ARGON2_PARALLELISM": 4,
    "MAIL_FROM": "Harbour <no-reply@localhost>",
    "MAIL_BACKEND": "console",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "PAGE_SIZE": 20,
    # Cached public pages for visitors (community/pagecache.py, issue 14): a memory
    # cache in each worker here; in production point it at Redis with
    # CACHE_TYPE "RedisCache" and CACHE_REDIS_URL. Entries live PAGE_CACHE_SECONDS
    # at most; a change to an event, update or hub retires them at once.
    "CACHE_TYPE": "SimpleCache",
    "CACHE_THRESHOLD": 500,
    "CACHE_KEY_PREFIX": "harbour:",
    "PAGE_CACHE_SECONDS": 30,
    "FEED_CACHE_SECONDS": 300,
    # The job queue (community/jobs.py): SQLite in the instance folder unless
    # HUEY_REDIS_URL is set; HUEY_STORAGE "memory" and HUEY_IMMEDIATE for tests.
    "HUEY_STORAGE": None,
    "HUEY_REDIS_URL": "",
    "HUEY_SQLITE_PATH": "",
    "HUEY_IMMEDIATE": False,
    # Retention (R41): past RSVPs lose their link to people; old audit entries go.
    "RSVP_RETENTION_DAYS": 30,
    "AUDIT_RETENTION_DAYS": 180,
    # Field-level encryption (R40, community/encryption.py): a list of
    # "id:base64key" (first is current) and the blind-index key, or neither and
    # keys.json in the instance folder. Never in the database.
    "HARBOUR_DATA_KEYS": None,
    "HARBOUR_INDEX_KEY": None,
    "HARBOUR_KEY_FILE": "",
    # Delivered mail is blanked at once and its row deleted after this many days;
    # mail still unsent this many days after it was queued is dropped.
    "SENT_MAIL_RETENTION_DAYS": 7,
    "UNSENT_MAIL_RETENTION_DAYS": 3,
    # Burn after the event: answers go this long after an event with burn_after ends.
    "BURN_GRACE_PERIOD": timedelta(hours=24),
}


def production_problems(config) -> list[str]:
    """What makes this configuration unsafe to serve the public (R46); empty when fine."""
    problems = []
    key = config.get("SECRET_KEY") or ""
    if key == DEFAULT_SECRET_KEY or len(key) < 32:
        problems.append("SECRET_KEY must be set to at least 32 random characters")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE must be true")
    if not config.get("TRUSTED_HOSTS"):
        problems.append("TRUSTED_HOSTS must list the host names Harbour answers to")
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        problems.append("RATELIMIT_STORAGE_URI must point at shared storage such as Redis")
    hops = config.get("TRUSTED_PROXY_HOPS", 0)
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 5:
        problems.append("TRUSTED_PROXY_HOPS must be a whole number from 0 to 5")
    if config.get("DEBUG"):
        problems.append("DEBUG must be off")
    if not str(config.get("BASE_URL", "")).startswith("https://"):
        problems.append("BASE_URL must be an https:// address")
    return problems
