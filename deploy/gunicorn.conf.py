"""gunicorn settings for Harbour: `gunicorn -c deploy/gunicorn.conf.py`.

Logs are JSON lines on stderr (journald keeps them) through the formatter the
app uses. The access log names no client address (%(h)s) and no path or
query string (%(r)s, %(U)s, %(q)s), which can carry tokens (R37); gunicorn's
error messages that name a peer have the address replaced.
"""

import multiprocessing
import os

wsgi_app = "wsgi:app"
bind = os.environ.get("HARBOUR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HARBOUR_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = 30
graceful_timeout = 30
# Nothing of the app is loaded before the fork, so each worker has its own
# database pool.
preload_app = False

# method, status, bytes, duration in ms: nothing that names a person or a token.
access_log_format = "%(m)s %(s)s %(B)s %(M)s"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "community.logs.json_formatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json",
                   "stream": "ext://sys.stderr"},
    },
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
