"""FILESYSTEM: a folder tree (a mounted file share).

Document ids are the files' ``file://`` URIs. The version of a file is its mtime and size, so a
sync diffs a full listing against what the source delivered before (a file share has no change
feed). Metadata comes from the file system: ``_created_at`` (birth time where the platform has it,
else mtime), ``_last_updated_at`` (mtime), ``_authors`` (the owner), ``_category`` (the first folder
under the root). Quirks handled here:

* The root must lie below one of the server's allowed local roots (the outbound policy,
  ``KENSAKU_CONNECTOR_LOCAL_ROOTS``), judged after links and ``..`` are resolved.
* Nothing outside the root is read: a symbolic link whose target resolves outside the root is
  refused and reported as a failed document, and ids handed back to :meth:`fetch` are resolved and
  checked again (no ``..`` traversal).
* Hidden files and folders (``.git``, ``.DS_Store``) are skipped, and so are files whose type
  Kensaku does not index; files over the size limit fail without being read.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.contract import (
    Change,
    Checkpoint,
    Deletion,
    Failure,
    ItemFailed,
    SourceDocument,
    SourceMisconfigured,
    Upsert,
)
from connectors.documents import content_type_of
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns


@dataclass(frozen=True, slots=True)
class FilesystemConfig:
    path: str  # the root folder, an absolute path


@dataclass(frozen=True, slots=True)
class FilesystemCheckpoint(Checkpoint):
    """When the listing ran (ISO-8601). A file share has no change feed: every sync lists everything."""

    listed_at: str


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class FilesystemConnector:
    def __init__(self, root: str, patterns: Patterns, max_bytes: int, outbound: OutboundPolicy) -> None:
        self.root = Path(root)
        self.patterns = patterns
        self.max_bytes = max_bytes
        self.outbound = outbound

    def _real_root(self) -> Path:
        real = self.outbound.check_path(self.root)  # again at each sync: the roots or the links may have changed
        if not real.is_dir():
            raise SourceMisconfigured(f"{self.root} is not a folder on this machine")
        return real

    def _inside(self, root: Path, path: Path) -> bool:
        return path == root or root in path.parents

    def changes(self, checkpoint: FilesystemCheckpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, FilesystemCheckpoint]:
        root = self._real_root()
        seen: set[str] = set()
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                if content_type_of(name) is None or not self.patterns.allows(rel):
                    continue
                doc_id = path.as_uri()
                seen.add(doc_id)
                try:
                    info = path.lstat()
                    if stat.S_ISLNK(info.st_mode):
                        target = path.resolve()
                        if not self._inside(root, target):
                            yield Failure(doc_id, f"{rel} is a symbolic link to {target}, outside the root; refused")
                            continue
                        info = path.stat()
                except OSError as error:
                    yield Failure(doc_id, f"cannot read {rel}: {error.strerror or error}")
                    continue
                if not stat.S_ISREG(info.st_mode):
                    yield Failure(doc_id, f"{rel} is not a regular file")
                    continue
                yield Upsert(doc_id, f"{info.st_mtime_ns}-{info.st_size}", {"path": rel})
        for doc_id in sorted(set(known) - seen):
            yield Deletion(doc_id)
        return FilesystemCheckpoint(listed_at=datetime.now(UTC).isoformat())

    def fetch(self, item: Upsert) -> SourceDocument:
        root = self._real_root()
        rel = str(item.ref.get("path", ""))
        path = (root / rel).resolve()
        if not self._inside(root, path) or path == root:
            raise ItemFailed(f"{rel} resolves outside the root; refused")
        try:
            info = path.stat()
            if info.st_size > self.max_bytes:
                raise ItemFailed(f"{rel} is {info.st_size:,} bytes; the limit is {self.max_bytes:,} bytes")
            with path.open("rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as error:
            raise ItemFailed(f"cannot read {rel}: {error.strerror or error}") from None
        if len(data) > self.max_bytes:
            raise ItemFailed(f"{rel} is over the limit of {self.max_bytes:,} bytes")
        parts = rel.split("/")
        return SourceDocument(
            doc_id=item.doc_id,
            data=data,
            source_uri=item.doc_id,
            title=None,
            content_type=content_type_of(rel),
            created_at=_when(getattr(info, "st_birthtime", info.st_mtime)),
            updated_at=_when(info.st_mtime),
            authors=(_owner(info.st_uid),),
            category=parts[0] if len(parts) > 1 else None,
        )
