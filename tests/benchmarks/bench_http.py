# ruff: noqa: S603, S607, S310  (a developer tool: it runs wrk, gunicorn and flask on localhost)
"""`make bench-http`: Harbour's public pages under load, as a share of the bare page.

Builds the scale data set once (seed-demo + seed-scale: 100,000 events,
1,000,000 RSVPs, 20,000 people), cached in ``.bench/`` (SQLite) and in the
database ``harbour_bench`` beside ``TEST_DATABASE_URL`` (PostgreSQL, when that
is set). Then starts Harbour and the bare Flask+SQLAlchemy+Jinja page of
``../shared/perf-baseline/`` under the same gunicorn settings (``-w 2 -k sync``)
and runs ``wrk -t2 -c32 --latency`` on each page, alternating with the
baseline, and prints the median of the runs: req/s, share of the baseline's
req/s in the same run, p99 latency and page size.

It is a benchmark, not a test (CI does not run it). Absolute figures move up to
2x on shared machines; the share of the baseline is what to compare.

    python -m tests.benchmarks.bench_http [--duration 10] [--runs 3] [--db sqlite|pg|both]
                                          [--only /events] [--page-cache on|off] [--build-only]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench"
BASELINE = Path(os.environ.get("HARBOUR_PERF_BASELINE", ROOT.parent / "shared" / "perf-baseline"))
BIN = Path(sys.executable).parent
EVENTS, RSVPS, PEOPLE = 100_000, 1_000_000, 20_000
HARBOUR_PORT, BASELINE_PORT = 8811, 8812

# Harbour serves plain HTTP on 127.0.0.1 here, as `make run` does.
HARBOUR_ENV = {
    "FLASK_HARBOUR_ENV": "development",
    "FLASK_SESSION_COOKIE_SECURE": "false",
    "FLASK_SESSION_COOKIE_NAME": "harbour_session",
    "FLASK_REMEMBER_COOKIE_SECURE": "false",
    "FLASK_REMEMBER_COOKIE_NAME": "harbour_remember",
    "FLASK_HUEY_STORAGE": "memory",
}


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the data sets -----------------------------------------------------------

def pg_url(name: str) -> str:
    base = os.environ["TEST_DATABASE_URL"]
    return base.rsplit("/", 1)[0] + "/" + name


def pg_ensure_database(name: str) -> bool:
    """Create database ``name`` if missing; True when it was created."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url("postgres").replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return not exists


# The data sets' encryption keys: their own file, so neither `make run`'s
# instance/keys.json nor the testing keys decide whether they can be read.
KEYS = CACHE / "keys.json"
_made_keys: bool | None = None


def bench_keys() -> bool:
    """Make .bench/keys.json if missing; True when made by this process (a data set
    built before, under other keys, cannot be read and is built again)."""
    global _made_keys
    if _made_keys is None:
        _made_keys = not KEYS.exists()
        if _made_keys:
            from community.encryption import new_key, new_key_id, write_key_file

            write_key_file(KEYS, [f"{new_key_id()}:{new_key()}"], new_key())
    return _made_keys


def harbour_env(database_url: str) -> dict:
    env = dict(os.environ, **HARBOUR_ENV, DATABASE_URL=database_url, PYTHONPATH=str(ROOT),
               FLASK_HARBOUR_KEY_FILE=str(KEYS))
    env.pop("TEST_DATABASE_URL", None)
    return env


def flask(database_url: str, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT,
                   env=harbour_env(database_url), check=True)


def scaled(database_url: str) -> bool:
    import sqlalchemy as sa

    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.scalar(sa.text("SELECT count(*) FROM rsvps")) or 0) >= RSVPS
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def build_harbour(kind: str) -> str:
    """The database URL of the scale data set, built the first time."""
    CACHE.mkdir(exist_ok=True)
    new_keys = bench_keys()
    if kind == "sqlite":
        path = CACHE / "harbour-scale.sqlite"
        url = f"sqlite:///{path}"
        if path.exists() and (new_keys or not scaled(url)):
            for leftover in CACHE.glob("harbour-scale.sqlite*"):
                leftover.unlink()
    else:
        pg_ensure_database("harbour_bench")
        url = pg_url("harbour_bench")
    if new_keys or not scaled(url):
        log(f"building the {kind} scale data set (once; this takes a while)")
        started = time.perf_counter()
        if kind == "pg":
            import sqlalchemy as sa

            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            engine.dispose()
        flask(url, "db", "upgrade")
        flask(url, "seed-demo")
        flask(url, "seed-scale", "--events", str(EVENTS), "--rsvps", str(RSVPS),
              "--people", str(PEOPLE))
        log(f"built in {time.perf_counter() - started:.0f}s")
    # New migrations (indexes) apply to the cached data set.
    flask(url, "db", "upgrade")
    if kind == "sqlite":
        subprocess.run([sys.executable, "-c",
                        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('ANALYZE');"
                        " c.commit()", str(path)], check=True)
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                                  isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        engine.dispose()
    return url


def build_baseline(kind: str) -> str:
    if kind == "sqlite":
        CACHE.mkdir(exist_ok=True)
        path = CACHE / "baseline.sqlite"
        url = f"sqlite:///{path}"
        if path.exists():
            return url
    else:
        url = pg_url("harbour_bench_baseline")
        if not pg_ensure_database("harbour_bench_baseline"):
            return url.replace("postgresql://", "postgresql+psycopg://")
        url = url.replace("postgresql://", "postgresql+psycopg://")
    env = dict(os.environ)
    if kind == "pg":
        env["DATABASE_URL"] = url
    subprocess.run([sys.executable, "seed.py", str(CACHE / "baseline.sqlite")],
                   cwd=BASELINE, env=env, check=True)
    return url


