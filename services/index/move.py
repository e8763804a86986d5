"""Moving indexes from one engine to the other (``kensaku move-index``): embedded -> OpenSearch, and back.

Why: a user starts on the embedded engine (nothing to run besides ``kensaku serve``) and moves up to an
OpenSearch cluster when the documents outgrow one machine, or comes back from it, without crawling or
embedding anything again.

What moves, per index (every ACTIVE or UPDATING index of the data folder's store, or those named):

- the analysed documents: every searchable document the store keeps (its text, title, attributes and
  ACL) is analysed again, as a schema rebuild does, into the target's search index of the index's
  current schema generation;
- the passages and title vectors of the configured embedding model (``KENSAKU_EMBEDDER``), copied as
  they are from the source's passage store: no model runs.

Everything else of an index (its row, the documents' text, FAQs, data sources, analytics, the pending
queue) lives in the data folder whatever the engine, so the server on the target engine must be started
on the same data folder. What the target already held of a moved index is dropped first: a move run
again starts clean, and an interrupted one leaves nothing half-moved behind (it drops what it wrote).
The source is left as it is. Changes still queued are not moved: the next server indexes them into
whichever engine it runs. The server must be stopped: the move takes the data folder's lock
(services/data_lock.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

import numpy as np

from services.data_lock import lock_data_folder
from services.database import Row
from services.engine.base import Engine, PassageStore, StoredPassage
from services.engine.embedder import Embedder, Vectors, make_embedder
from services.engine.passages import Passage
from services.engine.query import MatchAll
from services.engine.vectors import LAYOUT
from services.index.documents import build_version, field_specs, lexical_document
from services.index.store import Store, open_store
from services.settings import Settings

log = logging.getLogger("kensaku.move")

STORE_FILE = "kensaku.sqlite3"  # the data folder's store, as kensaku/app.py opens it
BATCH = 500  # documents read from the store, written and committed at a time
MOVABLE = ("ACTIVE", "UPDATING")

Progress = Callable[[str], None]


class MoveRefused(Exception):
    """The move cannot start as asked (nothing was changed)."""


@dataclass(slots=True)
class MoveReport:
    """What was moved of one index, and what the target holds afterwards."""

    index_id: str
    name: str
    documents: int = 0  # searchable documents in the store, analysed into the target
    in_target: int = 0  # documents the target's search index counts afterwards
    passages: int = 0  # passages copied
    titles: int = 0  # title vectors copied
    vectors_in_source: int = 0  # passages and titles the source held
    vectors_in_target: int = 0  # passages and titles the target holds afterwards
    pending: int = 0  # changes still queued (indexed by the next server)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether the target holds every document and every vector copied."""
        return self.in_target == self.documents and self.vectors_in_target == self.passages + self.titles


def move_indexes(settings: Settings, source: Engine, target: Engine, index_ids: Sequence[str] | None,
                 progress: Progress, *, force: bool = False) -> list[MoveReport]:
    """Move ``index_ids`` (None: every ACTIVE or UPDATING index) of ``settings.data_dir`` from ``source`` to
    ``target``. Raises ``DataFolderInUse`` while a server runs on the folder, ``MoveRefused`` when the move
    cannot start (nothing changed then), and the engines' errors (``EngineUnavailable``) as they come."""
    if source.name == target.name:
        raise MoveRefused(f"The source and the target are both the {source.name} engine")
    path = settings.data_dir / STORE_FILE
    if settings.database_url is None and not path.exists():
        raise MoveRefused(f"{settings.data_dir} holds no Kensaku data ({STORE_FILE} is missing)")
    with lock_data_folder(settings.data_dir):
        store = open_store(settings)
        try:
            rows = chosen_indexes(store, settings, index_ids, progress)
            embedder = make_embedder(settings.embedder, settings.embedder_model)
            if not force:
                check_direction(source, target, [row["id"] for row in rows], embedder)
            return [move_index(store, source, target, row, embedder, progress) for row in rows]
        finally:
            store.close()


def effective_status(row: Row, settings: Settings) -> str:
    """The status the server reports: CREATING turns ACTIVE after ``index_creating_seconds``."""
    status = str(row["status"])
    if status == "CREATING" and time.time() - row["created_at"] >= settings.index_creating_seconds:
        return "ACTIVE"
    return status


def chosen_indexes(store: Store, settings: Settings, index_ids: Sequence[str] | None,
                   progress: Progress) -> list[Row]:
    """The index rows to move: those named (each must exist and be ACTIVE or UPDATING), or every ACTIVE or
    UPDATING one (the others are skipped with a line of progress)."""
    rows = {row["id"]: row for row in store.index_rows()}
    if index_ids:
        missing = [i for i in index_ids if i not in rows]
        if missing:
            raise MoveRefused(f"No index {', '.join(missing)} in {settings.data_dir}")
        named = [rows[i] for i in dict.fromkeys(index_ids)]
        busy = [f"{r['id']} is {effective_status(r, settings)}" for r in named
                if effective_status(r, settings) not in MOVABLE]
        if busy:
            raise MoveRefused("Only ACTIVE or UPDATING indexes can be moved: " + "; ".join(busy))
        return named
    chosen = []
    for row in rows.values():
        status = effective_status(row, settings)
        if status in MOVABLE:
            chosen.append(row)
        else:
            progress(f"skipping index {row['name']} ({row['id']}): it is {status}")
    return chosen


