"""Field-level encryption (SECURITY.md R40): AES-256-GCM from ``cryptography``
for the columns a seized database must not give away, and an HMAC-SHA256
blind index for looking people up by email address.

A stored value is ``<key id>:<base64url(nonce || ciphertext || tag)>``: text,
so it fits SQLite and PostgreSQL alike, and the key id lets keys rotate
(``flask rotate-keys``). The associated data is the value's ``table.column``,
so a value copied into another column does not decrypt. Keys never live in
the database: they come from ``HARBOUR_DATA_KEYS`` / ``HARBOUR_INDEX_KEY``
(e.g. ``FLASK_HARBOUR_DATA_KEYS``) or from ``keys.json`` in the instance
folder (see ``load_keyring``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}\Z")
KEY_FILE = "keys.json"
NONCE_BYTES = 12
EXTENSION = "harbour_keyring"

# Known keys for HARBOUR_ENV=testing (the suite and its child processes share
# them). Production refuses them, like the default SECRET_KEY (R46).
TESTING_DATA_KEYS = ("test1:" + base64.b64encode(b"t" * 32).decode(),)
TESTING_INDEX_KEY = base64.b64encode(b"i" * 32).decode()


class KeyProblem(ValueError):
    """The keys are missing or malformed."""


class UndecryptableValue(ValueError):
    """A stored value does not decrypt with any known key (wrong key, wrong
    column, or tampered)."""


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyProblem("a key is not valid base64") from exc


def _key(text: str, what: str) -> bytes:
    key = _b64decode(text)
    if len(key) != 32:
        raise KeyProblem(f"{what} must be 32 random bytes (base64), not {len(key)}")
    return key


def parse_data_keys(value) -> list[tuple[str, bytes]]:
    """``["id:base64key", ...]`` or ``"id:key,id:key"`` -> [(id, key)], first current."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    keys = []
    for entry in value or ():
        key_id, colon, encoded = str(entry).strip().partition(":")
        if not colon or not KEY_ID.match(key_id):
            raise KeyProblem("each data key is written id:base64key, the id being 1-16 "
                            "letters, digits, - or _")
        keys.append((key_id, _key(encoded, f"data key {key_id}")))
    if len({key_id for key_id, _ in keys}) != len(keys):
        raise KeyProblem("two data keys have the same id")
    return keys


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_key_id(taken: Iterable[str] = ()) -> str:
    taken = set(taken)
    while True:
        key_id = "k" + secrets.token_hex(4)
        if key_id not in taken:
            return key_id


@dataclass
class Keyring:
    """The data keys (first is current) and the blind-index key."""

    data_keys: list[tuple[str, bytes]]
    index_key: bytes
    source: str = ""
    # Keys read from a file are re-read when it changes, so running workers
    # follow `flask rotate-keys` without a restart (checked at most every
    # RECHECK_SECONDS, and at once for a value under an unknown key).
    path: Path | None = None
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)
    _mtime: float = field(default=0.0, repr=False)
    _checked: float = field(default=0.0, repr=False)

    RECHECK_SECONDS = 30.0

    def __post_init__(self) -> None:
        if not self.data_keys:
            raise KeyProblem("no data key")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in self.data_keys}
        if self.path is not None:
            self._mtime = self.path.stat().st_mtime
            self._checked = time.monotonic()

    def refresh(self, force: bool = False) -> None:
        """Re-read the keys file if it changed (data keys only: the index key
        cannot change under a running app)."""
        if self.path is None or (not force and
                                 time.monotonic() - self._checked < self.RECHECK_SECONDS):
            return
        self._checked = time.monotonic()
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self._mtime:
                return
            keys = parse_data_keys(read_key_file(self.path).get("data_keys"))
        except (OSError, ValueError):
            return  # keep the keys we have; the file is being replaced or is broken
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self.data_keys = keys
        self._mtime = mtime

    @property
    def current_id(self) -> str:
        return self.data_keys[0][0]

    @property
    def key_ids(self) -> list[str]:
        return [key_id for key_id, _ in self.data_keys]

    def encrypt(self, plaintext: str, context: str) -> str:
        self.refresh()
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("ascii"))
        return f"{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, stored: str, context: str) -> str:
        key_id, colon, encoded = stored.partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None and colon:
            self.refresh(force=True)
            cipher = self._ciphers.get(key_id)
        if not colon or cipher is None:
            raise UndecryptableValue(f"no key {key_id!r} for a value in {context}")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("ascii"))
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise UndecryptableValue(f"a value in {context} does not decrypt") from exc
        return plain.decode("utf-8")

    def blind_index(self, email: str) -> str:
        """HMAC-SHA256 of the normalised (trimmed, lower-cased) address, hex."""
        normal = (email or "").strip().lower().encode("utf-8")
        return hmac.new(self.index_key, normal, hashlib.sha256).hexdigest()


