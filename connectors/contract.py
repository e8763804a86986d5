"""The connector contract: what every source module implements, and the values it trades in.

A connector answers two questions:

* :meth:`Connector.changes` — what changed since a checkpoint? It yields :class:`Upsert` (an item to
  fetch, with a version string that changes whenever the item does), :class:`Deletion` and
  :class:`Failure` values, and *returns* the new checkpoint as the generator's return value. Each
  source has its own :class:`Checkpoint` (a frozen dataclass); the job rows store it as JSON, and
  :class:`StoredConnector` converts between the two, so the runner only sees JSON objects. ``known``
  maps the ids this source delivered before to their versions, so a source without a change feed can
  diff a full listing against it (and report deletions).
* :meth:`Connector.fetch` — the document for one Upsert: bytes, title, metadata and ACL.

Failures are values, not exceptions: a bad item is yielded (or raised from ``fetch`` as
:class:`ItemFailed`) and the sync goes on. Source-wide problems raise one of the typed
:class:`SourceError` subclasses; :class:`SourceUnavailable` is transient and is retried with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, Self

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypeVar  # with a default (PEP 696), before Python 3.13

log = logging.getLogger("kensaku.sync")

JsonObject = dict[str, Any]  # a checkpoint as the job rows store it


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The base of the sources' checkpoints: frozen dataclasses with explicit fields.

    Stored as the JSON object of their fields (fields that are None left out), so the keys are the
    field names. :meth:`from_json` reads one back, or gives None for anything that does not read as
    this checkpoint (missing fields, wrong types, not an object): the source then lists everything,
    as it does without a checkpoint.
    """

    def to_json(self) -> JsonObject:
        data: JsonObject = _adapter(type(self)).dump_python(self, mode="json", exclude_none=True)
        return data

    @classmethod
    def from_json(cls, data: object) -> Self | None:
        if data is None:
            return None
        try:
            checkpoint: Self = _adapter(cls).validate_python(data)
        except ValidationError:
            return None
        return checkpoint


_ADAPTERS: dict[type[Checkpoint], TypeAdapter[Any]] = {}


def _adapter(cls: type[Checkpoint]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


class SourceError(Exception):
    """A problem with the whole source; ``code`` becomes the job's DataSourceErrorCode."""

    code = "SourceError"


class SourceUnavailable(SourceError):
    """The source cannot be reached right now (network, 5xx, timeouts): worth retrying."""

    code = "SourceUnavailable"


class CredentialsRejected(SourceError):
    """The source refused the credentials (expired, wrong, missing)."""

    code = "CredentialsRejected"


class SourceForbidden(SourceError):
    """The credentials work but may not read what the configuration names."""

    code = "SourceForbidden"


class SourceMisconfigured(SourceError):
    """The configuration names something that does not exist (folder, bucket, repository)."""

    code = "SourceMisconfigured"


class ItemFailed(Exception):
    """One item cannot be delivered; the reason is kept with the job's failed documents."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    kind: str = "GROUP"  # USER | GROUP
    access: str = "ALLOW"  # ALLOW | DENY


@dataclass(frozen=True, slots=True)
class Acl:
    """Who may see a document. ``public()`` has no principals (Kendra: everyone)."""

    principals: tuple[Principal, ...] = ()

    @classmethod
    def public(cls) -> Acl:
        return cls(())

    @classmethod
    def of(cls, *principals: Principal) -> Acl:
        return cls(tuple(principals))


@dataclass(frozen=True, slots=True)
class Upsert:
    """An item to (re)deliver. ``ref`` is whatever the connector needs to fetch it (JSON-able)."""

    doc_id: str
    version: str
    ref: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Deletion:
    doc_id: str


@dataclass(frozen=True, slots=True)
class Failure:
    doc_id: str
    reason: str


Change = Upsert | Deletion | Failure


def iso_time(text: str | None) -> datetime | None:
    """An ISO-8601 time as sources' APIs write it ("2024-05-01T09:00:00Z"); None for none."""
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One fetched item, before extraction. ``content_type`` is a Kendra ContentType (or None: sniff)."""

    doc_id: str
    data: bytes
    source_uri: str
    title: str | None = None
    content_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    authors: tuple[str, ...] = ()
    category: str | None = None
    acl: Acl = field(default_factory=Acl.public)


C = TypeVar("C", default=JsonObject)
CP = TypeVar("CP", bound=Checkpoint)


class Connector(Protocol[C]):
    """One source, generic over its checkpoint type: a source module's connector is a
    ``Connector[ItsCheckpoint]``; the runner sees a plain ``Connector`` (``Connector[JsonObject]``),
    the source wrapped in :class:`StoredConnector`. Constructors take typed settings and credentials
    and do no I/O."""

    def changes(self, checkpoint: C | None, known: Mapping[str, str]) -> Generator[Change, None, C]:
        """Yield what changed since ``checkpoint``; return the new checkpoint. Raises SourceError."""
        ...

    def fetch(self, item: Upsert) -> SourceDocument:
        """The document of one item. Raises ItemFailed (this item) or SourceError (the source)."""
        ...


class StoredConnector(Generic[CP]):
    """A source seen through the checkpoints the job rows store (JSON objects): it reads the stored
    checkpoint as the source's own type (one that does not read back means a full listing) and
    returns the new one as JSON."""

    def __init__(self, connector: Connector[CP], checkpoint_type: type[CP]) -> None:
        self.connector = connector
        self.checkpoint_type = checkpoint_type

    def changes(self, checkpoint: Mapping[str, Any] | None,
                known: Mapping[str, str]) -> Generator[Change, None, JsonObject]:
        typed = self.checkpoint_type.from_json(checkpoint)
        if typed is None and checkpoint is not None:
            log.warning("stored checkpoint %r is not a %s; listing everything", checkpoint,
                        self.checkpoint_type.__name__)
        new = yield from self.connector.changes(typed, known)
        return new.to_json()

    def fetch(self, item: Upsert) -> SourceDocument:
        return self.connector.fetch(item)
