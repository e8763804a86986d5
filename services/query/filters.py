"""Kendra's AttributeFilter, user context and language rules, compiled into engine queries
(services/engine/query.py) and evaluated on attribute values, for FAQ entries."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from kernel.errors import ValidationException
from services.engine.query import (
    PUBLIC,
    Attribute,
    Bool,
    MatchAll,
    Query,
    Range,
    Term,
    Terms,
    all_of,
    any_of,
    date_micros,
)
from services.index.documents import level_marker, principal_term
from services.index.fields import DATE, LONG, MEMBER_TYPE, STRING, STRING_LIST

MAX_FILTER_ITEMS = 10
MAX_FILTER_DEPTH = 2
LANGUAGE_KEY = "_language_code"
_LOGICAL = ("AndAllFilters", "OrAllFilters", "NotFilter")
_LEAVES = ("EqualsTo", "ContainsAll", "ContainsAny", "GreaterThan", "GreaterThanOrEquals", "LessThan",
           "LessThanOrEquals")
_RANGE = {
    "GreaterThan": (True, False), "GreaterThanOrEquals": (True, True),
    "LessThan": (False, False), "LessThanOrEquals": (False, True),
}


@dataclass(slots=True)
class Principals:
    """Who is asking: user and group principal terms (empty = no user context); ``levels``: how many
    levels of hierarchical ACL the asked index's documents may have (each is one more check)."""

    terms: list[str] = field(default_factory=list)
    levels: int = 0

    @property
    def present(self) -> bool:
        return bool(self.terms)


# (index id, principal terms) -> the terms with the groups principal mappings give them.
Expander = Callable[[str, list[str]], list[str]]


def asker(index_id: str, user_context: dict[str, Any] | None, attribute_filter: dict[str, Any] | None,
          index_config: dict[str, Any], expand: Expander | None = None,
          levels: int = 0) -> tuple[dict[str, Any] | None, Principals]:
    """Who asks a Query, Retrieve or suggestion request: the principals of its UserContext and of its
    AttributeFilter's ``_user_id`` / ``_group_ids`` conditions, with the groups the index's principal
    mappings give them (``expand``), and the filter without those conditions.

    Raises:
        ValidationException: a malformed user context or filter condition; too many mapped groups.
    """
    user_filter, named = split_acl_filter(attribute_filter)
    principals = user_principals(user_context, index_config)
    principals.terms.extend(named.terms)
    if expand is not None and principals.present:
        principals.terms = expand(index_id, principals.terms)
    principals.levels = levels
    return user_filter, principals


def _is_level_term(term: str) -> bool:
    return term.startswith("h")  # principal terms start with u, g or are PUBLIC (index/documents.py)


def may_see(principals: Principals, allow: Collection[str], deny: Collection[str]) -> bool:
    """The rule of the index's ACL filter (``acl_query``), for records kept outside it (FAQ entries,
    featured documents): no user context sees everything; a denied principal sees nothing; no ALLOW, or
    PUBLIC among them, is everyone's; and every level of a hierarchical ACL must let one in."""
    if not principals.present:
        return True
    mine = set(principals.terms)
    if mine & set(deny):
        return False
    flat = {a for a in allow if not _is_level_term(a)}
    if flat and PUBLIC not in flat and not mine & flat:
        return False
    held = set(allow)
    markers = [a for a in allow if _is_level_term(a) and a.endswith("/")]
    return all(m + PUBLIC in held or any(m + t in held for t in mine) for m in markers)


def _only_operator(node: dict[str, Any]) -> str:
    ops = [k for k in (*_LOGICAL, *_LEAVES) if k in node]
    if len(ops) != 1:
        raise ValidationException("Each AttributeFilter must have exactly one operator")
    return ops[0]


