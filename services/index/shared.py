"""What the processes of the distributed topology tell each other through the store (KENSAKU_TOPOLOGY).

Two small tables (made by the store's migrations, services/database/migrations.py):

    index_leases    which indexer holds an index: it alone takes that index's queued changes, so they
                    are written to the engine in queue order (a put then a delete of one document never
                    cross); a lease not renewed in ``indexer_lease_seconds`` (its indexer died) is free
    index_commits   a counter per index that the indexer raises in the transaction that marks a batch
                    INDEXED: an API process that sees it change takes a new reader (the engine's readers
                    cache statistics and stored values for the life of one commit)

Embedded mode never reads or writes them.
"""

from __future__ import annotations

import logging
import time

from services.database import Connection
from services.index.store import Store

log = logging.getLogger("kensaku.indexer")

class IndexLeases:
    """One indexer per index at a time, among any number of indexer processes."""

    def __init__(self, store: Store, holder: str, seconds: float) -> None:
        self.store = store
        self.holder = holder
        self.seconds = seconds
        self.held: set[str] = set()  # the indexes this indexer held at its last claim of each

    def claim(self, index_id: str, now: float | None = None) -> bool:
        """Take or renew the lease of ``index_id``; False while another live indexer holds it."""
        now = time.time() if now is None else now
        with self.store.write() as conn:
            # One statement: inserted when free, renewed when ours, taken over when expired.
            conn.execute(
                "INSERT INTO index_leases (index_id, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (index_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE index_leases.holder = excluded.holder OR index_leases.expires_at < ?",
                (index_id, self.holder, now + self.seconds, now))
            row = conn.execute("SELECT holder FROM index_leases WHERE index_id = ?", (index_id,)).fetchone()
        got = row is not None and row[0] == self.holder
        if got and index_id not in self.held:
            log.info("indexer %s took index %s", self.holder, index_id)
        (self.held.add if got else self.held.discard)(index_id)
        return got

    def holds(self, conn: Connection, index_id: str, now: float | None = None) -> bool:
        """Whether this indexer still holds ``index_id``, read in the caller's transaction."""
        now = time.time() if now is None else now
        row = conn.execute("SELECT holder, expires_at FROM index_leases WHERE index_id = ?", (index_id,)).fetchone()
        return row is not None and row[0] == self.holder and float(row[1]) >= now

    def release_all(self) -> None:
        """Give up every lease (a clean stop: another indexer need not wait for them to expire)."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM index_leases WHERE holder = ?", (self.holder,))
        self.held.clear()


def note_commit(conn: Connection, index_id: str) -> None:
    """Raise ``index_id``'s commit counter, in the caller's write transaction."""
    conn.execute(
        "INSERT INTO index_commits (index_id, commits) VALUES (?, 1)"
        " ON CONFLICT (index_id) DO UPDATE SET commits = index_commits.commits + 1", (index_id,))


def commits(store: Store, index_id: str) -> int:
    """How many batches the indexers have committed to ``index_id`` (0 before the first)."""
    row = store.read().execute("SELECT commits FROM index_commits WHERE index_id = ?", (index_id,)).fetchone()
    return int(row[0]) if row is not None else 0