def check_direction(source: Engine, target: Engine, index_ids: Sequence[str], embedder: Embedder | None) -> None:
    """Refuse a move that looks the wrong way round: the target holds vectors of an index the source has
    none of (the move would drop them, and the server would embed every document again)."""
    if embedder is None:
        return
    backwards = [i for i in index_ids
                 if not source.has_passages(i, embedder.name) and target.has_passages(i, embedder.name)]
    if backwards:
        raise MoveRefused(
            f"The {target.name} engine holds vectors of index {', '.join(backwards)} and the {source.name} engine"
            f" none: is the direction right? Moving would drop them (and the server would embed every document"
            f" again); force the move (--force) to do it anyway.")


def move_index(store: Store, source: Engine, target: Engine, row: Row, embedder: Embedder | None,
               progress: Progress) -> MoveReport:
    """Move one index (see the module's docstring). If anything fails, what the target got of the index is
    dropped again and the error raised."""
    started = time.monotonic()
    index_id = str(row["id"])
    report = MoveReport(index_id, str(row["name"]), pending=store.pending_count(index_id))
    progress(f"index {report.name} ({index_id}): {source.name} -> {target.name}")
    target.drop_index(index_id)
    try:
        copy_documents(store, target, row, report, progress)
        copy_vectors(store, source, target, index_id, embedder, report, progress)
    except BaseException:
        with suppress(Exception):  # the original error matters more than a failed clean-up
            target.drop_index(index_id)
        raise
    if row["analyzer"] != build_version():
        report.notes.append("it was analysed by an older analyzer: the server rebuilds it when it starts")
    if report.pending:
        report.notes.append(f"{report.pending} queued changes not moved: the server indexes them when it starts")
    report.seconds = time.monotonic() - started
    return report


def copy_documents(store: Store, target: Engine, row: Row, report: MoveReport, progress: Progress) -> None:
    """Analyse every searchable document of the store into the target's current schema generation."""
    index_id = str(row["id"])
    fields = {f["Name"]: f for f in json.loads(row["fields"])}
    total = store.indexed_count(index_id)
    lex = target.open_index(index_id, int(row["schema_gen"]), field_specs(fields))
    try:
        for batch in store.iter_indexed(index_id, BATCH):
            lex.upsert(lexical_document(d.doc_id, d.title, d.body, d.attributes, d.acl, fields, d.hierarchy)
                       for d in batch)
            lex.commit()
            report.documents += len(batch)
            progress(f"  documents {report.documents}/{total}")
        report.in_target = lex.reader().count(MatchAll())
    finally:
        lex.close()


def copy_vectors(store: Store, source: Engine, target: Engine, index_id: str, embedder: Embedder | None,
                 report: MoveReport, progress: Progress) -> None:
    """Copy the passages and title vectors of the configured model, unless there are none to copy."""
    if embedder is None:
        report.notes.append("no vectors moved (KENSAKU_EMBEDDER=none)")
        return
    if not source.has_passages(index_id, embedder.name):
        report.notes.append(f"the {source.name} engine held no vectors of {embedder.name}:"
                            " the server embeds the documents when it starts")
        return
    src = source.passages(index_id, embedder.name, embedder.dim)
    try:
        report.vectors_in_source = len(src)
        if src.layout != LAYOUT:
            report.notes.append(f"the vectors of {embedder.name} were of an older layout: not moved,"
                                " the server embeds the documents when it starts")
            return
        dst = target.passages(index_id, embedder.name, embedder.dim)
        try:
            copy_passages(store, src, dst, index_id, embedder.dim, report, progress)
            dst.mark_layout_current()
            dst.commit()
            report.vectors_in_target = len(dst)
            if report.vectors_in_source != report.passages + report.titles:
                report.notes.append(f"the {source.name} engine held {report.vectors_in_source} vectors, of which"
                                    f" {report.passages + report.titles} belong to the documents the store keeps")
        finally:
            dst.close()
    finally:
        src.close()


def copy_passages(store: Store, src: PassageStore, dst: PassageStore, index_id: str, dim: int,
                  report: MoveReport, progress: Progress) -> None:
    """The passages and title vector of every searchable document, batch by batch, committed per batch."""
    total = store.indexed_count(index_id)
    done = 0
    for batch in store.iter_indexed(index_id, BATCH):
        doc_ids = [d.doc_id for d in batch]
        passages = src.passages_of(doc_ids)
        titles = src.title_vectors(doc_ids)
        for doc in batch:
            doc_id = doc.doc_id
            stored, title = passages.get(doc_id, []), titles.get(doc_id)
            if not stored and title is None:
                continue
            dst.upsert(doc_id, [Passage(p.number, p.start, p.end, p.text_in(doc.body)) for p in stored],
                       stacked(stored, dim), title)
            report.passages += len(stored)
            report.titles += int(title is not None)
        dst.commit()
        done += len(batch)
        progress(f"  vectors of {done}/{total} documents ({report.passages} passages, {report.titles} titles)")


def stacked(stored: Sequence[StoredPassage], dim: int) -> Vectors:
    """The passages' vectors as one float32 matrix (one row per passage)."""
    if not stored:
        return np.zeros((0, dim), dtype=np.float32)
    matrix: Vectors = np.stack([np.asarray(p.vector, dtype=np.float32).reshape(-1) for p in stored])
    return matrix
