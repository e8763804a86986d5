"""SQLite as the stores use it: WAL connections in autocommit mode, one writer behind a lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
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


def rows_where(conn: sqlite3.Connection, select: str, column: str, values: Sequence[object]) -> list[Any]:
    """The rows of ``select`` whose ``column`` is one of ``values`` (500 values a statement, below
    SQLite's limit on parameters)."""
    rows: list[Any] = []
    for i in range(0, len(values), 500):
        part = list(values[i : i + 500])
        marks = ",".join("?" * len(part))
        rows += conn.execute(f"{select} WHERE {column} IN ({marks})", part).fetchall()
    return rows
