"""Index fields: Kendra's 14 built-ins, custom fields from UpdateIndex, and typed attribute values."""

from __future__ import annotations

import copy
from typing import Any

from kernel.errors import ValidationException
from kernel.model import check_as
from kernel.times import from_epoch

STRING = "STRING_VALUE"
STRING_LIST = "STRING_LIST_VALUE"
LONG = "LONG_VALUE"
DATE = "DATE_VALUE"
VALUE_MEMBER = {STRING: "StringValue", STRING_LIST: "StringListValue", LONG: "LongValue", DATE: "DateValue"}
MEMBER_TYPE = {member: kind for kind, member in VALUE_MEMBER.items()}

MAX_CUSTOM_FIELDS = 500
_DATE_RELEVANCE = {"Freshness": False, "Importance": 1, "Duration": "25920000s", "RankOrder": "ASCENDING"}


def _builtin(name: str, kind: str, *, displayable: bool = False, searchable: bool = False,
             sortable: bool = True, importance: int = 1, **relevance: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": kind,
        "Relevance": {"Importance": importance, **relevance},
        "Search": {"Facetable": False, "Searchable": searchable, "Displayable": displayable, "Sortable": sortable},
    }


# Defaults as a fresh Kendra index reports them (spec §4.1).
BUILTIN_FIELDS: tuple[dict[str, Any], ...] = (
    _builtin("_authors", STRING_LIST, sortable=False),
    _builtin("_category", STRING),
    {**_builtin("_created_at", DATE), "Relevance": dict(_DATE_RELEVANCE)},
    _builtin("_data_source_id", STRING),
    _builtin("_document_title", STRING, displayable=True, searchable=True, importance=2),
    _builtin("_excerpt_page_number", LONG, sortable=False, importance=2, RankOrder="ASCENDING"),
    _builtin("_faq_id", STRING),
    _builtin("_file_type", STRING),
    _builtin("_language_code", STRING),
    {**_builtin("_last_updated_at", DATE), "Relevance": dict(_DATE_RELEVANCE)},
    _builtin("_source_uri", STRING, displayable=True, sortable=False),
    _builtin("_tenant_id", STRING),
    _builtin("_version", STRING),
    _builtin("_view_count", LONG, RankOrder="ASCENDING"),
)
BUILTIN_NAMES = frozenset(f["Name"] for f in BUILTIN_FIELDS)
# Reserved attribute names that are accepted on documents but are not index fields.
RESERVED_ATTRIBUTES = frozenset({"_data_source_sync_job_execution_id"})
# Filter-only pseudo attributes that express a user context inside an AttributeFilter.
ACL_PSEUDO_ATTRIBUTES = frozenset({"_user_id", "_group_ids"})


def default_fields() -> list[dict[str, Any]]:
    return copy.deepcopy(list(BUILTIN_FIELDS))


def apply_updates(fields: list[dict[str, Any]], updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``fields`` with UpdateIndex's DocumentMetadataConfigurationUpdates applied.

    New names become custom fields with Kendra's defaults for omitted flags; a field's type is
    immutable. Raises ValidationException.
    """
    by_name = {f["Name"]: copy.deepcopy(f) for f in fields}
    for i, update in enumerate(updates, start=1):
        name, kind = update["Name"], update["Type"]
        existing = by_name.get(name)
        if existing is not None and existing["Type"] != kind:
            raise ValidationException(f"The type of field {name} is {existing['Type']} and cannot be changed to {kind}")
        if existing is None and name.startswith("_"):
            raise ValidationException(f"{name}: field names starting with '_' are reserved for built-in fields")
        if existing is None:  # a name documents and queries could not use (their DocumentAttributeKey rule)
            check_as("DocumentAttributeKey", name, f"DocumentMetadataConfigurationUpdates.{i}.member.Name")
        if existing is None:
            existing = {
                "Name": name,
                "Type": kind,
                "Relevance": {"Importance": 1},
                "Search": {
                    "Facetable": False,
                    "Searchable": kind in (STRING, STRING_LIST),
                    "Displayable": True,
                    "Sortable": False,
                },
            }
        if "Search" in update:
            existing["Search"] = {**existing["Search"], **update["Search"]}
        if "Relevance" in update:
            existing["Relevance"] = {**existing.get("Relevance", {}), **update["Relevance"]}
        if kind == STRING_LIST and existing["Search"].get("Sortable"):
            raise ValidationException(f"{name}: STRING_LIST_VALUE fields cannot be sortable")
        by_name[name] = existing
    custom = [n for n in by_name if n not in BUILTIN_NAMES]
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise ValidationException(f"An index can have at most {MAX_CUSTOM_FIELDS} custom fields")
    return list(by_name.values())


def attribute_value(kind: str, value: dict[str, Any], what: str) -> Any:
    """The plain Python value of a DocumentAttributeValue of the field type ``kind``.

    STRING -> str, STRING_LIST -> list[str], LONG -> int, DATE -> float epoch seconds.
    Raises ValidationException when the value's member does not match the type.
    """
    members = [m for m in VALUE_MEMBER.values() if m in value]
    if len(members) != 1:
        raise ValidationException(f"{what}: a DocumentAttributeValue must have exactly one value member")
    member = members[0]
    if MEMBER_TYPE[member] != kind:
        raise ValidationException(f"{what}: the field is {kind} but the value is a {member}")
    return value[member]


def wire_value(kind: str, value: Any) -> dict[str, Any]:
    if kind == DATE:
        return {"DateValue": from_epoch(value)}
    return {VALUE_MEMBER[kind]: value}


def displayed_uri(uri: object) -> str | None:
    """A ``_source_uri`` a result may show as its DocumentURI (a link a client can open), else None."""
    return uri if isinstance(uri, str) and uri.split("://", 1)[0] in ("http", "https", "ftp", "file") else None


def displayed_attributes(attributes: dict[str, Any], fields: dict[str, dict[str, Any]],
                         requested: list[str] | None) -> list[dict[str, Any]]:
    """A result's DocumentAttributes: the stored values of the fields asked for in
    RequestedDocumentAttributes (None: the Displayable ones), as Kendra values."""
    out = []
    for name, value in attributes.items():
        f = fields.get(name)
        if f is None:
            continue
        wanted = name in requested if requested is not None else f["Search"].get("Displayable")
        if wanted:
            out.append({"Key": name, "Value": wire_value(f["Type"], value)})
    return out