def split_acl_filter(node: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Principals]:
    """Take ``_user_id``/``_group_ids`` conditions out of a filter (top level or top-level AndAll)."""
    principals = Principals()
    if node is None:
        return None, principals

    def is_acl(n: dict[str, Any]) -> bool:
        op = next((k for k in _LEAVES if k in n), None)
        return op is not None and n[op]["Key"] in ("_user_id", "_group_ids")

    def take(n: dict[str, Any]) -> None:
        op = _only_operator(n)
        key, value = n[op]["Key"], n[op]["Value"]
        if key == "_user_id" and op == "EqualsTo" and "StringValue" in value:
            principals.terms.append(principal_term("USER", value["StringValue"]))
        elif key == "_group_ids" and op in ("EqualsTo", "ContainsAny", "ContainsAll"):
            groups = value.get("StringListValue") or ([value["StringValue"]] if "StringValue" in value else [])
            principals.terms.extend(principal_term("GROUP", g) for g in groups)
        else:
            raise ValidationException(f"{key} filters must be EqualsTo (_user_id) or ContainsAny (_group_ids)")

    if is_acl(node):
        take(node)
        return None, principals
    if "AndAllFilters" in node:
        rest = []
        for child in node["AndAllFilters"]:
            if is_acl(child):
                take(child)
            else:
                rest.append(child)
        return ({"AndAllFilters": rest} if rest else None), principals
    return node, principals


def languages(node: dict[str, Any] | None) -> set[str] | None:
    """Languages named positively by a filter (None when the filter never mentions ``_language_code``)."""
    found: set[str] = set()
    mentioned = False

    def walk(n: dict[str, Any], negated: bool) -> None:
        nonlocal mentioned
        for op in ("AndAllFilters", "OrAllFilters"):
            for child in n.get(op, []):
                walk(child, negated)
        if "NotFilter" in n:
            walk(n["NotFilter"], not negated)
        for op in _LEAVES:
            if op in n and n[op]["Key"] == LANGUAGE_KEY:
                mentioned = True
                value = n[op]["Value"]
                if not negated:
                    found.update([value["StringValue"]] if "StringValue" in value else value.get("StringListValue", []))

    if node is not None:
        walk(node, False)
    return found if mentioned else None


def compile_filter(node: dict[str, Any], fields: dict[str, dict[str, Any]], depth: int = 0) -> Query:
    """Translate an AttributeFilter. Raises ValidationException with Kendra's wording for limits."""
    op = _only_operator(node)
    if op in _LOGICAL:
        if depth + 1 > MAX_FILTER_DEPTH:
            raise ValidationException(f"AttributeFilter cannot have a depth of more than {MAX_FILTER_DEPTH}")
        if op == "NotFilter":
            inner = compile_filter(node[op], fields, depth + 1)
            return Bool(must=(MatchAll(),), must_not=(inner,))
        children = node[op]
        if len(children) > MAX_FILTER_ITEMS:
            raise ValidationException(f"AttributeFilter cannot have a length of more than {MAX_FILTER_ITEMS}")
        compiled = [compile_filter(c, fields, depth + 1) for c in children]
        if not compiled:
            raise ValidationException(f"{op} must not be empty")
        return all_of(compiled) if op == "AndAllFilters" else any_of(compiled)
    return _leaf(op, node[op], fields)


def _leaf(op: str, attr: dict[str, Any], fields: dict[str, dict[str, Any]]) -> Query:
    key, value = attr["Key"], attr["Value"]
    if key in ("_user_id", "_group_ids"):
        raise ValidationException(f"{key} can only be used at the top level of a filter or of its AndAllFilters")
    f = fields.get(key)
    if f is None:
        raise ValidationException(f"{key} is not a field of this index")
    kind = f["Type"]
    members = [m for m in MEMBER_TYPE if m in value]
    if len(members) != 1:
        raise ValidationException(f"The filter value of {key} must have exactly one value member")
    given = MEMBER_TYPE[members[0]]
    target = Attribute(key)
    if op in _RANGE:
        if kind not in (LONG, DATE) or given != kind:
            raise ValidationException(f"{op} needs a LONG_VALUE or DATE_VALUE field and a value of its type ({key})")
        bound = _number(kind, value)
        lower, inclusive = _RANGE[op]
        return Range(target, lower=bound if lower else None, upper=None if lower else bound,
                     include_lower=inclusive or not lower, include_upper=inclusive or lower)
    if op in ("ContainsAny", "ContainsAll"):
        if given != STRING_LIST or kind not in (STRING, STRING_LIST):
            raise ValidationException(f"{op} needs a StringListValue and a string field ({key})")
        items = value["StringListValue"]
        if op == "ContainsAny":
            return Terms(target, tuple(items))
        return all_of(Term(target, item) for item in items)
    # EqualsTo
    if kind == STRING_LIST and given == STRING_LIST:
        return all_of(Term(target, item) for item in value["StringListValue"])
    if kind == STRING_LIST and given == STRING:
        return Term(target, value["StringValue"])
    if given != kind:
        raise ValidationException(f"{key} is a {kind} field; the filter gives a {given}")
    if kind == STRING:
        return Term(target, value["StringValue"])
    n = _number(kind, value)
    return Range(target, n, n)


