"""The admin token of the web pages: configured (``KENSAKU_ADMIN_TOKEN``) or made on first run.

With no token configured, ``kensaku serve`` makes one the first time it starts on a data folder
(:func:`create`), prints it once as a sign-in link, and keeps only a salted scrypt hash of it in
``<data folder>/admin-token.json`` (mode 0600): the token itself is written nowhere. It opens the
pages until ``kensaku admin-token --rotate`` replaces it; a running server reads the file again
when it changes, and sessions opened with the old token end (:meth:`AdminToken.generation`).

A configured token wins over a stored one (the file is then neither read nor made).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from services.settings import Settings

TOKEN_FILE = "admin-token.json"
# scrypt's cost: about 16 MB and a few tens of milliseconds a check. The token holds 256 random bits,
# so the hash guards a copied data folder, not a weak secret; wrong tokens are also rate-limited.
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True, slots=True)
class StoredToken:
    """What the data folder keeps of a made token: the salt and scrypt hash, and when it was made."""

    salt: bytes
    digest: bytes
    created_at: float
    n: int = _N
    r: int = _R
    p: int = _P

    def matches(self, token: str) -> bool:
        candidate = hashlib.scrypt(token.encode("utf-8"), salt=self.salt, n=self.n, r=self.r, p=self.p,
                                   dklen=len(self.digest), maxmem=64 * 1024 * 1024)
        return hmac.compare_digest(candidate, self.digest)


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def create(data_dir: Path) -> str:
    """Make a new token, store its hash (replacing any earlier one) and return the token itself.

    The file is written 0600 beside the data and moved into place, so a running server never reads
    half of it.
    """
    token = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    record = {"algorithm": "scrypt", "n": _N, "r": _R, "p": _P, "salt": salt.hex(), "hash": digest.hex(),
              "created_at": time.time()}
    data_dir.mkdir(parents=True, exist_ok=True)
    path = token_path(data_dir)
    temporary = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.chmod(temporary, 0o600)  # whatever the umask
    os.replace(temporary, path)
    return token


def read(data_dir: Path) -> StoredToken | None:
    """The stored token of a data folder, or None when there is none (or it cannot be read)."""
    try:
        record = json.loads(token_path(data_dir).read_text(encoding="utf-8"))
        return StoredToken(bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"]),
                           float(record["created_at"]), int(record["n"]), int(record["r"]), int(record["p"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class AdminToken:
    """Checks a presented token against the configured one, else the data folder's stored hash."""

    def __init__(self, settings: Settings) -> None:
        self._configured = settings.admin_token.get_secret_value() if settings.admin_token is not None else None
        self._data_dir = settings.data_dir
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, inode) of the file last read
        self._stored: StoredToken | None = None

    @property
    def configured(self) -> bool:
        return self._configured is not None

    def _current(self) -> StoredToken | None:
        try:
            info = token_path(self._data_dir).stat()
        except OSError:
            return None
        with self._lock:
            if self._seen != (info.st_mtime_ns, info.st_ino):  # rotated since: read it again
                self._stored, self._seen = read(self._data_dir), (info.st_mtime_ns, info.st_ino)
            return self._stored

    @property
    def enabled(self) -> bool:
        """Whether any token opens the pages (else they are off)."""
        return self._configured is not None or self._current() is not None

    def check(self, token: str) -> bool:
        """Whether ``token`` is the admin token (compared in constant time)."""
        if self._configured is not None:
            return hmac.compare_digest(token.encode("utf-8"), self._configured.encode("utf-8"))
        stored = self._current()
        return stored is not None and bool(token) and stored.matches(token)

    def generation(self) -> str:
        """Names the token now in force; a session opened under another one has ended."""
        if self._configured is not None:
            return "configured"
        stored = self._current()
        return stored.digest.hex()[:16] if stored is not None else ""
