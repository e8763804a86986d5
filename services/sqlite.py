"""SQLite as the stores use it: WAL connections in autocommit mode, one writer behind a lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


def connect(path: Path) -> sqlite3.Connection:
    """A connection usable from any thread; transactions are explicit (see ``transaction``)."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process (only power loss can drop the last commits).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def transaction(writer: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``writer``, serialised by ``lock``; rolled back if the body raises."""
    with lock:
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield writer
        except BaseException:
            writer.execute("ROLLBACK")
            raise
        writer.execute("COMMIT")