def matches(node: dict[str, Any], attributes: Mapping[str, Any], fields: dict[str, dict[str, Any]]) -> bool:
    """Whether stored attribute values (str, list[str], int, epoch seconds) pass an AttributeFilter, with
    ``compile_filter``'s meaning; for entries outside the engine (FAQs). The filter must have compiled."""
    op = _only_operator(node)
    if op == "NotFilter":
        return not matches(node[op], attributes, fields)
    if op in ("AndAllFilters", "OrAllFilters"):
        found = (matches(child, attributes, fields) for child in node[op])
        return all(found) if op == "AndAllFilters" else any(found)
    key, value = node[op]["Key"], node[op]["Value"]
    kind, have = fields[key]["Type"], attributes.get(key)
    if have is None:
        return False
    if kind in (LONG, DATE):
        mine, bound = (date_micros(have) if kind == DATE else int(have)), _number(kind, value)
        if op in _RANGE:
            lower, inclusive = _RANGE[op]
            return mine == bound and inclusive or (mine > bound if lower else mine < bound)
        return mine == bound
    held = set(have) if isinstance(have, list) else {have}
    wanted = set(value["StringListValue"]) if "StringListValue" in value else {value["StringValue"]}
    return bool(held & wanted) if op == "ContainsAny" else wanted <= held


def _number(kind: str, value: dict[str, Any]) -> int:
    return date_micros(value["DateValue"]) if kind == DATE else int(value["LongValue"])


def user_principals(context: dict[str, Any] | None, index_config: dict[str, Any]) -> Principals:
    """Principal terms of a Query's UserContext. Raises ValidationException on conflicting members."""
    principals = Principals()
    if not context:
        return principals
    if "Token" in context:
        if any(k in context for k in ("UserId", "Groups", "DataSourceGroups")):
            raise ValidationException("UserContext takes either a Token or UserId/Groups, not both")
        return _token_principals(context["Token"], index_config)
    if "UserId" in context:
        principals.terms.append(principal_term("USER", context["UserId"]))
    principals.terms.extend(principal_term("GROUP", g) for g in context.get("Groups", []))
    principals.terms.extend(
        principal_term("GROUP", g["GroupId"], g["DataSourceId"]) for g in context.get("DataSourceGroups", [])
    )
    return principals


def _token_principals(token: str, index_config: dict[str, Any]) -> Principals:
    import json

    configs = index_config.get("UserTokenConfigurations") or []
    json_config = next((c["JsonTokenTypeConfiguration"] for c in configs if "JsonTokenTypeConfiguration" in c), None)
    if json_config is None:
        raise ValidationException("This index has no JSON user token configuration; pass UserId and Groups instead")
    try:
        claims = json.loads(token)
    except ValueError:
        raise ValidationException("UserContext.Token is not a JSON token") from None
    if not isinstance(claims, dict):
        raise ValidationException("UserContext.Token must be a JSON object")
    principals = Principals()
    user = claims.get(json_config["UserNameAttributeField"])
    if isinstance(user, str):
        principals.terms.append(principal_term("USER", user))
    groups = claims.get(json_config["GroupAttributeField"], [])
    if isinstance(groups, list):
        principals.terms.extend(principal_term("GROUP", str(g)) for g in groups)
    return principals


def acl_query(principals: Principals) -> Query:
    """Documents visible to the principals: public or allowed, and not denied (deny wins); and for each
    hierarchical level up to ``principals.levels``, not a document that has that level (its marker) and
    lets none of the principals in on it (index/documents.py ``principals`` has the encoding)."""
    allowed = Terms("acl_allow", (PUBLIC, *principals.terms))
    denied: list[Query] = [Terms("acl_deny", tuple(principals.terms))]
    for number in range(1, principals.levels + 1):
        marker = level_marker(number)
        let_in = Terms("acl_allow", (marker + PUBLIC, *(marker + t for t in principals.terms)))
        denied.append(Bool(must=(Term("acl_allow", marker),), must_not=(let_in,)))
    return Bool(must=(allowed,), must_not=tuple(denied))
