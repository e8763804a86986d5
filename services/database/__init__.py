"""Where the stores keep their state: SQLite files in the data folder (embedded mode, the default), or
one PostgreSQL database shared by every process (``KENSAKU_DATABASE_URL``). See ``base`` for the
interface, ``migrations`` for the schema."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from services.database.base import (
    Connection,
    ConstraintViolation,
    Cursor,
    Database,
    DatabaseUnavailable,
    Dialect,
    Row,
)

if TYPE_CHECKING:
    from services.settings import Settings

__all__ = ["ConstraintViolation", "Connection", "Cursor", "Database", "DatabaseUnavailable", "Dialect", "Row", "FILES",
           "INTEGRITY_ERRORS", "open_database"]

# What a broken constraint raises, on either database.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, ConstraintViolation)

# Each component's SQLite file in the data folder.
FILES = {"store": "kensaku.sqlite3", "faqs": "faqs.sqlite3", "analytics": "analytics.sqlite3"}


def open_database(settings: Settings, component: str, *, named_rows: bool = True) -> Database:
    """``component``'s database as the settings say (its schema is migrated by the store that opens it).
    ``named_rows``: SQLite rows by name as well as position (``sqlite3.Row``), else plain tuples."""
    url = settings.database_url.get_secret_value() if settings.database_url is not None else None
    if url:
        from services.database.postgres import PostgresDatabase

        return PostgresDatabase(url, component, pool_size=settings.database_pool_size,
                                timeout=settings.database_timeout_seconds)
    from services.database.sqlite import SQLiteDatabase

    return SQLiteDatabase(settings.data_dir / FILES[component], component, named_rows=named_rows)
