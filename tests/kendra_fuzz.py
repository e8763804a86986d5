"""Hypothesis strategies for Kendra request bodies, built from botocore's own service model.

``request_bodies(operation, ids)`` draws the raw bytes of a request: mostly JSON of the operation's
input shape (valid values, with members replaced by wrong types, out-of-range numbers, odd strings
or arbitrary JSON along the way), well-typed JSON whose every string, number and date member may be
extreme (a lone surrogate, a range's edge, a date of year 1 or 10000, 1e20, NaN), so that bodies
pass the model's types and reach the handlers and the indexer, and sometimes a hostile body (deep
nesting, a huge member, invalid UTF-8, lone surrogates, NaN). ``ids`` are resource ids that exist on
the server under test, so the handlers behind validation run too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

from kernel.model import service_model

# Strings that have broken parsers before: control characters, lone surrogates, RTL marks, NUL,
# file URLs, huge numbers as text, Japanese.
ODD_STRINGS = (
    "", " ", "\x00", "\u202e", "t\ud800", "\udfff", "東京都", "../../etc/passwd", "file:///etc/passwd",
    "NaN", "Infinity", "1e309", "-0", "%s%n", "a" * 5000, "\n\r\t", "\\", '"', "{}", "[]", "null",
)
ODD_NUMBERS = (0, -1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 2**64, 1e20, -1e15, 1e308, 0.5, -0.0)
# Values of the right type that have broken storage, analysis or dates before.
EXTREME_STRINGS = ("t\ud800", "\udc00", "a\udbff\udbffb", "\x00", "\u202e\u0000", "\U0010ffff", "東京都\ud800")
EXTREME_DATES = (1e20, -1e15, 1e308, -1e308, -62135596801.0, -62135596800.0, 253402300799.0, 253402300800.0,
                 0, -1, 2**63, 5e-324,
                 float("nan"), float("inf"), float("-inf"), "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                 "+275760-09-13T00:00:00Z", "1970-01-01T00:00:00+99:00", "2024-02-30T00:00:00Z")



def _rarely(usual: st.SearchStrategy[Any], extreme: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``extreme`` one time in 16, so that a body with one extreme member among sound ones is common."""
    return st.integers(0, 15).flatmap(lambda n: extreme if n == 0 else usual)


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(ODD_STRINGS), st.sampled_from(ODD_NUMBERS),
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


# Attribute keys worth drawing: built-in fields, and "dept", a STRING_VALUE field the tests declare.
FIELD_NAMES = ("_language_code", "_category", "_created_at", "_document_title", "_view_count", "_authors",
               "_user_id", "_group_ids", "_data_source_id", "_file_type", "dept")


def _string(shape: Shape, ids: Sequence[str]) -> st.SearchStrategy[Any]:
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    if shape.name == "DocumentAttributeKey":
        return st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10))
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", 64), 64)
    options: list[st.SearchStrategy[Any]] = [
        st.text(min_size=low, max_size=max(low, high)),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=low, max_size=max(low, high)),
    ]
    if ids and low <= 36 <= shape.metadata.get("max", 10**9):
        options.insert(0, st.sampled_from(list(ids)))
    return _rarely(st.one_of(*options), st.sampled_from(EXTREME_STRINGS))


def _number(shape: Shape) -> st.SearchStrategy[Any]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if shape.type_name in ("float", "double"):
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    limit = 2**31 - 1 if shape.type_name == "integer" else 2**63 - 1
    low, high = low if low is not None else -limit - 1, high if high is not None else limit
    return _rarely(st.integers(min_value=low, max_value=high), st.sampled_from((low, high)))


