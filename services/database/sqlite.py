"""The SQLite side: one file of the data folder (WAL), one writer connection behind a lock, one reader
connection per thread: how the stores have always used SQLite (embedded mode)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from services import sqlite
from services.database.base import Connection, Database


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, component: str, *, named_rows: bool = True) -> None:
        self.path = path
        self.component = component
        self._named_rows = named_rows
        self._lock = threading.Lock()
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite.connect(self.path)
        if self._named_rows:
            conn.row_factory = sqlite3.Row
        return conn

    def read(self) -> Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def write(self) -> AbstractContextManager[Connection]:
        return sqlite.transaction(self._writer, self._lock)

    def close(self) -> None:
        with self._lock:
            self._writer.close()

    def has_table(self, name: str) -> bool:
        return self.read().execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                   (name,)).fetchone() is not None

    def columns(self, table: str, conn: Connection | None = None) -> set[str]:
        return {str(row[1]) for row in (conn or self.read()).execute(f"PRAGMA table_info({table})")}

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, {_literal('$.' + key)})"

    def ddl(self, statement: str) -> str:
        return statement


def _literal(text: str) -> str:
    """A string literal (keys are ours, but quote them properly all the same)."""
    return "'" + text.replace("'", "''") + "'"