# -- the servers -------------------------------------------------------------

def start(args: list[str], cwd: Path, env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", *args],
        cwd=cwd, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=30).read()
            return proc
        except (urllib.error.URLError, ConnectionError, OSError):
            if proc.poll() is not None:
                raise SystemExit(f"server on port {port} exited") from None
            time.sleep(0.5)
    raise SystemExit(f"server on port {port} did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def fetch(url: str) -> tuple[int, int]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, len(response.read())
    except urllib.error.HTTPError as error:
        return error.code, len(error.read())


def wrk(url: str, duration: int) -> tuple[float, float, int]:
    """req/s, p99 in ms and the number of non-2xx/3xx answers or socket errors."""
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        bad += sum(int(n) for n in socket.groups())
    return rps, p99, bad


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)$", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def pages(database_url: str) -> list[tuple[str, str]]:
    """(label, path) of each page of the issue's table, picked from the data set."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        hub, chapter = conn.execute(sa.text(
            "SELECT h.slug, c.code FROM hubs h JOIN chapters c ON c.id = h.chapter_id"
            " WHERE h.slug = 'london'")).one()
        event = conn.scalar(sa.text(
            "SELECT public_id FROM events WHERE status = 'published' AND audience = 'public'"
            " AND ends_at > CURRENT_TIMESTAMP ORDER BY id LIMIT 1"))
    engine.dispose()
    return [
        ("/events", "/events"),
        ("/events?chapter=…&language=yue", f"/events?chapter={chapter}&language=yue"),
        ("/events?page=50", "/events?page=50"),
        ("/ (home)", "/"),
        ("hub page", f"/hubs/{hub}"),
        ("chapter page", f"/chapters/{chapter}"),
        ("hub .ics", f"/hubs/{hub}/events.ics"),
        ("/events.atom", "/events.atom"),
        ("event page", f"/events/{event}"),
        ("hub directory", "/hubs"),
    ]


def bench(kind: str, duration: int, runs: int, only: str | None, page_cache: bool) -> None:
    harbour_url = build_harbour(kind)
    baseline_url = build_baseline(kind)
    env = harbour_env(harbour_url)
    if not page_cache:
        # What the queries and templates alone give: every request builds its page.
        env.update(FLASK_CACHE_TYPE="NullCache", FLASK_CACHE_NO_NULL_WARNING="true")
    harbour = start(["wsgi:app"], ROOT, env, HARBOUR_PORT)
    baseline = start(["app:app"], BASELINE, dict(os.environ, DATABASE_URL=baseline_url),
                     BASELINE_PORT)
    base_page = f"http://127.0.0.1:{BASELINE_PORT}/events"
    try:
        rows = []
        for label, path in pages(harbour_url):
            if only and only not in label and only not in path:
                continue
            url = f"http://127.0.0.1:{HARBOUR_PORT}{path}"
            status, size = fetch(url)
            # Warm both servers: a one-second burst reaches every worker of each
            # (4 single requests could all land on one worker and leave the
            # other's first build of the page inside the measurement).
            wrk(url, 1)
            wrk(base_page, 1)
            ours, theirs = [], []
            for _ in range(runs):
                theirs.append(wrk(base_page, duration))
                ours.append(wrk(url, duration))
            rps = statistics.median(r for r, _, _ in ours)
            base_rps = statistics.median(r for r, _, _ in theirs)
            p99 = statistics.median(p for _, p, _ in ours)
            base_p99 = statistics.median(p for _, p, _ in theirs)
            bad = max(b for _, _, b in ours)
            rows.append((label, rps, base_rps, p99, base_p99, size, status, bad))
            log(f"  {label}: {rps:.0f} req/s vs {base_rps:.0f}, p99 {p99:.1f} ms")
    finally:
        stop(harbour)
        stop(baseline)
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    cached = "" if page_cache else ", page cache off"
    print(f"\n{name}: wrk -t2 -c32 -d{duration}s, median of {runs}, gunicorn -w 2 -k sync"
          f"{cached}\n")
    print("| page | req/s | bare page req/s | share | p99 | bare page p99 | size | status |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rps, base_rps, p99, base_p99, size, status, bad in rows:
        share = rps / base_rps if base_rps else 0
        mark = "" if share >= 0.7 and p99 < 50 else " ✗"
        errors = f", {bad} errors" if bad else ""
        print(f"| `{label}` | {rps:.0f} | {base_rps:.0f} | {share:.0%}{mark} | {p99:.1f} ms"
              f" | {base_p99:.1f} ms | {size / 1024:.1f} KB | {status}{errors} |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per page (median)")
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--only", help="only pages whose label or path contains this")
    parser.add_argument("--page-cache", choices=["on", "off"], default="on",
                        help="off: every request builds its page (what the cache buys)")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite", "pg"] if args.db == "both" else [args.db]
    if "pg" in kinds and not os.environ.get("TEST_DATABASE_URL"):
        if args.db == "pg":
            raise SystemExit("--db pg needs TEST_DATABASE_URL")
        kinds = ["sqlite"]
    for kind in kinds:
        if args.build_only:
            build_harbour(kind)
            build_baseline(kind)
        else:
            bench(kind, args.duration, args.runs, args.only, args.page_cache == "on")


if __name__ == "__main__":
    main()
