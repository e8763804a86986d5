"""Query's ``CollapseConfiguration``: results grouped by an attribute's value, each group shown as one
result (its primary document) that may carry the others (``ExpandedResults``).

Grouping runs above the engine, over the ranked results Kendra can show (the first 100), in their order
(relevance, or the query's sort): a group stands where its best-ranked document stood. Its primary is
that document, or, with ``SortingConfigurations``, the first by those keys (missing values last, ties
by rank). Documents without a value (``MissingAttributeKeyStrategy``): ``COLLAPSE`` (the default) puts
them in one group of their own, ``IGNORE`` leaves them out, ``EXPAND`` shows each alone. With ``Expand``,
the first ``MaxResultItemsToExpand`` groups (default: all) list up to ``MaxExpandedResultsPerItem``
(default: all) of their other documents, in rank order. Kendra documents no defaults for these two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernel.errors import ValidationException
from services.index.fields import STRING_LIST

MISSING = "COLLAPSE"


@dataclass(frozen=True, slots=True)
class Collapse:
    """A checked CollapseConfiguration."""

    key: str
    sort: tuple[tuple[str, bool], ...] = ()  # (attribute, descending): how a group's primary is chosen
    missing: str = MISSING
    expand: bool = False
    groups_expanded: int | None = None  # None: every group
    per_group: int | None = None  # None: every other document of the group


@dataclass(slots=True)
class Group:
    """One collapsed result: its primary document's id, the attribute's value (None: documents without
    one), and the group's other documents, in rank order."""

    primary: str
    value: Any
    others: list[str] = field(default_factory=list)
    collapsed: bool = True  # False: a document without a value shown alone (EXPAND)


def checked(config: Mapping[str, Any] | None, fields: Mapping[str, Mapping[str, Any]]) -> Collapse | None:
    """The CollapseConfiguration of a Query, checked against the index's fields (None: none given).

    Raises:
        ValidationException: the attribute (or a sort key) is no sortable field of the index, is a
            STRING_LIST, or a limit is negative.
    """
    if not config:
        return None

    def sortable(name: str, what: str) -> None:
        spec = fields.get(name)
        if spec is None or spec["Type"] == STRING_LIST or not spec["Search"].get("Sortable"):
            raise ValidationException(f"{what}: {name} is not a sortable field of this index")

    key = config["DocumentAttributeKey"]
    sortable(key, "CollapseConfiguration.DocumentAttributeKey")
    sort = []
    for item in config.get("SortingConfigurations") or []:
        name = item["DocumentAttributeKey"]
        sortable(name, "CollapseConfiguration.SortingConfigurations")
        sort.append((name, item["SortOrder"] == "DESC"))
    expansion = config.get("ExpandConfiguration") or {}
    limits = [expansion.get("MaxResultItemsToExpand"), expansion.get("MaxExpandedResultsPerItem")]
    if any(limit is not None and limit < 0 for limit in limits):
        raise ValidationException("ExpandConfiguration limits must not be negative")
    return Collapse(key, tuple(sort), config.get("MissingAttributeKeyStrategy") or MISSING,
                    bool(config.get("Expand")), limits[0], limits[1])


def groups(ranked: Sequence[str], attributes: Mapping[str, Mapping[str, Any]], collapse: Collapse) -> list[Group]:
    """The groups of the ranked document ids (best first), in the order of their best document."""
    out: list[Group] = []
    by_value: dict[Any, Group] = {}
    members: dict[int, list[str]] = {}
    for doc_id in ranked:
        value = attributes.get(doc_id, {}).get(collapse.key)
        if value is None and collapse.missing == "IGNORE":
            continue
        if value is None and collapse.missing == "EXPAND":
            out.append(Group(doc_id, None, collapsed=False))
            continue
        group = by_value.get(value)
        if group is None:
            group = by_value[value] = Group(doc_id, value)
            out.append(group)
            members[id(group)] = []
        members[id(group)].append(doc_id)
    for group in out:
        if not group.collapsed:
            continue
        ids = members[id(group)]
        if collapse.sort:
            rank = {doc_id: n for n, doc_id in enumerate(ids)}
            group.primary = min(ids, key=lambda d: (*_sort_key(attributes.get(d, {}), collapse.sort), rank[d]))
        group.others = [d for d in ids if d != group.primary]
    return out


def _sort_key(values: Mapping[str, Any], keys: Sequence[tuple[str, bool]]) -> tuple[Any, ...]:
    parts: list[Any] = []
    for name, descending in keys:
        value = values.get(name)
        if value is None:
            parts.append((1, 0))
        elif isinstance(value, str):
            parts.append((0, _Reversed(value) if descending else value))
        else:
            parts.append((0, -value if descending else value))
    return tuple(parts)


class _Reversed:
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value


def detail(key: str, value: dict[str, Any], expanded: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A result item's ``CollapsedResultDetail`` (``value``: the group's DocumentAttributeValue, empty for
    the documents without one)."""
    out: dict[str, Any] = {"DocumentAttribute": {"Key": key, "Value": value}}
    if expanded is not None:
        out["ExpandedResults"] = expanded
    return out


def expanded_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered result item as an ``ExpandedResultItem`` (its members only)."""
    keep = ("Id", "DocumentId", "DocumentTitle", "DocumentExcerpt", "DocumentURI", "DocumentAttributes")
    return {k: item[k] for k in keep if k in item}
