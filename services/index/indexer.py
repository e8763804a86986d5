"""The indexer: moves queued document changes into the lexical index, then marks them INDEXED.

Order of durability: a change is committed to the ``pending`` table before BatchPutDocument
answers; the indexer extracts, analyses and writes it to tantivy, commits tantivy, and only then,
in one transaction, records the document and removes the pending row. A crash at any point
replays the pending row (idempotent: delete-by-id then add), so nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from connectors.extraction import ExtractionError, extract
from services.database import Connection, DatabaseUnavailable
from services.engine.base import EngineUnavailable
from services.engine.document import LexicalDocument
from services.engine.embedder import Embedder, Vectors, make_embedder
from services.engine.passages import Passage, embedding_text, split_passages
from services.engine.vectors import LAYOUT
from services.index.documents import build_version, lexical_document, principals
from services.index.service import IndexService
from services.index.shared import IndexLeases, note_commit
from services.index.store import PendingChange, Store
from services.index.worker import DeadlineExceeded, deadline, init_worker

log = logging.getLogger("kensaku.indexer")
# The longest wait between attempts to write to an unavailable engine (the first waits half a second).
ENGINE_RETRY_MAX_SECONDS = 15.0

_INDEXED_STATES = ("INDEXED", "UPDATED", "UPDATE_FAILED")


class LeaseLost(Exception):
    """Distributed: another indexer took the index over (this one stalled past its lease); the batch is
    left to it, unrecorded."""


class WorkersStopped(Exception):
    """The analysis workers died (killed, out of memory) or were stopped for taking too long."""


@dataclass(slots=True)
class Embedded:
    """A document's passages with their vectors, and its title embedded alone (None without a title)."""

    passages: list[Passage]
    vectors: Vectors
    title: Vectors | None


@dataclass(slots=True)
class _Prepared:
    """A put after extraction and analysis (or the reason it failed)."""

    title: str | None = None
    body: str = ""
    attributes: dict[str, Any] | None = None
    lexical: LexicalDocument | None = None
    failure: str | None = None
    failure_code: str = "InvalidRequest"  # Kendra's ErrorCode: InvalidRequest | InternalError
    embedded: Embedded | None = None
    # The ACL recorded with the document when it is not the payload's (taken from its access control
    # configuration when written; for an "acl" change, the new one).
    acl: tuple[list[dict[str, Any]], list[list[dict[str, Any]]]] | None = None


@dataclass(slots=True)
class _Running:
    """A chunk of puts in the workers; ``deadline`` (monotonic) is set when a batch first waits for it."""

    future: Future[list[_Prepared]]
    deadline: float | None = None


@dataclass(slots=True)
class _Outcome:
    change: PendingChange
    prepared: _Prepared


@dataclass(frozen=True, slots=True)
class Limits:
    """What one document may cost a worker: characters of text, seconds of extraction."""

    max_text_bytes: int
    extraction_seconds: float


def prepare(doc_id: str, blob: bytes, payload: dict[str, Any], fields: dict[str, dict[str, Any]],
            limits: Limits) -> _Prepared:
    """Extract and analyse one document (CPU-bound; runs in the analysis worker processes)."""
    max_text_bytes = limits.max_text_bytes
    try:
        with deadline(limits.extraction_seconds):
            extracted = extract(blob, payload.get("content_type"), max_text_chars=max_text_bytes)
    except ExtractionError as error:
        return _Prepared(failure=str(error))
    except DeadlineExceeded:
        return _Prepared(failure=f"Extracting text took longer than {limits.extraction_seconds:g} s"
                                 " (KENSAKU_EXTRACTION_TIMEOUT_SECONDS)")
    except MemoryError:
        return _Prepared(failure="Extracting text needed more memory than an analysis worker may use"
                                 " (KENSAKU_ANALYSIS_WORKER_MEMORY_BYTES)")
    except Exception as error:  # a parser bug must fail this document, not stall the queue
        log.exception("extracting %s failed", doc_id)
        reason = f"Internal error while extracting text: {error!r}"[:2048]
        return _Prepared(failure=reason, failure_code="InternalError")
    text_bytes = len(extracted.text.encode("utf-8"))
    if text_bytes > max_text_bytes:
        return _Prepared(failure=f"Extracted text is {text_bytes} bytes; the limit is {max_text_bytes} bytes")
    attributes = dict(payload.get("attributes", {}))
    attributes.setdefault("_file_type", extracted.file_type)
    title = payload.get("title") or extracted.title
    lexical = lexical_document(doc_id, title, extracted.text, attributes, payload.get("acl", []), fields,
                               payload.get("hierarchy"))
    return _Prepared(title, extracted.text, attributes, lexical)


