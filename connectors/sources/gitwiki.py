"""GITWIKI: a git repository of Markdown pages (GitHub / GitLab wikis, docs folders).

``repositoryUrl`` is a local repository path or anything ``git clone`` takes; remote ones are
mirrored into ``cache_dir`` and fetched on each sync. Incremental by commit diff: the checkpoint is
the commit last synced, and a sync lists ``git diff --name-status`` from it to the branch head (a
full listing when there is no checkpoint or the old commit is gone, e.g. after a force-push). The
version of a page is its blob sha. Metadata from history: ``_authors`` (every author of the page),
``_created_at`` (first commit), ``_last_updated_at`` (last commit); ``_category`` is the first folder.

Reach (the outbound policy): a local repository must lie below an allowed local root; a remote one is
cloned over http(s), ssh or git only, its host resolved and checked first. Over http(s) git is told
to connect to that checked address (``http.curloptResolve``) and not to follow redirects; ssh and git
resolve the name again themselves (checked, not pinned).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from connectors.contract import (
    Change,
    Checkpoint,
    Deletion,
    ItemFailed,
    SourceDocument,
    SourceMisconfigured,
    SourceUnavailable,
    Upsert,
)
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns

_MARKDOWN = (".md", ".markdown")
_REMOTE_SCHEMES = ("http", "https", "ssh", "git")
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(\[[^\]]+\]|[^/:\[]+):(?!//)")  # git's [user@]host:path


@dataclass(frozen=True, slots=True)
class GitWikiConfig:
    repository_url: str  # a local path or anything git clone takes
    branch: str | None = None  # None: the repository's HEAD
    web_url: str | None = None  # where the pages are shown (their source URIs); None: the document ids


@dataclass(frozen=True, slots=True)
class GitWikiCheckpoint(Checkpoint):
    """The commit last synced: the next sync lists the diff from it to the branch head."""

    commit: str


def local_path(repository: str) -> Path | None:
    """The folder a repository URL names on this machine; None for a remote one."""
    if repository.startswith("file://"):
        return Path(repository.removeprefix("file://"))
    if "://" in repository or _SCP_LIKE.match(repository):
        return None
    return Path(repository)


def remote_url(repository: str) -> str:
    """A remote repository as a URL (scp-like ``user@host:path`` becomes ``ssh://user@host/path``)."""
    match = _SCP_LIKE.match(repository)
    if "://" not in repository and match:
        return f"ssh://{repository[: match.end() - 1]}/{repository[match.end():]}"
    return repository


def check_repository(repository: str, policy: OutboundPolicy) -> None:
    """What the policy says of a repository without resolving names. Raises TargetRefused."""
    local = local_path(repository)
    if local is not None:
        policy.check_path(local)
    else:
        policy.check_url(remote_url(repository), _REMOTE_SCHEMES)


class GitWikiConnector:
    def __init__(self, repository: str, branch: str | None, patterns: Patterns, max_bytes: int,
                 web_url: str | None = None, cache_dir: Path | None = None, *, outbound: OutboundPolicy) -> None:
        self.repository = repository
        self.branch = branch
        self.patterns = patterns
        self.max_bytes = max_bytes
        self.web_url = web_url
        self.cache_dir = cache_dir
        self.outbound = outbound
        self._repo_path: Path | None = None

    def _git(self, *args: str, repo: Path | None = None) -> bytes:
        cmd = ["git", "-C", str(repo or self._repo()), *args]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SourceUnavailable(f"git failed: {error}") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise SourceMisconfigured(f"git {args[0]} failed: {message}")
        return done.stdout

    def _repo(self) -> Path:
        """The repository to read: the local one, or the mirror of a remote one (fetched once per connector)."""
        if self._repo_path is None:
            local = local_path(self.repository)
            self._repo_path = self._local(local) if local is not None else self._mirror()
        return self._repo_path

    def _local(self, path: Path) -> Path:
        real = self.outbound.check_path(path)
        if not real.is_dir():
            raise SourceMisconfigured(f"{self.repository} is not a git repository on this machine")
        return real

    def _remote_options(self) -> list[str]:
        """git -c options that keep a clone or fetch to the address the policy checked."""
        url = remote_url(self.repository)
        addresses = self.outbound.resolve_url(url)  # raises TargetRefused
        options = ["protocol.allow=never", *(f"protocol.{p}.allow=always" for p in _REMOTE_SCHEMES),
                   "http.followRedirects=false"]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            port = parts.port or (443 if parts.scheme == "https" else 80)
            shown = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
            options.append(f"http.curloptResolve={parts.hostname}:{port}:{shown}")
        return [arg for option in options for arg in ("-c", option)]

    def _mirror(self) -> Path:
        if self.cache_dir is None:
            raise SourceMisconfigured("remote repositories need a cache folder")
        options = self._remote_options()
        mirror = self.cache_dir / hashlib.sha256(self.repository.encode()).hexdigest()[:16]
        try:
            if mirror.is_dir():
                done = subprocess.run(["git", *options, "-C", str(mirror), "fetch", "--prune", "origin"],
                                      capture_output=True, timeout=600, check=False)
            else:
                mirror.parent.mkdir(parents=True, exist_ok=True)
                done = subprocess.run(["git", *options, "clone", "--mirror", "--", self.repository, str(mirror)],
                                      capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            raise SourceUnavailable(f"cannot fetch {self.repository}: {error}") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise SourceUnavailable(f"cannot fetch {self.repository}: {message}")
        return mirror

    def _head(self) -> str:
        return self._git("rev-parse", "--verify", f"{self.branch or 'HEAD'}^{{commit}}").decode().strip()

    def _tree(self, commit: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for entry in self._git("ls-tree", "-r", "-z", commit).split(b"\0"):
            if not entry:
                continue
            meta, _, path_bytes = entry.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            path = path_bytes.decode("utf-8", "surrogateescape")
            if kind == "blob" and mode != "120000" and self._wanted(path):
                out[path] = sha
        return out

    def _wanted(self, path: str) -> bool:
        return path.lower().endswith(_MARKDOWN) and self.patterns.allows(path)

    def doc_id(self, path: str) -> str:
        return f"{self.repository.rstrip('/')}/{path}"

    def changes(self, checkpoint: GitWikiCheckpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, GitWikiCheckpoint]:
        head = self._head()
        tree = self._tree(head)
        old = checkpoint.commit if checkpoint else None
        if old and subprocess.run(["git", "-C", str(self._repo()), "cat-file", "-e", f"{old}^{{commit}}"],
                                  capture_output=True).returncode == 0:
            diff = self._git("diff", "--name-status", "-z", "--no-renames", old, head).split(b"\0")
            for status, path_bytes in zip(diff[0::2], diff[1::2], strict=False):
                path = path_bytes.decode("utf-8", "surrogateescape")
                if not self._wanted(path):
                    continue
                if path in tree:
                    yield Upsert(self.doc_id(path), tree[path], {"path": path, "commit": head})
                elif status.startswith(b"D") or self.doc_id(path) in known:
                    yield Deletion(self.doc_id(path))
        else:
            for path, sha in sorted(tree.items()):
                yield Upsert(self.doc_id(path), sha, {"path": path, "commit": head})
            ids = {self.doc_id(p) for p in tree}
            for doc_id in sorted(set(known) - ids):
                yield Deletion(doc_id)
        return GitWikiCheckpoint(commit=head)

    def fetch(self, item: Upsert) -> SourceDocument:
        path = str(item.ref["path"])
        try:
            size = int(self._git("cat-file", "-s", item.version))
            if size > self.max_bytes:
                raise ItemFailed(f"{path} is {size:,} bytes; the limit is {self.max_bytes:,} bytes")
            data = self._git("cat-file", "blob", item.version)
            log = self._git("log", "--format=%an%x1f%aI", str(item.ref.get("commit", "HEAD")), "--", path)
        except SourceMisconfigured as error:
            raise ItemFailed(f"cannot read {path}: {error}") from None
        entries = [line.split("\x1f") for line in log.decode("utf-8", "replace").splitlines() if "\x1f" in line]
        authors = tuple(dict.fromkeys(name for name, _ in entries))
        uri = f"{self.web_url.rstrip('/')}/{path}" if self.web_url else item.doc_id
        parts = path.split("/")
        return SourceDocument(
            doc_id=item.doc_id, data=data, source_uri=uri, content_type="MD",
            created_at=datetime.fromisoformat(entries[-1][1]) if entries else None,
            updated_at=datetime.fromisoformat(entries[0][1]) if entries else None,
            authors=authors, category=parts[0] if len(parts) > 1 else None,
        )
