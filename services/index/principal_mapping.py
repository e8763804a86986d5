"""Principal mapping: PutPrincipalMapping / DescribePrincipalMapping / DeletePrincipalMapping /
ListGroupsOlderThanOrderingId, and the groups a query's user gets from the mappings.

A mapping gives a group (``GroupId``, optionally of one data source, ``DataSourceId``) its members:
users and sub-groups (``GroupMembers.MemberUsers`` / ``MemberGroups``, a sub-group optionally of a data
source), inline or from a JSON file (``S3PathforGroupMembers``, read as FAQ files are: the
S3-compatible store of ``KENSAKU_S3_ENDPOINT_URL``, or a ``file://`` Key below
``KENSAKU_LOCAL_FILES_ROOT``; see ``parse_members`` for the format). A put replaces the group's
members; a delete empties the group.

Ordering: every put and delete carries an ``OrderingId`` (by default the time it is received, in Unix
milliseconds). An action whose ordering id is lower than that of the last action applied to the group
is ignored, so a late retry of an old list never overwrites a newer one (an equal one is applied: a
retry of the same action). Actions are applied when the call returns, so DescribePrincipalMapping
shows each as SUCCEEDED, DELETED or FAILED (with its FailureReason: ignored as older, or the members
file could not be read), never PROCESSING or DELETING; it lists the group's last 10 actions.
ListGroupsOlderThanOrderingId lists the mapped (not deleted) groups of a data source, or those of no
data source, whose last applied ordering id is below the one given: the groups a full refresh did not
touch, to delete.

At query time (``expand``): the user and the groups a request names (UserContext, a JSON token, or
``_user_id`` / ``_group_ids`` filters) get every group that contains them, transitively through
sub-groups; a group mapped for a data source gives the principal ``g@<data source>:<group>``, which
only that data source's ACL entries name (index/documents.py ``principal_term``). The walk keeps
what it has seen, so a cycle of groups ends it. Limits (Kensaku's; Kendra documents only its 1,000
inline members per call): at most ``MAX_GROUP_DEPTH`` levels of nesting and ``MAX_USER_GROUPS``
groups a user (the model's limit on the groups a UserContext may name). Past either the query is
refused with a ValidationException rather than cut short: a group dropped could be one a document
denies.

Cache: each index's membership graph (member -> the groups holding it) is built from the store on
first use and kept with the index's mapping version; a put or delete raises the version, so the next
query builds it again (also in another process sharing the data folder). Expansions are kept in a
small LRU keyed by that version.

Tables (in the index store, owned by this module):
    principal_groups    (index_id, data_source_id or '', group_id): ordering_id, members (JSON;
                        NULL once deleted: the row keeps the ordering id an older put is measured by)
    principal_actions   each put and delete, with its status, for DescribePrincipalMapping
    principal_versions  (index_id, version): raised by every change
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel import model
from kernel.errors import ResourceNotFoundException, ValidationException
from kernel.handlers import Handler
from kernel.paging import page_offset, page_token
from kernel.times import from_epoch
from services.database import Connection
from services.files import FileReadError, read_s3_path
from services.index.documents import principal_term
from services.index.service import IndexService
from services.settings import Settings

MAX_GROUP_DEPTH = 20  # levels of nesting walked from a user to the groups holding them
MAX_USER_GROUPS = 2048  # groups a user may get from the mappings (UserContext.Groups' model maximum)
MAX_MEMBERS_FILE_BYTES = 20 * 1024 * 1024
MAX_MEMBERS_PER_GROUP = 100_000  # users and sub-groups of one group, from a members file
MAX_SUMMARIES = 10  # actions DescribePrincipalMapping lists (the model's maximum)
DEFAULT_PAGE_SIZE = 10
_EXPANSIONS_KEPT = 4096

class MembersFileError(Exception):
    """A members file that cannot be read or understood; the message is the action's FailureReason."""