def key_id_of(stored: str | None) -> str | None:
    if not stored:
        return None
    return stored.partition(":")[0]


# --- Where keys come from -------------------------------------------------


def key_file(app) -> Path:
    """``HARBOUR_KEY_FILE`` if set, else ``keys.json`` in the instance folder."""
    configured = app.config.get("HARBOUR_KEY_FILE")
    return Path(configured) if configured else Path(app.instance_path) / KEY_FILE


def write_key_file(path: Path, data_keys: list[str], index_key: str, **extra) -> None:
    """Write the keys file readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"data_keys": data_keys, "index_key": index_key, **extra}, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_key_file(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise KeyProblem(f"{path} must hold a JSON object")
    return data


def key_file_too_open(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def load_keyring(app) -> Keyring:
    """The keys, from the configuration (``HARBOUR_DATA_KEYS`` and
    ``HARBOUR_INDEX_KEY``), else from ``instance/keys.json``. Development makes
    that file once; testing uses the known test keys; production has neither
    fallback (the caller refuses to start). Raises KeyProblem."""
    config = app.config
    env = config.get("HARBOUR_ENV")
    if config.get("HARBOUR_DATA_KEYS"):
        if not config.get("HARBOUR_INDEX_KEY"):
            raise KeyProblem("HARBOUR_INDEX_KEY must be set with HARBOUR_DATA_KEYS")
        return Keyring(parse_data_keys(config["HARBOUR_DATA_KEYS"]),
                       _key(str(config["HARBOUR_INDEX_KEY"]), "HARBOUR_INDEX_KEY"),
                       source="configuration")
    if env == "testing" and not config.get("HARBOUR_KEY_FILE"):
        # Never the checkout's instance/keys.json, which `make run` writes.
        return keyring_for_testing()
    path = key_file(app)
    if not path.exists() and env == "development":
        write_key_file(path, [f"{new_key_id()}:{new_key()}"], new_key())
    if path.exists():
        if env == "production" and key_file_too_open(path):
            raise KeyProblem(f"{path} must be readable by its owner only (chmod 600)")
        data = read_key_file(path)
        return Keyring(parse_data_keys(data.get("data_keys")),
                       _key(str(data.get("index_key", "")), "index_key"), source=str(path),
                       path=path)
    if env == "testing":
        return keyring_for_testing()
    raise KeyProblem("no encryption keys: set HARBOUR_DATA_KEYS and HARBOUR_INDEX_KEY, or "
                    f"put them in {path} (see README, Encryption keys)")


def keyring_for_testing() -> Keyring:
    """The keys HARBOUR_ENV=testing uses when none are configured."""
    return Keyring(parse_data_keys(TESTING_DATA_KEYS), _key(TESTING_INDEX_KEY, "index"),
                   source="testing")


def uses_testing_keys(keyring: Keyring) -> bool:
    """Whether any key is one of the published testing keys."""
    known = {key for _, key in parse_data_keys(TESTING_DATA_KEYS)}
    known.add(_key(TESTING_INDEX_KEY, "index"))
    return bool(known & {keyring.index_key, *(key for _, key in keyring.data_keys)})


def keyring() -> Keyring:
    return current_app.extensions[EXTENSION]


def blind_index(email: str) -> str:
    return keyring().blind_index(email)


# --- The column type ------------------------------------------------------

# Comparing ciphertexts means nothing (each has its own nonce): only IS NULL,
# and = / != with the empty string (stored as it is), work.
_ALLOWED = {operators.is_, operators.is_not}
_EMPTY_ONLY = {operators.eq, operators.ne}


class EncryptedText(TypeDecorator):
    """A text column stored encrypted; Python code sees plain ``str``.

    ``context`` is ``"table.column"``, bound into each value as associated
    data. ``None`` and ``""`` are stored as they are (an empty field says
    nothing). Filtering or sorting on the column raises TypeError (but for
    ``== ""`` and ``!= ""``): look people up through the blind index instead."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    class comparator_factory(TypeDecorator.Comparator):  # noqa: N801 (SQLAlchemy's name)
        def operate(self, op, *other, **kwargs):
            if op in _EMPTY_ONLY and other == ("",):
                return super().operate(op, *other, **kwargs)
            if op not in _ALLOWED:
                raise TypeError("an encrypted column cannot be compared or sorted")
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op, other, **kwargs):
            raise TypeError("an encrypted column cannot be compared or sorted")

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().encrypt(str(value), self.context)

    def process_result_value(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().decrypt(value, self.context)

    def copy(self, **kw):
        return EncryptedText(self.context)


def encrypted_columns(metadata: sa.MetaData) -> dict[str, list[str]]:
    """{table name: [encrypted column names]} for every table in ``metadata``."""
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        names = [column.name for column in table.columns
                 if isinstance(column.type, EncryptedText)]
        if names:
            found[table.name] = names
    return found
