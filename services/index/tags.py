"""Resource tags: TagResource / UntagResource / ListTagsForResource, and ``Tags`` at creation.

Resources are named by Kendra's ARNs, ``arn:aws:kendra:<region>:<account>:index/<id>`` and, inside
an index, ``.../index/<id>/<kind>/<id>``. Kensaku is one account in one region, so an ARN's region
and (12-digit) account are not compared: a client builds ARNs from its own profile, and they work.
Which kinds can be tagged, how their existence is checked, and how their Create and Delete
operations are recognised is one table (``KINDS``) over the dispatch table: a kind whose Describe is
not built names nothing here. A tag goes with its resource: on the resource's Delete (and with its
index).

Tag rules (the model's, checked here because boto3 does not): keys 1-128 and values 0-256 characters
of Unicode letters, digits, white space and ``_ . : / = + - @``; keys are case-insensitive (a key
tagged again in another case replaces the first); the ``aws:`` prefix is AWS's; at most 200 tags a
resource (ValidationException: TooManyTagsException is not in Kendra's model).

Table (in the index store, owned by this module): ``tags`` (resource, key_folded, key, value), where
``resource`` is the ARN's resource part ("index/<id>/faq/<id>").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regex

from kernel import model
from kernel.errors import (
    ResourceNotFoundException,
    ResourceUnavailableException,
    ValidationException,
)
from kernel.handlers import Handler, NotBuilt
from services.index.service import IndexService

MAX_TAGS = 200
_ARN = regex.compile(r"arn:aws[a-z-]*:kendra:[a-z0-9-]+:\d{12}:(index/[^/]+(?:/[a-z-]+/[^/]+)?)")
_TAG_TEXT = regex.compile(r"[\p{L}\p{Z}\p{N}\s_.:/=+\-@]*")

@dataclass(frozen=True, slots=True)
class Kind:
    """A taggable resource kind: its operations, and where its id is in their requests and responses."""

    describe: str
    create: str
    delete: str
    id_member: str  # in the Describe request
    created_id: Callable[[dict[str, Any]], str]  # the new resource's id, from the Create response
    deleted_ids: Callable[[dict[str, Any], dict[str, Any] | None], list[str]]  # from Delete's request, response


def _plain_id(result: dict[str, Any]) -> str:
    return str(result["Id"])


def _deleted_id(request: dict[str, Any], _: dict[str, Any] | None) -> list[str]:
    return [str(request["Id"])]


def _deleted_sets(request: dict[str, Any], result: dict[str, Any] | None) -> list[str]:
    failed = {e["Id"] for e in (result or {}).get("Errors", [])}
    return [i for i in request["FeaturedResultsSetIds"] if i not in failed]


def _simple(name: str) -> Kind:
    return Kind(f"Describe{name}", f"Create{name}", f"Delete{name}", "Id", _plain_id, _deleted_id)


KINDS: dict[str, Kind] = {
    "index": _simple("Index"),
    "data-source": _simple("DataSource"),
    "faq": _simple("Faq"),
    "thesaurus": _simple("Thesaurus"),
    "query-suggestions-block-list": _simple("QuerySuggestionsBlockList"),
    "featured-results-set": Kind(
        "DescribeFeaturedResultsSet", "CreateFeaturedResultsSet", "BatchDeleteFeaturedResultsSet",
        "FeaturedResultsSetId", lambda r: str(r["FeaturedResultsSet"]["FeaturedResultsSetId"]), _deleted_sets),
}


def resource_of(kind: str, index_id: str, resource_id: str) -> str:
    """The ARN resource part of a resource."""
    return f"index/{resource_id}" if kind == "index" else f"index/{index_id}/{kind}/{resource_id}"


def check_tags(tags: list[dict[str, str]]) -> None:
    for tag in tags:
        for member in ("Key", "Value"):
            if not _TAG_TEXT.fullmatch(tag[member]):
                raise ValidationException(
                    f"Tag {member} {tag[member]!r} may hold only letters, digits, white space and _ . : / = + - @")
        if tag["Key"].lower().startswith("aws:"):
            raise ValidationException("Tag keys starting with aws: are reserved for AWS")


class Tags:
    """Tags of every taggable resource, in the index store; served over the dispatch table."""

    def __init__(self, indexes: IndexService) -> None:
        self.store = indexes.store
        self._table: Mapping[str, Handler] = {}

    def operations(self, table: Mapping[str, Handler]) -> dict[str, Handler]:
        """The tag operations, and ``table``'s Create and Delete handlers of taggable kinds wrapped
        so that tags are set at creation and go with the resource."""
        self._table = table
        out: dict[str, Handler] = {
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }
        for name, kind in KINDS.items():
            if isinstance(table[kind.describe], NotBuilt):
                continue
            out[kind.create] = self._creating(name, kind, table[kind.create])
            if name != "index":  # an index goes when its deletion finishes (Tags.drop_index)
                out[kind.delete] = self._deleting(name, kind, table[kind.delete])
        return out

    def drop_index(self, index_id: str) -> None:
        """A deleted index's tags go with it (its deletion finishes: ``IndexCompanions.on_delete``)."""
        self._forget(f"index/{index_id}")

    # -- operations -----------------------------------------------------------------------------

    def tag_resource(self, p: dict[str, Any]) -> None:
        resource = self._existing(p["ResourceARN"])
        check_tags(p["Tags"])
        with self.store.write() as conn:
            for tag in p["Tags"]:
                conn.execute(
                    "INSERT INTO tags (resource, key_folded, key, value) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (resource, key_folded) DO UPDATE SET key = excluded.key, value = excluded.value",
                    (resource, tag["Key"].lower(), tag["Key"], tag["Value"]),
                )
            count = conn.execute("SELECT COUNT(*) FROM tags WHERE resource = ?", (resource,)).fetchone()[0]
            if count > MAX_TAGS:  # raising rolls the transaction back
                raise ValidationException(f"A resource has at most {MAX_TAGS} tags; this would make {count}")

    def untag_resource(self, p: dict[str, Any]) -> None:
        resource = self._existing(p["ResourceARN"])
        with self.store.write() as conn:
            conn.executemany("DELETE FROM tags WHERE resource = ? AND key_folded = ?",
                             [(resource, key.lower()) for key in p["TagKeys"]])

    def list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        resource = self._existing(p["ResourceARN"])
        rows = self.store.read().execute(
            "SELECT key, value FROM tags WHERE resource = ? ORDER BY rowid", (resource,)).fetchall()
        return {"Tags": [{"Key": r["key"], "Value": r["value"]} for r in rows]}

    # -- resources ------------------------------------------------------------------------------

    def _existing(self, arn: str) -> str:
        """The resource part of ``arn``, once its resource is known to exist here."""
        found = _ARN.fullmatch(arn)
        if found is None:
            raise ValidationException(
                f"ResourceARN {arn!r} is not a Kendra ARN (arn:aws:kendra:<region>:<account>:index/<id>[/<kind>/<id>])")
        resource = str(found.group(1))
        parts = resource.split("/")
        name = parts[2] if len(parts) == 4 else "index"
        kind = KINDS.get(name)
        if kind is None or isinstance(self._table.get(kind.describe), NotBuilt) or not self._describes(kind, parts):
            raise ResourceUnavailableException(f"No resource {arn} exists on this server")
        return resource

    def _describes(self, kind: Kind, parts: list[str]) -> bool:
        """Whether the kind's Describe finds the resource of ``parts`` (an id of the wrong form finds nothing)."""
        request = {"Id": parts[1]} if len(parts) == 2 else {"IndexId": parts[1], kind.id_member: parts[3]}
        try:
            self._table[kind.describe](model.parse_input(kind.describe, request))
        except (ResourceNotFoundException, ValidationException):
            return False
        return True

    def _set(self, resource: str, tags: list[dict[str, str]]) -> None:
        with self.store.write() as conn:
            conn.executemany(
                "INSERT INTO tags (resource, key_folded, key, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (resource, key_folded) DO UPDATE SET key = excluded.key, value = excluded.value",
                [(resource, t["Key"].lower(), t["Key"], t["Value"]) for t in tags],
            )

    def _forget(self, resource: str) -> None:
        """Drop the tags of ``resource`` and of everything inside it."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM tags WHERE resource = ? OR resource LIKE ? ESCAPE '\\'",
                         (resource, resource.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"))

    def _creating(self, name: str, kind: Kind, create: Handler) -> Handler:
        def handler(p: dict[str, Any]) -> dict[str, Any] | None:
            tags = p.get("Tags", [])
            check_tags(tags)  # before anything is created
            result = create(p)
            if tags and result is not None:
                self._set(resource_of(name, p.get("IndexId", ""), kind.created_id(result)), tags)
            return result
        return handler

    def _deleting(self, name: str, kind: Kind, delete: Handler) -> Handler:
        def handler(p: dict[str, Any]) -> dict[str, Any] | None:
            result = delete(p)
            for resource_id in kind.deleted_ids(p, result):
                self._forget(resource_of(name, p["IndexId"], resource_id))
            return result
        return handler