def _return_freed_memory() -> None:
    """Give the heap freed by a batch of large documents back to the system: glibc keeps it otherwise, and
    the server would stay at the batch's peak (about 250 MB after a 4 MB document, 170 MB trimmed)."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def settings_workers(configured: int | None) -> int:
    """Analysis worker processes: the setting, or one per core when there is more than one."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


# (kind, model, batch size, threads) of the embedder: what a worker process needs to build its own.
EmbedSpec = tuple[str, str, int, int]
# A batch waits this long for its slowest chunks, then commits the documents that are done; the others
# go on running and are committed by a later batch (a slow document never holds the queue behind it).
BATCH_PATIENCE_SECONDS = 5.0
# After a batch holding more document bytes than this, freed memory is given back to the system.
TRIM_AFTER_BYTES = 1024 * 1024
# A change that fails this many times alone, in the indexer's own thread, fails for good.
MAX_ATTEMPTS_ALONE = 3
_embedders: dict[EmbedSpec, Embedder | None] = {}  # one per process, built on first use


def _embedder(spec: EmbedSpec) -> Embedder | None:
    if spec not in _embedders:
        _embedders[spec] = make_embedder(*spec)
    return _embedders[spec]


def embed(items: list[tuple[str | None, str]], spec: EmbedSpec | None) -> list[Embedded]:
    """(title, body) -> the body's passages, their vectors and the title's, one model call for all."""
    embedder = _embedder(spec) if spec is not None else None
    if embedder is None:
        return []
    cut = [split_passages(body) for _, body in items]
    texts = [embedding_text(title, p.text) for (title, _), ps in zip(items, cut, strict=True) for p in ps]
    titles = [(title or "").strip() for title, _ in items]
    vectors = embedder.embed_passages(texts + [t for t in titles if t])
    out, at, title_at = [], 0, len(texts)
    for title, ps in zip(titles, cut, strict=True):
        title_vector = None
        if title:
            title_vector, title_at = vectors[title_at], title_at + 1
        out.append(Embedded(ps, vectors[at : at + len(ps)], title_vector))
        at += len(ps)
    return out


def prepare_chunk(chunk: list[tuple[str, bytes, dict[str, Any]]], fields: dict[str, dict[str, Any]],
                  limits: Limits, spec: EmbedSpec | None = None) -> list[_Prepared]:
    """``prepare`` and ``embed`` for several documents: one round trip to a worker, the fields sent once."""
    done = [prepare(doc_id, blob, payload, fields, limits) for doc_id, blob, payload in chunk]
    ok = [d for d in done if d.failure is None]
    if spec is None:  # KENSAKU_EMBEDDER=none: BM25 only, nothing to embed
        return done
    try:
        for d, embedded in zip(ok, embed([(d.title, d.body) for d in ok], spec), strict=True):
            d.embedded = embedded
    except Exception as error:  # a model failure fails these documents, not the queue
        log.exception("embedding failed")
        for d in ok:
            d.failure, d.failure_code = f"Internal error while embedding text: {error!r}"[:2048], "InternalError"
    return done


def _work(chunk: list[PendingChange]) -> list[tuple[str, bytes, dict[str, Any]]]:
    """What a worker needs of each change of a chunk."""
    return [(c.doc_id, c.blob or b"", c.payload) for c in chunk]


def backfill_chunk(chunk: list[tuple[str, str | None, str]], spec: EmbedSpec) -> list[tuple[str, Embedded]]:
    """Passages and vectors of already indexed documents (another model or an older vectors layout)."""
    found = embed([(title, body) for _, title, body in chunk], spec)
    return [(doc_id, e) for (doc_id, _, _), e in zip(chunk, found, strict=True)]