def valid_value(shape: Shape, ids: Sequence[str], depth: int = 0, *, mutate: bool = True) -> st.SearchStrategy[Any]:
    """A value of ``shape`` that mostly satisfies the model (patterns are not honoured); its members
    are ``maybe_mutated``, or, without ``mutate``, well-typed all the way down."""

    def member(inner: Shape) -> st.SearchStrategy[Any]:
        return maybe_mutated(inner, ids, depth + 1) if mutate else valid_value(inner, ids, depth + 1, mutate=False)

    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        return json_values
    if kind == "structure":
        if depth > 5:  # recursive shapes (AttributeFilter): stop at the required members
            return st.fixed_dictionaries({})
        members = shape.members
        required = set(shape.required_members)
        return st.fixed_dictionaries(
            {n: member(m) for n, m in members.items() if n in required},
            optional={n: member(m) for n, m in members.items() if n not in required},
        )
    if kind == "list":
        low = shape.metadata.get("min", 0)
        high = min(shape.metadata.get("max", 3), 3)
        return st.lists(member(shape.member), min_size=min(low, 3), max_size=max(high, low, 0))
    if kind == "map":
        return st.dictionaries(_string(shape.key, ids), member(shape.value), max_size=3)
    if kind == "string":
        return _string(shape, ids)
    if kind in ("integer", "long", "float", "double"):
        return _number(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return _rarely(st.one_of(st.floats(min_value=0, max_value=2e9), st.sampled_from(["2024-05-01T00:00:00Z", "x"])),
                       st.sampled_from(EXTREME_DATES))
    if kind == "blob":
        return st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    return json_values


def maybe_mutated(shape: Shape, ids: Sequence[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly a valid value; sometimes a wrong type, an odd string or number, or arbitrary JSON."""
    return st.one_of(
        valid_value(shape, ids, depth),
        st.sampled_from(ODD_STRINGS), st.sampled_from(ODD_NUMBERS), json_values,
    )


def document_batches(index_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """BatchPutDocument requests for ``index_id`` whose documents are well-typed, any member extreme."""
    document = valid_value(service_model().shape_for("Document"), [], 1, mutate=False).map(_with_blob)
    documents = st.lists(document, min_size=1, max_size=3)
    return st.fixed_dictionaries({"IndexId": st.just(index_id), "Documents": documents})


# Members that keep a document from the indexer: fetched from the network, or naming an access control
# configuration the index does not have.
_UNINDEXED = ("S3Path", "AccessControlConfigurationId")


def _with_blob(document: dict[str, Any]) -> dict[str, Any]:
    """A document the indexer gets to: content of its own, none of the members above."""
    text = base64.b64encode("Fuzzed content. 東京都の経費精算。".encode()).decode()
    return {"Blob": text, **{k: v for k, v in document.items() if k not in _UNINDEXED}}


def _deep(n: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * n + b"]" * n
    if kind == "object":
        return b'{"a":' * n + b"1" + b"}" * n
    return b'{"IndexId":"' + b"a" * 36 + b'","QueryText":"x","AttributeFilter":' + (
        b'{"AndAllFilters":[' * n + b"{}" + b"]}" * n + b"}"
    )


def _huge(index: str, member: str, size: int, word: str) -> bytes:
    return json.dumps({"IndexId": index, "Id": index, member: (word * size)[:size]}, ensure_ascii=False).encode()


def hostile_bodies(shape: Shape | None, ids: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Bodies no well-behaved client sends."""
    index = ids[0] if ids else "a" * 36
    members = sorted(n for n, m in shape.members.items() if m.type_name == "string") if shape is not None else []
    return st.one_of(
        st.builds(_deep, st.integers(1, 5000), st.sampled_from(["list", "object", "filter"])),
        st.builds(_huge, st.just(index), st.sampled_from([*members, "QueryText"]), st.integers(1, 2_000_000),
                  st.sampled_from(["x", "東京都の ", "word "])),
        st.binary(max_size=64).map(lambda b: b'{"IndexId":"' + b + b'"}'),
        st.sampled_from([
            b'{"IndexId":"' + index.encode() + b'","QueryText":"t\\ud800"}',
            b'{"IndexId":"' + index.encode() + b'","QueryText":"\xed\xa0\x80"}',
            b'{"IndexId":"' + index.encode() + b'","PageSize":NaN}',
            b'{"IndexId":"' + index.encode() + b'","PageSize":1e999}',
            b'{"IndexId":"' + index.encode() + b'","PageSize":' + b"9" * 5000 + b"}",
            b'{"IndexId":"' + index.encode() + b'"',
            b"\xff\xfe{\x00}\x00", b"", b"null", b"[]", b'"x"', b"1",
        ]),
        st.lists(st.just(b"1"), min_size=1, max_size=300_000).map(lambda xs: b"[" + b",".join(xs) + b"]"),
    )


# Kensaku's own operations (not in botocore's model) and their members.
EXTENSION_MEMBERS = {"KensakuGetTrends": ("IndexId", "Interval", "Granularity", "MaxResults", "Channel")}


def request_bodies(operation: str, ids: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Raw bodies for ``operation``: model-shaped (valid or mutated) JSON, or hostile bytes."""
    shaped: st.SearchStrategy[Any]
    if operation in EXTENSION_MEMBERS:
        shape = None
        member = st.one_of(st.sampled_from(list(ids) or ["x"]), st.sampled_from(["THIS_WEEK", "DAY", "web"]),
                           json_values)
        shaped = st.dictionaries(st.sampled_from(EXTENSION_MEMBERS[operation]), member)
    else:
        shape = service_model().operation_model(operation).input_shape
        shaped = st.one_of(valid_value(shape, ids), valid_value(shape, ids, mutate=False)) if shape is not None \
            else st.just({})
    return st.one_of(
        shaped.map(lambda v: json.dumps(v, ensure_ascii=True).encode()),
        shaped.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        hostile_bodies(shape, ids),
    )
