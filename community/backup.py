"""Back up and restore the database: `flask --app wsgi backup PATH` and `restore PATH`.

SQLite uses its online backup API, so a backup taken while Harbour serves is
consistent. PostgreSQL uses ``pg_dump -Fc`` and ``pg_restore --clean
--if-exists`` (the PostgreSQL client tools must be on PATH); connection
details go to them through PG* environment variables, never the command line,
so the password does not show in the process list.

Restoring refuses a database that holds any row (the schema alone counts as
empty) unless told ``--force``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 (pg_dump and pg_restore, fixed argument lists, no shell)
from collections.abc import Callable
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask

from community.extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Pages copied per step of the SQLite backup; the progress bar moves per step.
SQLITE_STEP_PAGES = 256


class BackupError(click.ClickException):
    """The backup or restore could not be done; the message says why."""


def row_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows in each table of ``engine``'s database, by table name."""
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {
            name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
            for name in sorted(names)
        }


def is_empty(engine: sa.Engine) -> bool:
    """No rows anywhere but Alembic's version table (a migrated, unused database)."""
    return not any(n for name, n in row_counts(engine).items() if name != "alembic_version")


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the configured SQLite database is in memory; nothing to back up")
    return Path(url.database)


def _pg_environment(url: sa.URL) -> dict[str, str]:
    env = dict(os.environ)
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[variable] = str(value)
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True,  # noqa: S603 (fixed list)
                            check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")


def _sqlite_copy(source: sqlite3.Connection, target: sqlite3.Connection, label: str) -> None:
    with click.progressbar(length=100, label=label) as bar:
        done = 0

        def progress(_status: int, remaining: int, total: int) -> None:
            nonlocal done
            now = 100 if not total else int(100 * (total - remaining) / total)
            bar.update(now - done)
            done = now

        source.backup(target, pages=SQLITE_STEP_PAGES, progress=progress)
        bar.update(100 - done)


def backup(engine: sa.Engine, path: Path) -> None:
    """Write a complete copy of ``engine``'s database to ``path``."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(path)
        try:
            _sqlite_copy(source, target, "Backing up")
        finally:
            target.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        click.echo("Backing up with pg_dump …")
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={path}"], _pg_environment(url))
    else:
        raise BackupError(f"no backup method for {url.get_backend_name()}")


def restore(engine: sa.Engine, path: Path) -> None:
    """Replace ``engine``'s database with the backup at ``path``."""
    url = engine.url
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(f"{path} is not an SQLite backup")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            _sqlite_copy(source, target, "Restoring")
        finally:
            target.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(f"{path} is not a pg_dump custom-format backup")
        click.echo("Restoring with pg_restore …")
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", f"--dbname={url.database}", str(path)],
             _pg_environment(url))
    else:
        raise BackupError(f"no restore method for {url.get_backend_name()}")
    engine.dispose()


def _summary(counts: dict[str, int], echo: Callable[[str], None]) -> None:
    for name, n in counts.items():
        echo(f"  {name}: {n}")
    echo(f"{len(counts)} tables, {sum(counts.values())} rows.")


def init_cli(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
    @click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
    def backup_command(path: Path, force: bool) -> None:
        """Write a backup of the database to PATH (SQLite file or pg_dump archive)."""
        if path.exists() and not force:
            raise BackupError(f"{path} exists; use --force to overwrite it")
        if path.exists():
            path.unlink()
        backup(db.engine, path)
        click.echo(f"Backed up to {path} ({path.stat().st_size} bytes):")
        _summary(row_counts(db.engine), click.echo)

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True,
                  help="Restore even over a database that holds data (it is replaced).")
    def restore_command(path: Path, force: bool) -> None:
        """Replace the configured database with the backup at PATH."""
        if not force and not is_empty(db.engine):
            raise BackupError("the configured database holds data; restore with --force "
                              "to replace it")
        restore(db.engine, path)
        click.echo(f"Restored {path}:")
        _summary(row_counts(db.engine), click.echo)