class Indexer:
    """One background thread per process; the only writer of every lexical index."""

    def __init__(self, service: IndexService) -> None:
        self.service = service
        self.store = service.store
        self.settings = service.settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers = settings_workers(self.settings.analysis_workers)
        self._pool: ProcessPoolExecutor | None = None
        # After the workers stopped in a batch, its changes are applied one at a time, so that only the
        # document that kills (or stalls) a worker fails.
        self._isolate = 0
        self._attempts: dict[int, int] = {}  # a change's failed attempts alone (seq -> count)
        self._turn: str | None = None  # the index whose changes the last batch took
        self._running: dict[tuple[int, ...], _Running] = {}  # chunks a batch stopped waiting for, by seqs
        # Distributed topology: indexes are leased, one indexer process each at a time (services/index/shared.py).
        self._leases: IndexLeases | None = None
        if service.distributed:
            holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
            self._leases = IndexLeases(self.store, holder, self.settings.indexer_lease_seconds)
        self._working: str | None = None  # the index of the batch in progress (its lease is kept alive)
        self._write: Callable[[], AbstractContextManager[Connection]] = self.store.write  # the batch's claim's
        st = self.settings
        self._spec: EmbedSpec | None = None
        if service.vectors.enabled:
            # Workers share the cores: one thread each; without workers the model gets them all.
            threads = 1 if self._workers > 0 else st.embed_threads
            self._spec = (st.embedder, st.embedder_model, st.embed_batch_size, threads)

    def _start_pool(self) -> None:
        if self._workers > 0:
            # spawn, not fork: this process already runs threads (uvicorn, SQLite, tantivy).
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker,
                                             initargs=(os.getpid(), self.settings.analysis_worker_memory_bytes))

    def _restart_pool(self) -> None:
        """Kill the workers (one may be stuck in native code) and start new ones."""
        self._running.clear()
        if self._pool is not None:
            # ProcessPoolExecutor has no public kill before Python 3.14.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._start_pool()

    def start(self) -> None:
        self._start_pool()
        self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
        self._thread.start()
        if self._leases is not None:
            threading.Thread(target=self._keep_lease, name="indexer-lease", daemon=True).start()

    def _keep_lease(self) -> None:
        """Renew the lease of the index being worked on, so that a batch may take longer than the lease
        (a big batch, a slow document); only a dead (or wholly stuck) process lets it expire."""
        assert self._leases is not None
        while not self._stop.wait(self._leases.seconds / 3):
            index_id = self._working
            if index_id is None:
                continue
            try:
                if not self._leases.claim(index_id):
                    log.warning("the lease of index %s passed to another indexer mid-batch", index_id)
            except Exception:  # the store is busy or down: the next renewal tries again
                log.exception("renewing the lease of index %s failed", index_id)

    def stop(self) -> None:
        self._stop.set()
        self.service.changed.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._leases is not None:
            self._leases.release_all()

    def _run(self) -> None:
        for row in self.store.index_rows():
            if row["status"] == "DELETING":
                if self._leases is not None:  # the API processes finish deletes (they drop FAQs, sources...)
                    continue
                self.service.finish_delete(row["id"])
                continue
            if row["analyzer"] != build_version():
                # Terms from another analyzer or term format would not meet today's query terms: rebuild.
                self.store.mark_updating(row["id"])
        try:
            self._backfill_vectors()
        except Exception:  # searches still work lexically; the next start tries again
            log.exception("building vectors from stored documents failed")
        backoff = 0.0
        while not self._stop.is_set():
            try:
                worked = self.rebuild_updated_schemas() | self.drain_once()
                backoff = 0.0
            except (EngineUnavailable, DatabaseUnavailable) as error:  # queued changes wait, longer each time
                backoff = min(max(2 * backoff, 0.5), ENGINE_RETRY_MAX_SECONDS)
                what = "search engine" if isinstance(error, EngineUnavailable) else "database"
                log.warning("the %s is unavailable (%s); pending changes retried in %.1f s", what, error, backoff)
                self._stop.wait(backoff)
                worked = False
            except (BrokenProcessPool, WorkersStopped):  # new workers; the batch again, one by one
                log.exception("the analysis workers stopped; restarting them")
                self._restart_pool()
                worked = False
            except Exception:  # keep the service up; the failed batch stays queued and is retried
                log.exception("indexer step failed")
                worked = False
                self._stop.wait(1.0)
            if not worked:
                # Distributed: the API processes queue changes in the store; nothing here is told of them.
                self.service.changed.wait(timeout=self.settings.shared_refresh_seconds if self._leases else 1.0)
                self.service.changed.clear()
                # Let a burst of puts gather into one commit.
                self._stop.wait(self.settings.commit_interval_seconds)

    # -- pending changes ------------------------------------------------------------------------

    def drain_once(self) -> bool:
        """Apply one batch of pending changes; False when there was nothing to do."""
        size = 1 if self._isolate else self.settings.indexer_batch_size
        # Indexes take turns, a batch each, so that slow documents of one index never hold the queue of
        # the others longer than one batch; a batch being redone one change at a time keeps its turn.
        if not self._isolate:
            self._turn = self._next_turn(self._turn)
        elif self._leases is not None and self._turn is not None and not self._leases.claim(self._turn):
            self._isolate = 0  # taken over while redoing a batch: the new holder redoes it
            return False
        if self._leases is not None and self._turn is None:
            return False  # every index with queued changes is another indexer's
        # The outcome of the batch is written through the claim (with several indexers on PostgreSQL, in the
        # transaction that holds the claimed rows).
        with self.store.claim(size, self.settings.indexer_batch_bytes, self._turn) as claim:
            if not claim.changes:
                self._isolate = 0
                return False
            self._write, self._working = claim.write, self._turn
            try:
                return self._drain(claim.changes)
            finally:
                self._write, self._working = self.store.write, None

    def _drain(self, changes: list[PendingChange]) -> bool:
        by_index: dict[str, list[PendingChange]] = defaultdict(list)
        for change in changes:
            by_index[change.index_id].append(change)
        try:
            for index_id, group in by_index.items():
                self._apply(index_id, group)
        except LeaseLost:
            log.warning("index %s was taken over by another indexer; its batch is left to it", self._turn)
            self._discard_unfinished(by_index)
            self._isolate = 0
            return True
        except (EngineUnavailable, DatabaseUnavailable):
            # The engine's or the database's failure, not the documents': the batch stays queued, whole, and
            # is retried.
            self._discard_unfinished(by_index)
            raise
        except (BrokenProcessPool, WorkersStopped) as error:
            self._discard_unfinished(by_index)
            if not self._isolate:
                self._isolate = len(changes)
                raise
            # This document alone stopped the workers: it fails, the queue goes on.
            log.error("document %s stopped the analysis workers: %s", changes[0].doc_id, error)
            self._restart_pool()
            reason = (str(error) if isinstance(error, WorkersStopped) else
                      "The analysis worker died while processing this document (out of memory or crashed)")
            self._fail(changes[0], reason)
        except Exception as error:
            # Something in this thread (writing the index, the store) failed on this batch. Left queued, it
            # would be retried forever with every change behind it waiting: the batch is redone one change
            # at a time, and a change that still fails alone, attempt after attempt, fails with its reason.
            self._discard_unfinished(by_index)
            if not self._isolate and len(changes) > 1:
                self._isolate = len(changes)
                raise
            change = changes[0]
            attempts = self._attempts.get(change.seq, 0) + 1
            if attempts < MAX_ATTEMPTS_ALONE:  # perhaps not this change's fault (a full disk): again
                self._attempts[change.seq] = attempts
                if not self._isolate:
                    self._isolate = 1
                raise
            self._attempts.pop(change.seq, None)
            log.exception("change %s of document %s failed %d times; it fails", change.seq, change.doc_id, attempts)
            self._fail(change, f"Internal error while indexing this document: {error!r}")
        else:
            for change in changes:
                self._attempts.pop(change.seq, None)
        self._isolate = max(0, self._isolate - len(changes))
        if sum(len(c.blob or b"") for c in changes) > TRIM_AFTER_BYTES:
            _return_freed_memory()
        return True

    def _next_turn(self, after: str | None) -> str | None:
        """The next index with queued changes (after ``after``, in turn); distributed, the next one this
        indexer holds or could lease (None when the others hold every one)."""
        if self._leases is None:
            return self.store.next_pending_index(after=after)
        first, at = None, after
        while True:
            index_id = self.store.next_pending_index(after=at)
            if index_id is None or index_id == first:
                return None
            first = first or index_id
            if self._leases.claim(index_id):
                return index_id
            at = index_id

    def _fail(self, change: PendingChange, reason: str) -> None:
        """Give up on one change: a put is FAILED with ``reason``; a delete is dropped."""
        if change.op == "put":
            self._record(change.index_id, [_Outcome(change, _Prepared(failure=reason, failure_code="InternalError"))])
        else:
            self._forget([change])

    def _discard_unfinished(self, by_index: dict[str, list[PendingChange]]) -> None:
        """Drop what a failed batch left uncommitted in the lexical writers (it is redone)."""
        for index_id in by_index:
            try:
                self.service.lexical(index_id).rollback()
            except Exception:  # the index may be gone or unopenable; the redo will say so
                log.debug("rolling back %s failed", index_id, exc_info=True)

    def _apply(self, index_id: str, changes: list[PendingChange]) -> None:
        row = self.store.index_row(index_id)
        if row is None or row["status"] == "DELETING":
            self._forget(changes)
            return
        fields = {f["Name"]: f for f in json.loads(row["fields"])}
        results = self._prepare([c for c in changes if c.op == "put"], fields)
        ready: dict[int, _Prepared | None] = {}
        held: set[str] = set()  # documents with a change still running: their later changes wait too
        lex = self.service.lexical(index_id)
        vec = self.service.vectors.get(index_id)
        outcomes: list[_Outcome] = []
        written: set[str] = set()  # documents this batch wrote (put) or deleted
        for change in changes:
            if change.op == "put":
                while change.seq not in ready:
                    ready.update(next(results))
                done = ready.pop(change.seq)
                if done is None:
                    held.add(change.doc_id)
            if change.doc_id in held:
                continue  # left pending, for a later batch
            if change.op == "delete":
                lex.delete([change.doc_id])
                if vec is not None:
                    vec.delete([change.doc_id])
                written.add(change.doc_id)
                outcomes.append(_Outcome(change, _Prepared()))
                continue
            if change.op == "acl":
                # A put or delete of this batch already wrote the document with its configuration as it is now.
                relabelled = None if change.doc_id in written else self._relabel(index_id, change.doc_id, fields)
                if relabelled is not None and relabelled.lexical is not None:
                    lex.upsert([relabelled.lexical])  # the same text and tokens, new principals; no vectors
                outcomes.append(_Outcome(change, relabelled or _Prepared()))
                continue
            assert done is not None
            config_id = change.payload.get("acl_config")
            if done.lexical is not None and config_id is not None:
                self._configured(index_id, config_id, done)
            if done.lexical is not None:
                lex.upsert([done.lexical])
                written.add(change.doc_id)
                if vec is not None and (e := done.embedded) is not None:
                    vec.upsert(change.doc_id, e.passages, e.vectors, e.title)
            outcomes.append(_Outcome(change, done))
        if not outcomes:
            return
        lex.commit()
        if vec is not None:
            vec.commit()
        self._record(index_id, outcomes)

    def _configured(self, index_id: str, config_id: str, done: _Prepared) -> None:
        """Give a put document the ACL its access control configuration has now (the payload's is as of
        BatchPutDocument; an UpdateAccessControlConfiguration since queued its "acl" changes only for
        the documents already written). A configuration gone meanwhile fails the document."""
        found = self.service.access_lists(index_id, config_id)
        if found is None:
            done.lexical, done.failure = None, f"Access control configuration {config_id} no longer exists"
            return
        assert done.lexical is not None
        done.lexical.acl_allow, done.lexical.acl_deny = principals(*found)
        done.acl = found

    def _relabel(self, index_id: str, doc_id: str, fields: dict[str, dict[str, Any]]) -> _Prepared | None:
        """A stored document again with the ACL of its access control configuration: its text analysed
        from the store, nothing extracted or embedded. None when there is nothing to do (the document is
        gone, failed, or no longer takes its ACL from a configuration)."""
        doc = self.store.documents(index_id, [doc_id]).get(doc_id)
        if doc is None or doc.status not in _INDEXED_STATES or doc.acl_config is None:
            return None
        found = self.service.access_lists(index_id, doc.acl_config)
        if found is None or found == (doc.acl, doc.hierarchy):
            return None
        acl, hierarchy = found
        lexical = lexical_document(doc.doc_id, doc.title, doc.body, doc.attributes, acl, fields, hierarchy)
        return _Prepared(doc.title, doc.body, doc.attributes, lexical, acl=found)

    def _prepare(self, puts: list[PendingChange], fields: dict[str, dict[str, Any]]
                 ) -> Iterator[dict[int, _Prepared | None]]:
        """The puts extracted and analysed, chunk by chunk in queue order (seq -> result). In the workers,
        a chunk still running when the batch has waited BATCH_PATIENCE_SECONDS gives None for its changes
        and keeps running: a later batch takes its result, and the documents done meanwhile are
        committed without it."""
        limits = Limits(self.settings.max_text_bytes, self.settings.extraction_timeout_seconds)
        # Chunks small enough to keep every worker busy while this thread writes finished ones.
        size = max(1, min(32, len(puts) // (4 * max(self._workers, 1))))
        if self._pool is None:
            for at in range(0, len(puts), size):
                chunk = puts[at : at + size]
                yield dict(zip([c.seq for c in chunk], prepare_chunk(_work(chunk), fields, limits, self._spec),
                               strict=True))
            return
        runs = self._submit(puts, size, fields, limits)
        # While a batch is redone one change at a time, the change is waited for until its timeout.
        until = time.monotonic() + (math.inf if self._isolate else BATCH_PATIENCE_SECONDS)
        for key, run in runs:
            result = self._wait(key, run, until, runs)
            yield dict(zip(key, result, strict=True)) if result is not None else dict.fromkeys(key)

    def _submit(self, puts: list[PendingChange], size: int, fields: dict[str, dict[str, Any]],
                limits: Limits) -> list[tuple[tuple[int, ...], _Running]]:
        """The chunks of ``puts`` running in the workers, in queue order: those an earlier batch left
        running, and new ones for the rest."""
        assert self._pool is not None
        seqs = {c.seq for c in puts}
        runs: dict[tuple[int, ...], _Running] = {}
        for key in [key for key in self._running if not seqs.isdisjoint(key)]:
            run = self._running.pop(key)
            if seqs.issuperset(key):
                runs[key] = run
            else:  # the batch is cut differently now (redone one change at a time): submitted again
                run.future.cancel()
        taken = {seq for key in runs for seq in key}
        fresh = [c for c in puts if c.seq not in taken]
        for at in range(0, len(fresh), size):
            chunk = fresh[at : at + size]
            future = self._pool.submit(prepare_chunk, _work(chunk), fields, limits, self._spec)
            runs[tuple(c.seq for c in chunk)] = _Running(future)
        return sorted(runs.items())

    def _wait(self, key: tuple[int, ...], run: _Running, until: float,
              runs: list[tuple[tuple[int, ...], _Running]]) -> list[_Prepared] | None:
        """A chunk's results; None when ``until`` comes first (the chunk is kept running for a later batch).
        A chunk may take the timeout per document from when it is first awaited."""
        timeout = self.settings.analysis_timeout_seconds
        if run.deadline is None:
            run.deadline = time.monotonic() + timeout * len(key)
        try:
            return run.future.result(timeout=max(0.0, min(until, run.deadline) - time.monotonic()))
        except FutureTimeout:
            if time.monotonic() < run.deadline:
                self._running[key] = run
                return None
            for _, other in runs:
                other.future.cancel()
            raise WorkersStopped(f"Extracting, analysing and embedding this document took longer than"
                                 f" {timeout:g} s") from None

    def _record(self, index_id: str, outcomes: list[_Outcome]) -> None:
        now = time.time()
        with self._write() as conn:
            if self._leases is not None:
                # Fenced: an indexer that stalled past its lease records nothing (the new holder redoes
                # the batch; engine writes are idempotent). The counter tells the API processes.
                if not self._leases.holds(conn, index_id, now):
                    raise LeaseLost(index_id)
                note_commit(conn, index_id)
            for o in outcomes:
                doc_id = o.change.doc_id
                if o.change.op == "delete":
                    Store.delete_document(conn, index_id, doc_id)
                    continue
                if o.change.op == "acl":  # the document keeps its status: only its ACL changed
                    if o.prepared.acl is not None:
                        Store.set_document_acl(conn, index_id, doc_id, *o.prepared.acl)
                    continue
                prev = Store.document_status(conn, index_id, doc_id)
                was_indexed = prev in _INDEXED_STATES
                done = o.prepared
                if done.failure is not None:
                    if was_indexed:  # the previous version stays searchable
                        Store.mark_update_failed(conn, index_id, doc_id, done.failure_code, done.failure[:2048], now)
                    else:  # the whole row anew (what was there of it is gone)
                        Store.replace_document(conn, (index_id, doc_id, "FAILED", None, None, None, None, None,
                                                      None, 0, done.failure_code, done.failure[:2048], now))
                    continue
                payload = o.change.payload
                acl, hierarchy = done.acl or (payload.get("acl", []), payload.get("hierarchy") or [])
                Store.replace_document(
                    conn,
                    (
                        index_id, doc_id, "UPDATED" if was_indexed else "INDEXED", done.title, done.body,
                        json.dumps(done.attributes, ensure_ascii=False), json.dumps(acl, ensure_ascii=False),
                        json.dumps(hierarchy, ensure_ascii=False) if hierarchy else None, payload.get("acl_config"),
                        len(done.body.encode("utf-8")), None, None, now,
                    ),
                )
            Store.forget_pending(conn, [o.change.seq for o in outcomes])

    def _forget(self, changes: list[PendingChange]) -> None:
        with self._write() as conn:
            Store.forget_pending(conn, [c.seq for c in changes])

    # -- vectors of another model ---------------------------------------------------------------

    def _backfill_vectors(self) -> None:
        """Indexes with documents but no vectors of today's model (or of an older layout) get them from
        the stored text."""
        if self._spec is None:
            return
        for row in self.store.index_rows():
            index_id = row["id"]
            if row["status"] == "DELETING":
                continue
            current = self.service.vectors.exists(index_id)
            vec = self.service.vectors.get(index_id)
            assert vec is not None
            if current and vec.layout == LAYOUT:
                continue
            for batch in self.store.iter_indexed(index_id):
                if self._stop.is_set():
                    return
                if self._leases is not None and not self._leases.claim(index_id):
                    break  # another indexer builds them
                items = [(d.doc_id, d.title, d.body) for d in batch]
                chunks = [items[i : i + 32] for i in range(0, len(items), 32)]
                mapper = self._pool.map if self._pool is not None else map
                for found in mapper(backfill_chunk, chunks, [self._spec] * len(chunks)):
                    for doc_id, e in found:
                        vec.upsert(doc_id, e.passages, e.vectors, e.title)
                vec.commit()
            else:  # every batch done here (not left to another indexer)
                vec.mark_layout_current()
                vec.commit()
                log.info("vectors of index %s built from its stored documents", index_id)

    # -- schema rebuilds (UpdateIndex declared new fields) ----------------------------------------

    def rebuild_updated_schemas(self) -> bool:
        worked = False
        for row in self.store.index_rows():
            if row["status"] == "UPDATING":
                if self._leases is not None and not self._leases.claim(row["id"]):
                    continue  # another indexer rebuilds it
                self._rebuild(row)
                worked = True
        return worked

    def _rebuild(self, row: Any) -> None:
        index_id, generation, fields_json = row["id"], row["schema_gen"] + 1, row["fields"]
        fields_list = json.loads(fields_json)
        fields = {f["Name"]: f for f in fields_list}
        self.service.engine.drop_generation(index_id, generation)
        lex = self.service.open_lexical(index_id, generation, fields_list)
        for batch in self.store.iter_indexed(index_id):  # a commit a batch: a writer buffers no more
            lex.upsert(lexical_document(d.doc_id, d.title, d.body, d.attributes, d.acl, fields, d.hierarchy)
                       for d in batch)
            lex.commit()
        lex.commit()
        with self.store.write() as conn:
            # Only finish if no further UpdateIndex changed the fields meanwhile (else build again).
            Store.finish_rebuild(conn, index_id, generation, build_version(), fields_json)
            if self._leases is not None:
                note_commit(conn, index_id)
        old = self.service.swap_lexical(index_id, lex)
        if old is not None:
            old.destroy()
