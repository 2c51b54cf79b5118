#!/usr/bin/env bash
# Install or upgrade Harbour into a prefix (the README's "Running in
# production", step 5). Run it as the service user (harbour), from a checkout
# or an unpacked release of the version to install:
#
#   deploy/install.sh --prefix /srv/harbour --env-file /etc/harbour/harbour.env \
#       --database-url postgresql://harbour@/harbour --redis-url redis://127.0.0.1:6379 \
#       --host harbour.example
#
# It builds a wheel of this source (or takes --wheel), installs it into
# PREFIX/.venv, copies wsgi.py and deploy/ beside it, writes the settings file
# the first time (a new random secret key; mode 0600; never overwritten) and
# migrates the database (`flask db upgrade`). Running it again upgrades.
# Nothing here needs root or systemd: tests/functional/test_install.py runs
# this very script against PostgreSQL and Redis.
set -euo pipefail

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  echo "Options: --prefix DIR --env-file FILE --database-url URL --redis-url URL"
  echo "         --host NAME [--wheel FILE] [--python PYTHON] [--pip-option OPTION]..."
  exit "${1:-2}"
}

SOURCE="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="" ENV_FILE="" DATABASE_URL_ARG="" REDIS_URL="" HOST="" WHEEL="" PYTHON="python3"
PIP_OPTIONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --env-file) ENV_FILE="$2"; shift 2 ;;
    --database-url) DATABASE_URL_ARG="$2"; shift 2 ;;
    --redis-url) REDIS_URL="$2"; shift 2 ;;
    --host) HOST="$2"; shift 2 ;;
    --wheel) WHEEL="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-option) PIP_OPTIONS+=("$2"); shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
[ -n "$PREFIX" ] && [ -n "$ENV_FILE" ] || usage
case "$PREFIX" in /*) ;; *) echo "--prefix must be an absolute path" >&2; exit 2 ;; esac

step() { printf '\n== %s\n' "$*"; }

step "1. A virtual environment in $PREFIX/.venv"
mkdir -p "$PREFIX" "$PREFIX/instance" "$PREFIX/deploy"
chmod 0750 "$PREFIX/instance"
[ -x "$PREFIX/.venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/.venv"
VENV_PYTHON="$PREFIX/.venv/bin/python"

step "2. Harbour's wheel and its dependencies"
if [ -z "$WHEEL" ]; then
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  "$VENV_PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$build" "$SOURCE"
  WHEEL="$(ls "$build"/harbour-*.whl)"
fi
"$VENV_PYTHON" -m pip install --quiet ${PIP_OPTIONS[@]+"${PIP_OPTIONS[@]}"} "$WHEEL"
# The WSGI entry point and the gunicorn settings the systemd units name.
cp "$SOURCE/wsgi.py" "$PREFIX/wsgi.py"
cp -R "$SOURCE/deploy/." "$PREFIX/deploy/"

step "3. Settings in $ENV_FILE"
if [ -e "$ENV_FILE" ]; then
  echo "kept as it is (delete it to write a new one; the secret key must not change)"
else
  [ -n "$DATABASE_URL_ARG" ] && [ -n "$REDIS_URL" ] && [ -n "$HOST" ] || {
    echo "the first install needs --database-url, --redis-url and --host" >&2; exit 2; }
  secret="$("$VENV_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  # Field encryption (README "Encryption, retention and deletion"): one data key
  # (id:key) and the blind-index key, 32 random bytes each.
  data_key="$("$VENV_PYTHON" -c 'from community.encryption import new_key, new_key_id; print(new_key_id() + ":" + new_key())')"
  index_key="$("$VENV_PYTHON" -c 'from community.encryption import new_key; print(new_key())')"
  ( umask 0077
    cat > "$ENV_FILE" <<EOF
# Harbour's settings (README "Configuration"), read by the systemd units
# (EnvironmentFile=) and by deploy/install.sh. Quote as a shell would.
FLASK_HARBOUR_ENV=production
FLASK_SECRET_KEY=$secret
# The encryption keys: back them up apart from the database backups. Without
# them every email address, hidden place and note in the database is lost.
FLASK_HARBOUR_DATA_KEYS='$data_key'
FLASK_HARBOUR_INDEX_KEY='$index_key'
DATABASE_URL=$DATABASE_URL_ARG
# One Redis database holds the rate limits, the job queue and the cache of
# visitors' pages (keys apart): every worker shares one cache.
FLASK_RATELIMIT_STORAGE_URI=$REDIS_URL
FLASK_HUEY_REDIS_URL=$REDIS_URL
FLASK_CACHE_TYPE=RedisCache
FLASK_CACHE_REDIS_URL=$REDIS_URL
FLASK_TRUSTED_HOSTS='["$HOST"]'
FLASK_BASE_URL=https://$HOST
FLASK_TRUSTED_PROXY_HOPS=1
# Mail (README "Mail"): your SMTP relay.
FLASK_MAIL_BACKEND=smtp
FLASK_MAIL_SERVER=127.0.0.1
FLASK_MAIL_PORT=25
FLASK_MAIL_FROM='Harbour <no-reply@$HOST>'
EOF
  )
  echo "written (mode 0600); edit the FLASK_MAIL_* lines for your SMTP relay"
fi

step "4. The database schema (flask db upgrade)"
(
  set -a
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  set +a
  cd "$PREFIX"
  "$VENV_PYTHON" -m flask --app wsgi db upgrade
)

step "Installed $("$VENV_PYTHON" -c 'import community; print(community.__version__)') in $PREFIX"
