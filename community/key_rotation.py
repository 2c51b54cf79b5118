"""`flask --app wsgi rotate-keys`: put every encrypted value under a new key.

With keys in ``keys.json`` the command writes a new key at the front of the
file (the current key) and marks the rotation as under way, then re-encrypts
every encrypted column in batches, committing each batch. Interrupted, it is
run again and carries on: values already under the new key are skipped, and
the file still says a rotation is under way, so no second key is added. The
old keys stay in the file and keep decrypting until the end, when the command
says which keys may be retired (``--retire`` removes them).

With keys in the configuration (``HARBOUR_DATA_KEYS``) the command cannot
write them: put the new key first, keep the old ones after it, restart, and
run the command; it re-encrypts what is not under the first key.
"""

from __future__ import annotations

from collections.abc import Callable

import click
import sqlalchemy as sa
from flask import Flask

from community import encryption
from community.database import escape_like
from community.extensions import db

BATCH = 200


def _tables() -> list[tuple[sa.TableClause, list[str]]]:
    """Lightweight tables (no defaults, so updated_at is left alone) with their
    encrypted columns as plain text."""
    found = []
    for name, columns in sorted(encryption.encrypted_columns(db.metadata).items()):
        found.append((sa.table(name, sa.column("id", sa.Integer),
                               *[sa.column(column, sa.Text) for column in columns]), columns))
    return found


def _stale(table: sa.TableClause, columns: list[str], current: str):
    """Rows with a value under any key but ``current``."""
    prefix = escape_like(current) + ":%"
    return sa.or_(*[sa.and_(table.c[column].is_not(None), table.c[column] != "",
                            sa.not_(table.c[column].like(prefix, escape="\\")))
                    for column in columns])


def count_stale() -> int:
    """How many rows still hold a value under an older key."""
    current = encryption.keyring().current_id
    return sum(db.session.scalar(sa.select(sa.func.count()).select_from(table)
                                 .where(_stale(table, columns, current))) or 0
               for table, columns in _tables())


def reencrypt(progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt, batch by batch (each committed), every row holding a value
    under an older key; returns how many rows were rewritten."""
    keys = encryption.keyring()
    current = keys.current_id
    done = 0
    for table, columns in _tables():
        last = 0
        while True:
            rows = db.session.execute(
                sa.select(table.c.id, *[table.c[column] for column in columns])
                .where(table.c.id > last, _stale(table, columns, current))
                .order_by(table.c.id).limit(BATCH)).all()
            if not rows:
                break
            for row in rows:
                values = {}
                for column in columns:
                    stored = getattr(row, column)
                    if stored and encryption.key_id_of(stored) != current:
                        context = f"{table.name}.{column}"
                        values[column] = keys.encrypt(keys.decrypt(stored, context), context)
                db.session.execute(table.update().where(table.c.id == row.id).values(**values))
            db.session.commit()
            done += len(rows)
            last = rows[-1].id
            if progress is not None:
                progress(len(rows))
    return done


def start_file_rotation(path) -> str:
    """Add a new current key to the keys file and mark the rotation as under
    way; returns the new key's id."""
    data = encryption.read_key_file(path)
    keys = encryption.parse_data_keys(data.get("data_keys"))
    key_id = encryption.new_key_id(key_id for key_id, _ in keys)
    encryption.write_key_file(
        path, [f"{key_id}:{encryption.new_key()}", *data["data_keys"]], data["index_key"],
        rotating=True)
    encryption.keyring().refresh(force=True)
    return key_id


def finish_file_rotation(path, retire: bool) -> list[str]:
    """Mark the rotation done; with ``retire`` keep only the current key.
    Returns the ids of the older keys (retired or retirable)."""
    data = encryption.read_key_file(path)
    entries = list(data["data_keys"])
    older = [entry.partition(":")[0] for entry in entries[1:]]
    encryption.write_key_file(path, entries[:1] if retire else entries, data["index_key"])
    encryption.keyring().refresh(force=True)
    return older


def init_cli(app: Flask) -> None:
    """Register `rotate-keys`."""

    @app.cli.command("rotate-keys")
    @click.option("--retire", is_flag=True,
                  help="When every value is under the new key, remove the old keys from "
                       "the keys file. Keep a copy if a backup made before may be restored.")
    def rotate_keys_command(retire: bool) -> None:
        """Re-encrypt every encrypted field under a new key (resumable)."""
        keys = encryption.keyring()
        from_file = keys.path is not None
        if from_file:
            if encryption.read_key_file(keys.path).get("rotating"):
                click.echo(f"Carrying on with the rotation to key {keys.current_id}.")
            else:
                key_id = start_file_rotation(keys.path)
                click.echo(f"Added key {key_id} to {keys.path}; it is now the current key. "
                           "Running web and worker processes pick it up within a minute.")
        else:
            click.echo(f"Keys come from the configuration; re-encrypting under its first "
                       f"key, {keys.current_id}.")
        total = count_stale()
        with click.progressbar(length=total, label="Re-encrypting") as bar:
            done = reencrypt(bar.update)
        left = count_stale()
        if left:
            # Written by a process that had not yet seen the new key.
            raise click.ClickException(
                f"{left} rows were written under an older key meanwhile; run rotate-keys again.")
        current = encryption.keyring().current_id
        click.echo(f"Re-encrypted {done} rows; every encrypted value is now under key {current}.")
        if from_file:
            older = finish_file_rotation(keys.path, retire)
        else:
            older = [key_id for key_id in encryption.keyring().key_ids if key_id != current]
        if not older:
            return
        if retire and from_file:
            click.echo(f"Retired keys {', '.join(older)}. Backups made before this rotation "
                       "need them: restore those with a copy of the old keys file.")
        else:
            click.echo(f"The old keys {', '.join(older)} may now be retired (removed from "
                       f"{'the keys file' if from_file else 'HARBOUR_DATA_KEYS'}) once no "
                       "backup made before this rotation will be restored.")
