"""The PostgreSQL side (``KENSAKU_DATABASE_URL``): the tables of every component in one database, shared
by any number of processes, through a pool of psycopg 3 connections.

- Statements are the portable SQL of the stores: ``?`` placeholders become ``%s`` here (and a literal
  ``%`` becomes ``%%``), nothing else is rewritten.
- ``read()`` runs each statement on a pooled connection in autocommit mode and hands back its rows.
- ``write()`` is a transaction that first takes a transaction-level advisory lock of the component, so
  write transactions are serialised across processes exactly as SQLite's one writer serialises them.
- ``transaction()`` is a transaction without that lock, for work that locks its own rows (the indexers'
  claim on the pending queue); ``savepoint()`` nests in it.
- A lost server (restart, network) is ``DatabaseUnavailable``: the pool checks a connection before
  handing it out and replaces broken ones, so the first statement after the server is back succeeds;
  waiting for a connection gives up after ``timeout`` seconds instead of hanging.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

import psycopg
from psycopg import adapt
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from services.database.base import Connection, ConstraintViolation, Database, DatabaseUnavailable

# Errors that say the server (or the way to it) is gone, not that a statement is wrong.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class PgRow(tuple[Any, ...]):
    """A row by position (a tuple: equal to one, unpackable) or by column name, as ``sqlite3.Row``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key.lower()])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name.lower(), i)  # a duplicated name is the first such column, as in sqlite3.Row
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": index})


def _rows(cursor: Any) -> RowMaker[PgRow]:
    names = tuple(c.name for c in cursor.description or ())
    cls = _row_class(names)
    return cls  # the class called with a row's values makes the row


class _NumericLoader(adapt.Loader):
    """numeric (what SUM of integers and AVG give) as int when whole, else float, as SQLite gives them
    (never Decimal: the stores do arithmetic and render numbers with str())."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumericLoader)


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[?%]")


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The portable SQL of the stores in psycopg's form: ``?`` -> ``%s`` outside literals, and every ``%`` ->
    ``%%`` (psycopg reads placeholders inside literals too)."""
    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")
    return _TOKENS.sub(one, sql)


class _Result:
    """The rows of a statement run by ``read()`` (fetched before its connection went back to the pool)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class _Transaction:
    """A connection inside a transaction, taking the portable SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        try:
            return self.conn.execute(translate(sql), tuple(parameters))
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database is unavailable: {error}") from error
        except psycopg.IntegrityError as error:
            raise ConstraintViolation(str(error)) from error

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        rows = [tuple(p) for p in parameters]
        cursor = self.conn.cursor()
        try:
            if rows:
                cursor.executemany(translate(sql), rows)
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database is unavailable: {error}") from error
        except psycopg.IntegrityError as error:
            raise ConstraintViolation(str(error)) from error
        return cursor


class _Reader:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Result:
        with self._db.connection() as conn:
            try:
                cursor = conn.execute(translate(sql), tuple(parameters))
                rows = cursor.fetchall() if cursor.description is not None else []
                return _Result(rows, cursor.rowcount)
            except _UNAVAILABLE as error:
                raise DatabaseUnavailable(f"the database is unavailable: {error}") from error

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> _Result:
        with self._db.connection() as conn, conn.transaction():
            _Transaction(conn).executemany(sql, parameters)
        return _Result([], -1)


class PostgresDatabase(Database):
    dialect = "postgresql"
    row_locks = True

    def __init__(self, url: str, component: str, *, pool_size: int = 10, timeout: float = 10.0) -> None:
        self.url = url
        self.component = component
        self.timeout = timeout
        # Each component's own advisory lock key (a stable 63-bit number from its name).
        self.lock_key = int.from_bytes(hashlib.sha256(f"kensaku:{component}".encode()).digest()[:8], "big") >> 1
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), timeout=timeout, name=f"kensaku-{component}",
            # TCP keepalives: a server that vanished without closing its connections (a network partition)
            # is noticed in about half a minute, not after the system's hours-long TCP timeout.
            kwargs={"autocommit": True, "row_factory": _rows, "connect_timeout": max(1, int(timeout)),
                    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3},
            configure=_configure, check=ConnectionPool.check_connection, open=False,
            # The pool's reconnection attempts back off exponentially; giving up sooner than a caller waits
            # means the next caller's request starts a fresh attempt at once: the first operation after the
            # server is back gets a connection, however long the outage was.
            reconnect_timeout=max(1.0, timeout / 2),
        )
        self._pool.open(wait=False)
        self._reader = _Reader(self)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit); unreachable server -> DatabaseUnavailable."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database is unavailable: {error}") from error

    def read(self) -> Connection:
        return self._reader

    @contextmanager
    def transaction(self, *, serialised: bool = False) -> Iterator[_Transaction]:
        """A transaction on a pooled connection; ``serialised``: holding this component's write lock."""
        with self.connection() as conn:
            try:
                with conn.transaction():
                    if serialised:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                    yield _Transaction(conn)
            except _UNAVAILABLE as error:  # the commit itself may find the server gone
                raise DatabaseUnavailable(f"the database is unavailable: {error}") from error

    @staticmethod
    @contextmanager
    def savepoint(tx: _Transaction) -> Iterator[_Transaction]:
        """A nested transaction of ``tx``: undone alone when its block raises."""
        try:
            with tx.conn.transaction():
                yield tx
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database is unavailable: {error}") from error

    def write(self) -> AbstractContextManager[Connection]:
        return self.transaction(serialised=True)

    def close(self) -> None:
        self._pool.close()

    def has_table(self, name: str) -> bool:
        row = self.read().execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()
        return bool(row[0])

    def columns(self, table: str, conn: Connection | None = None) -> set[str]:
        rows = (conn or self.read()).execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ?", (table,))
        return {str(r[0]) for r in rows}

    def json_text(self, column: str, key: str) -> str:
        return f"(({column})::jsonb ->> '{key.replace(chr(39), chr(39) * 2)}')"

    def ddl(self, statement: str) -> str:
        return to_postgres_ddl(statement)

    def serialise_migrations(self, conn: Connection) -> None:
        # One lock for every component: concurrent CREATE TABLE IF NOT EXISTS of one table can fail.
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATIONS_KEY,))


_MIGRATIONS_KEY = int.from_bytes(hashlib.sha256(b"kensaku:migrations").digest()[:8], "big") >> 1


_DDL_TYPES = (
    # Types are upper case in our DDL, names lower case: only types match.
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    # Text compares and sorts by its bytes, as in SQLite, whatever the database's locale.
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
)


def to_postgres_ddl(statement: str) -> str:
    """SQLite's column types in PostgreSQL's (only column definitions use these words in our DDL)."""
    if not re.match(r"\s*(CREATE|ALTER)\s+TABLE\b", statement, re.I):
        return statement
    for pattern, replacement in _DDL_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement
