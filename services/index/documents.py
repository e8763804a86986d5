"""From a Kendra ``Document`` to what the stores keep: checks, extraction, analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel.errors import ValidationException
from services.engine import analysis
from services.engine.analysis import analyzer_for
from services.engine.document import STRING, STRING_LIST, FieldSpec, LexicalDocument, token_rows
from services.engine.query import PUBLIC
from services.index.fields import ACL_PSEUDO_ATTRIBUTES, RESERVED_ATTRIBUTES, attribute_value

MAX_ACL_PRINCIPALS = 200  # Kendra's quota per document; here also per level of a hierarchical list
MAX_ACL_LEVELS = 30  # levels of a HierarchicalAccessControlList (the model's maximum)
DEFAULT_LANGUAGE = "en"
# Bump when the terms written here change other than by the analyzer's tokens (2: principals of a
# data source got their own prefix, see ``principal_term``).
_TERMS_REVISION = "2"


def build_version() -> str:
    """What a lexical index is built with; the indexer rebuilds one recorded with another on start."""
    return f"{analysis.ANALYZER_VERSION};terms={_TERMS_REVISION}"


class DocumentRejected(Exception):
    """A document that fails on its own (Kendra's per-document ``FailedDocuments``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AcceptedDocument:
    """A document that passed the synchronous checks; what the pending queue keeps."""

    doc_id: str
    title: str | None
    content_type: str | None
    attributes: dict[str, Any]
    acl: list[dict[str, Any]]
    hierarchy: list[list[dict[str, Any]]]  # HierarchicalAccessControlList: each level's principals
    acl_config: str | None  # AccessControlConfigurationId: the ACL is that configuration's


def check_acl(acl: list[dict[str, Any]], hierarchy: list[list[dict[str, Any]]], what: str) -> None:
    """Kendra's limits on an ACL: at most 200 principals in the list and in each level, 30 levels.

    Raises:
        ValidationException: over a limit (``what`` names the owner: "A document").
    """
    if len(acl) > MAX_ACL_PRINCIPALS:
        raise ValidationException(f"{what} has at most {MAX_ACL_PRINCIPALS} principals in its AccessControlList")
    if len(hierarchy) > MAX_ACL_LEVELS:
        raise ValidationException(f"{what} has at most {MAX_ACL_LEVELS} levels in its HierarchicalAccessControlList")
    if any(len(level) > MAX_ACL_PRINCIPALS for level in hierarchy):
        raise ValidationException(
            f"{what} has at most {MAX_ACL_PRINCIPALS} principals in each level of its HierarchicalAccessControlList")


def hierarchy_of(levels: list[dict[str, Any]] | None) -> list[list[dict[str, Any]]]:
    """The principal lists of a wire ``HierarchicalAccessControlList`` (``[{"PrincipalList": [...]}]``)."""
    return [list(level.get("PrincipalList", [])) for level in levels or []]


def hierarchy_wire(hierarchy: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The wire form of principal lists (the inverse of ``hierarchy_of``)."""
    return [{"PrincipalList": level} for level in hierarchy]


def check_document(doc: dict[str, Any], fields: dict[str, dict[str, Any]], max_bytes: int) -> AcceptedDocument:
    """Kendra's per-document checks at BatchPutDocument time. Raises DocumentRejected."""
    if "S3Path" in doc:
        raise DocumentRejected(
            "InvalidRequest", "S3Path documents need an S3-compatible store, which this server has not configured"
        )
    if "Blob" not in doc:
        raise DocumentRejected("InvalidRequest", "A document needs a Blob (or an S3Path)")
    if len(doc["Blob"]) > max_bytes:
        raise DocumentRejected(
            "InvalidRequest", f"The document is {len(doc['Blob'])} bytes; the limit is {max_bytes} bytes"
        )
    acl = doc.get("AccessControlList", [])
    hierarchy = hierarchy_of(doc.get("HierarchicalAccessControlList"))
    acl_config = doc.get("AccessControlConfigurationId")
    if acl_config is not None and ("AccessControlList" in doc or "HierarchicalAccessControlList" in doc):
        # Which would win is not Kendra's documented behaviour; refused rather than guessed.
        raise DocumentRejected(
            "InvalidRequest", "A document takes its ACL either from AccessControlConfigurationId or from"
            " AccessControlList / HierarchicalAccessControlList, not from both")
    try:
        check_acl(acl, hierarchy, "A document")
    except ValidationException as error:
        raise DocumentRejected("InvalidRequest", error.message) from None
    attributes: dict[str, Any] = {}
    for attr in doc.get("Attributes", []):
        key = attr["Key"]
        if key in attributes:
            raise DocumentRejected("InvalidRequest", f"Attribute {key} is given twice")
        if key in RESERVED_ATTRIBUTES:
            attributes[key] = attr["Value"].get("StringValue")
            continue
        if key in ACL_PSEUDO_ATTRIBUTES:
            raise DocumentRejected("InvalidRequest", f"{key} is a query-only attribute")
        field = fields.get(key)
        if field is None:
            raise DocumentRejected(
                "InvalidRequest", f"Attribute {key} is not a field of this index; declare it with UpdateIndex first"
            )
        try:
            attributes[key] = attribute_value(field["Type"], attr["Value"], f"Attribute {key}")
        except ValidationException as error:
            raise DocumentRejected("InvalidRequest", error.message) from None
    return AcceptedDocument(doc["Id"], doc.get("Title"), doc.get("ContentType"), attributes, acl, hierarchy,
                            acl_config)


def principals(acl: Sequence[dict[str, Any]],
               hierarchy: Sequence[Sequence[dict[str, Any]]] = ()) -> tuple[list[str], list[str]]:
    """(allow, deny) principal terms of a document's AccessControlList and HierarchicalAccessControlList.

    The rule (Kendra's for hierarchical lists, and the flat list is one more level): a user sees the
    document when every level lets them in and no principal of theirs is denied on any level (deny
    wins). A level lets in the principals it ALLOWs; a level without an ALLOW lets in everyone (as a
    document without ACL is public). As terms: the flat list's ALLOWs as they are (``*`` when it has
    none); level ``i``'s ALLOWs as ``h<i>/<term>`` next to a marker ``h<i>/`` (``h<i>/*`` when it has
    none); every DENY, of any level, in the deny list. filters.acl_query asks for a match on every
    level a document has a marker of (the terms of one principal never start with ``h``).
    """
    allow: list[str] = []
    deny: list[str] = []
    for p in acl:
        term = principal_term(p["Type"], p["Name"], p.get("DataSourceId"))
        (allow if p["Access"] == "ALLOW" else deny).append(term)
    allow = allow or [PUBLIC]
    for number, level in enumerate(hierarchy, 1):
        marker = level_marker(number)
        allowed = [marker + principal_term(p["Type"], p["Name"], p.get("DataSourceId"))
                   for p in level if p["Access"] == "ALLOW"]
        allow += [marker, *(allowed or [marker + PUBLIC])]
        deny += [principal_term(p["Type"], p["Name"], p.get("DataSourceId")) for p in level if p["Access"] != "ALLOW"]
    return allow, deny


def level_marker(number: int) -> str:
    """The term marking level ``number`` (1-based) of a hierarchical ACL; its principals' terms follow it."""
    return f"h{number}/"


def principal_term(kind: str, name: str, data_source_id: str | None = None) -> str:
    """The lexical-index term of a principal: ``u:<user>``, ``g:<group>``, ``g@<data source>:<group>``.

    Terms of different principals never meet: a group named ``hr@ds1`` is ``g:hr@ds1``, group ``hr`` of
    data source ``ds1`` is ``g@ds1:hr`` (a data source id never holds ``:``, by Kendra's pattern checked
    at the wire). Plain user and group terms are those of the first format, so stored FAQ entries,
    which never name a data source, keep matching.
    """
    prefix = "u" if kind == "USER" else "g"
    return f"{prefix}@{data_source_id}:{name}" if data_source_id else f"{prefix}:{name}"


def language_of(attributes: dict[str, Any]) -> str:
    return str(attributes.get("_language_code") or DEFAULT_LANGUAGE)


def lexical_document(
    doc_id: str,
    title: str | None,
    body: str,
    attributes: dict[str, Any],
    acl: list[dict[str, Any]],
    fields: dict[str, dict[str, Any]],
    hierarchy: list[list[dict[str, Any]]] | None = None,
) -> LexicalDocument:
    """Analyse a document for the lexical index with the analyzer of its language; ``acl`` and
    ``hierarchy``: its AccessControlList and the levels of its HierarchicalAccessControlList."""
    analyzer = analyzer_for(language_of(attributes))
    values = dict(attributes)
    values.setdefault("_language_code", language_of(attributes))
    if title:
        values["_document_title"] = title
    searchable = [
        v
        for name, f in fields.items()
        if not name.startswith("_") and f["Type"] in (STRING, STRING_LIST) and f["Search"].get("Searchable")
        and name in values
        for v in (values[name] if isinstance(values[name], list) else [values[name]])
    ]
    meta = "\n".join(searchable)
    allow, deny = principals(acl, hierarchy or [])
    return LexicalDocument(
        doc_id=doc_id,
        title=title or "",
        title_tokens=token_rows(analyzer.tokens(title)) if title else [],
        body=body,
        body_tokens=token_rows(analyzer.tokens(body)),
        meta=meta,
        meta_tokens=token_rows(analyzer.tokens(meta)) if meta else [],
        acl_allow=allow,
        acl_deny=deny,
        attributes={k: v for k, v in values.items() if k in fields},
    )


def field_specs(fields: dict[str, dict[str, Any]]) -> list[FieldSpec]:
    return [FieldSpec(name, f["Type"], bool(f["Search"].get("Sortable"))) for name, f in sorted(fields.items())]