@dataclass(frozen=True, slots=True)
class Members:
    """A group's members: user ids, and sub-groups as (group id, data source id or None)."""

    users: list[str]
    groups: list[tuple[str, str | None]]

    def to_json(self) -> str:
        return json.dumps({"users": self.users, "groups": self.groups}, ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Members:
        raw = json.loads(text)
        return Members(list(raw["users"]), [(g, ds) for g, ds in raw["groups"]])


def parse_members(data: bytes) -> Members:
    """The members of a ``S3PathforGroupMembers`` file: a JSON object with ``memberUsers`` (objects with
    ``userId``) and ``memberGroups`` (objects with ``groupId`` and optionally ``dataSourceId``), as in
    Kendra's sample file; an entry's ``type``, when given, must be USER or GROUP. The API's own
    spelling (``MemberUsers``, ``UserId``, ...) is read too. Each id is checked by the API's rules.

    Raises:
        MembersFileError: not such JSON, an id the API would refuse, or over MAX_MEMBERS_PER_GROUP.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise MembersFileError(f"The members file is not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise MembersFileError("The members file must hold a JSON object with memberUsers and memberGroups")

    def entries(*names: str) -> list[dict[str, Any]]:
        found: Any = next((doc[n] for n in names if n in doc), [])
        if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
            raise MembersFileError(f"{names[0]} in the members file must be a list of objects")
        return found

    def member(entry: dict[str, Any], kind: str, shape: str, keys: Sequence[tuple[str, str]], at: str) -> Any:
        if entry.get("type", kind) != kind:
            raise MembersFileError(f"{at}: type must be {kind}")
        wire = {api: entry[key] for api, key in keys if key in entry}
        wire.update({api: entry[api] for api, _ in keys if api in entry})
        try:
            return model.check_as(shape, wire, at)
        except ValidationException as error:
            raise MembersFileError(error.message) from None

    users = [member(e, "USER", "MemberUser", [("UserId", "userId")], f"memberUsers[{n}]")["UserId"]
             for n, e in enumerate(entries("memberUsers", "MemberUsers"))]
    groups = []
    for n, e in enumerate(entries("memberGroups", "MemberGroups")):
        found = member(e, "GROUP", "MemberGroup", [("GroupId", "groupId"), ("DataSourceId", "dataSourceId")],
                       f"memberGroups[{n}]")
        groups.append((found["GroupId"], found.get("DataSourceId")))
    if len(users) + len(groups) > MAX_MEMBERS_PER_GROUP:
        raise MembersFileError(f"A group has at most {MAX_MEMBERS_PER_GROUP} members")
    return Members(users, groups)


@dataclass(frozen=True, slots=True)
class _Graph:
    version: int
    parents: dict[str, tuple[str, ...]]  # principal term -> the terms of the groups holding it


def _millis() -> int:
    return int(time.time() * 1000)


class PrincipalMappings:
    """The group memberships of every index, in the index store; served over the dispatch table and
    read by every query with user context (``IndexService.expand_principals``)."""

    def __init__(self, settings: Settings, indexes: IndexService) -> None:
        self.settings = settings
        self.indexes = indexes
        self.store = indexes.store
        self._lock = threading.Lock()
        self._graphs: dict[str, _Graph] = {}
        self._expanded: OrderedDict[tuple[str, int, tuple[str, ...]], list[str]] = OrderedDict()

    def operations(self) -> dict[str, Handler]:
        return {
            "PutPrincipalMapping": self.put,
            "DescribePrincipalMapping": self.describe,
            "DeletePrincipalMapping": self.delete,
            "ListGroupsOlderThanOrderingId": self.list_older,
        }

    # -- operations -----------------------------------------------------------------------------

    def put(self, p: dict[str, Any]) -> None:
        index_id, ds, group = p["IndexId"], p.get("DataSourceId", ""), p["GroupId"]
        self.indexes.require_active(index_id)
        received = time.time()
        ordering = p.get("OrderingId", _millis())
        given = p["GroupMembers"]
        users = [u["UserId"] for u in given.get("MemberUsers", [])]
        groups = [(g["GroupId"], g.get("DataSourceId")) for g in given.get("MemberGroups", [])]
        failure = None
        if "S3PathforGroupMembers" in given:
            try:  # read before the write lock is taken: the store may be slow
                data = read_s3_path(self.settings, given["S3PathforGroupMembers"], MAX_MEMBERS_FILE_BYTES,
                                    "members file")
                from_file = parse_members(data)
                users, groups = users + from_file.users, groups + from_file.groups
            except (FileReadError, MembersFileError) as error:
                failure = str(error)[:2048]
        members = Members(list(dict.fromkeys(users)), list(dict.fromkeys(groups)))
        with self.store.write() as conn:
            if failure is None:
                failure = self._older(conn, index_id, ds, group, ordering)
            if failure is None:
                conn.execute(
                    "INSERT INTO principal_groups (index_id, data_source_id, group_id, ordering_id, members,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (index_id, data_source_id, group_id)"
                    " DO UPDATE SET ordering_id = excluded.ordering_id, members = excluded.members,"
                    " updated_at = excluded.updated_at",
                    (index_id, ds, group, ordering, members.to_json(), time.time()))
                self._changed(conn, index_id)
            self._record(conn, index_id, ds, group, ordering, "FAILED" if failure else "SUCCEEDED", received,
                         failure)

    def delete(self, p: dict[str, Any]) -> None:
        index_id, ds, group = p["IndexId"], p.get("DataSourceId", ""), p["GroupId"]
        self.indexes.require_active(index_id)
        received = time.time()
        ordering = p.get("OrderingId", _millis())
        with self.store.write() as conn:
            if conn.execute("SELECT 1 FROM principal_groups WHERE index_id = ? AND data_source_id = ?"
                            " AND group_id = ?", (index_id, ds, group)).fetchone() is None:
                raise ResourceNotFoundException(f"Group {group}{_of(ds)} has no principal mapping in index {index_id}")
            failure = self._older(conn, index_id, ds, group, ordering)
            if failure is None:
                conn.execute("UPDATE principal_groups SET ordering_id = ?, members = NULL, updated_at = ?"
                             " WHERE index_id = ? AND data_source_id = ? AND group_id = ?",
                             (ordering, time.time(), index_id, ds, group))
                self._changed(conn, index_id)
            self._record(conn, index_id, ds, group, ordering, "FAILED" if failure else "DELETED", received, failure)

    def describe(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id, ds, group = p["IndexId"], p.get("DataSourceId", ""), p["GroupId"]
        self.indexes.require_active(index_id)
        rows = self.store.read().execute(
            "SELECT * FROM principal_actions WHERE index_id = ? AND data_source_id = ? AND group_id = ?"
            " ORDER BY seq DESC LIMIT ?", (index_id, ds, group, MAX_SUMMARIES)).fetchall()
        if not rows:
            raise ResourceNotFoundException(f"Group {group}{_of(ds)} has no principal mapping in index {index_id}")
        summaries = []
        for r in reversed(rows):
            summary = {"Status": r["status"], "LastUpdatedAt": from_epoch(r["updated_at"]),
                       "ReceivedAt": from_epoch(r["received_at"]), "OrderingId": r["ordering_id"]}
            if r["failure_reason"]:
                summary["FailureReason"] = r["failure_reason"]
            summaries.append(summary)
        out: dict[str, Any] = {"IndexId": index_id, "GroupId": group, "GroupOrderingIdSummaries": summaries}
        if ds:
            out["DataSourceId"] = ds
        return out

    def list_older(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id, ds = p["IndexId"], p.get("DataSourceId", "")
        self.indexes.require_active(index_id)
        start = page_offset(p.get("NextToken"))
        size = p.get("MaxResults", DEFAULT_PAGE_SIZE)
        rows = self.store.read().execute(
            "SELECT group_id, ordering_id FROM principal_groups WHERE index_id = ? AND data_source_id = ?"
            " AND members IS NOT NULL AND ordering_id < ? ORDER BY group_id LIMIT ? OFFSET ?",
            (index_id, ds, p["OrderingId"], size + 1, start)).fetchall()
        out: dict[str, Any] = {"GroupsSummaries": [{"GroupId": r["group_id"], "OrderingId": r["ordering_id"]}
                                                   for r in rows[:size]]}
        if len(rows) > size:
            out["NextToken"] = page_token(start + size)
        return out

    def drop_index(self, index_id: str) -> None:
        """The mappings of a deleted index go with it."""
        with self.store.write() as conn:
            for table in ("principal_groups", "principal_actions", "principal_versions"):
                conn.execute(f"DELETE FROM {table} WHERE index_id = ?", (index_id,))
        with self._lock:
            self._graphs.pop(index_id, None)

    # -- expansion ------------------------------------------------------------------------------

    def expand(self, index_id: str, terms: list[str]) -> list[str]:
        """``terms`` (a request's principal terms) and the terms of every group the index's mappings
        put them in, directly or through sub-groups.

        Raises:
            ValidationException: more than MAX_USER_GROUPS groups, or nesting deeper than MAX_GROUP_DEPTH.
        """
        graph = self._graph(index_id)
        if graph is None:
            return terms
        key = (index_id, graph.version, tuple(sorted(set(terms))))
        with self._lock:
            cached = self._expanded.get(key)
            if cached is not None:
                self._expanded.move_to_end(key)
                return list(cached)
        seen, found, frontier, depth = set(terms), list[str](), list(dict.fromkeys(terms)), 0
        while frontier:  # breadth first: each group once, at the depth it is first reached
            reached = []
            for term in frontier:
                for group in graph.parents.get(term, ()):
                    if group not in seen:
                        seen.add(group)
                        reached.append(group)
            if not reached:
                break
            depth += 1
            found += reached
            if depth > MAX_GROUP_DEPTH:
                raise ValidationException(
                    f"The user's groups nest more than {MAX_GROUP_DEPTH} levels deep in this index's principal"
                    " mappings")
            if len(found) > MAX_USER_GROUPS:
                raise ValidationException(
                    f"The user belongs to more than {MAX_USER_GROUPS} groups through this index's principal mappings")
            frontier = reached
        out = list(terms) + found
        with self._lock:
            self._expanded[key] = out
            while len(self._expanded) > _EXPANSIONS_KEPT:
                self._expanded.popitem(last=False)
        return list(out)

    def _graph(self, index_id: str) -> _Graph | None:
        """The index's membership graph as of its current mapping version (None: it has no mapping)."""
        row = self.store.read().execute("SELECT version FROM principal_versions WHERE index_id = ?",
                                        (index_id,)).fetchone()
        if row is None:
            return None
        with self._lock:
            graph = self._graphs.get(index_id)
            if graph is not None and graph.version == row["version"]:
                return graph
        # Rows read after the version are at least as new as it: a graph is never older than its version.
        rows = self.store.read().execute("SELECT data_source_id, group_id, members FROM principal_groups"
                                         " WHERE index_id = ? AND members IS NOT NULL", (index_id,)).fetchall()
        parents: dict[str, list[str]] = {}
        for r in rows:
            parent = principal_term("GROUP", r["group_id"], r["data_source_id"] or None)
            members = Members.from_json(r["members"])
            for user in members.users:
                parents.setdefault(principal_term("USER", user), []).append(parent)
            for sub, ds in members.groups:
                parents.setdefault(principal_term("GROUP", sub, ds), []).append(parent)
        graph = _Graph(int(row["version"]), {k: tuple(v) for k, v in parents.items()})
        with self._lock:
            self._graphs[index_id] = graph
        return graph

    # -- rows -----------------------------------------------------------------------------------

    @staticmethod
    def _older(conn: Connection, index_id: str, ds: str, group: str, ordering: int) -> str | None:
        """Why an action with ``ordering`` is ignored (a later one was applied), or None."""
        row = conn.execute("SELECT ordering_id FROM principal_groups WHERE index_id = ? AND data_source_id = ?"
                           " AND group_id = ?", (index_id, ds, group)).fetchone()
        if row is not None and ordering < row["ordering_id"]:
            return (f"Ignored: OrderingId {ordering} is older than that of the group's last applied action"
                    f" ({row['ordering_id']})")
        return None

    @staticmethod
    def _changed(conn: Connection, index_id: str) -> None:
        conn.execute("INSERT INTO principal_versions (index_id, version) VALUES (?, 1)"
                     " ON CONFLICT (index_id) DO UPDATE SET version = principal_versions.version + 1", (index_id,))

    @staticmethod
    def _record(conn: Connection, index_id: str, ds: str, group: str, ordering: int, status: str,
                received: float, failure: str | None) -> None:
        conn.execute(
            "INSERT INTO principal_actions (index_id, data_source_id, group_id, ordering_id, status, received_at,"
            " updated_at, failure_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (index_id, ds, group, ordering, status, received, time.time(), failure))
        conn.execute(
            "DELETE FROM principal_actions WHERE index_id = ? AND data_source_id = ? AND group_id = ? AND seq NOT IN"
            " (SELECT seq FROM principal_actions WHERE index_id = ? AND data_source_id = ? AND group_id = ?"
            " ORDER BY seq DESC LIMIT ?)", (index_id, ds, group, index_id, ds, group, MAX_SUMMARIES))


def _of(ds: str) -> str:
    return f" of data source {ds}" if ds else ""
