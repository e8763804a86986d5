"""The one interface every store uses, whatever database is behind it (SQLite or PostgreSQL).

SQL is written once, portably: ``?`` placeholders, ``INSERT ... ON CONFLICT``, no PRAGMA or
``sqlite_master`` (ask the database: ``has_table``), JSON members through ``json_text``. Rows are read
by name or by position (``row["id"]``, ``row[0]``, tuple unpacking), as ``sqlite3.Row`` allows.

``read()`` gives something to run single statements on (each sees what is committed); ``write()`` one
transaction, committed when the block ends and rolled back when it raises. Write transactions are
serialised, as SQLite's single writer serialises them: on PostgreSQL across every process sharing the
database, so a read-then-write in one ``write()`` block means the same on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (down, restarting, unreachable): retriable, never the client's
    mistake (the API answers it with a 5xx)."""


class ConstraintViolation(Exception):
    """A statement broke a UNIQUE, PRIMARY KEY, NOT NULL or CHECK constraint (PostgreSQL's side of
    ``sqlite3.IntegrityError``; catch ``services.database.INTEGRITY_ERRORS`` for both)."""


class Row(Protocol):
    """A result row: by column name or position; iterable (and so unpackable)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Cursor(Protocol):
    """What a statement gives back (``sqlite3.Cursor`` is one)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What statements run on (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


class Database(ABC):
    """One logical database (``component``: "store", "faqs", "analytics"): a SQLite file of the data
    folder, or its tables in the one PostgreSQL database of ``KENSAKU_DATABASE_URL``."""

    dialect: Dialect
    component: str
    # Whether rows can be locked for a transaction (SELECT ... FOR UPDATE SKIP LOCKED): several processes
    # may then take work from one queue. SQLite has one writer process and needs no row locks.
    row_locks: bool = False

    @abstractmethod
    def read(self) -> Connection:
        """Run statements outside any write transaction (each sees what is committed)."""

    @abstractmethod
    def write(self) -> AbstractContextManager[Connection]:
        """One write transaction, serialised with every other ``write()`` of this database."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the table exists."""

    @abstractmethod
    def columns(self, table: str, conn: Connection | None = None) -> set[str]:
        """The column names of a table (empty when it does not exist), as ``conn`` (or a reader) sees them."""

    @abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """An SQL expression: the text of member ``key`` of the JSON object in ``column`` (NULL if absent)."""

    @abstractmethod
    def ddl(self, statement: str) -> str:
        """A ``CREATE TABLE``/``INDEX`` statement written with SQLite's types, in this dialect."""

    def serialise_migrations(self, conn: Connection) -> None:  # noqa: B027 (nothing to do on SQLite)
        """Inside a write transaction: wait until no other process migrates any component."""

    def script(self, conn: Connection, statements: str) -> None:
        """Run ``;``-separated DDL on ``conn`` (none of it may hold a ``;`` in a literal)."""
        for statement in statements.split(";"):
            if statement.strip():
                conn.execute(self.ddl(statement))
