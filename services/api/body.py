"""Request bodies: read within a size limit, measured before ``json`` parses them, parsed strictly.

Python's ``json`` recurses once per nesting level, so a body of a few thousand ``[`` ends in a
RecursionError (and every layer above it recurses too). The guard measures the body's shape first,
cheaply and without recursion: string literals are cut out with one regular expression, and what
is left (the structure) is counted for elements and peeled pair by pair for its depth.

Errors: a body that is not JSON (or not UTF-8, or uses NaN / Infinity, or a number of thousands
of digits) is a SerializationException; a JSON body over a limit, or holding a string with an
unpaired UTF-16 surrogate (``"\\ud800"``, which no UTF-8 store can hold), is a ValidationException.
Both are 400s: boto3 does not retry them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from kernel.errors import SerializationException, ValidationException

# Deeper than any Kendra request needs (an AttributeFilter of Kendra's depth 2 is 6 levels; data
# source templates a dozen) and shallow enough that every recursive walk above stays far from
# Python's recursion limit.
MAX_DEPTH = 64
# Values (array items and object members) in one body; a full BatchPutDocument uses a few thousand.
MAX_ELEMENTS = 100_000

_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIR = re.compile(rb"\[\]|\{\}")
# A \uD800-\uDFFF escape: only then can a parsed string hold a surrogate (raw ones are not UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


async def read_limited(chunks: AsyncIterator[bytes], declared_length: str | None, limit: int) -> bytes:
    """The body from ``chunks``, refusing (before reading it, when Content-Length says so) more than
    ``limit`` bytes."""
    if declared_length is not None and declared_length.strip().isdigit() and int(declared_length) > limit:
        raise _too_large(int(declared_length), limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(size: int, limit: int) -> ValidationException:
    return ValidationException(f"The request body ({size} bytes or more) is over this server's limit of {limit} bytes")


def check_shape(body: bytes) -> None:
    """Refuse a body nested deeper than MAX_DEPTH or holding more than MAX_ELEMENTS values.

    Malformed bodies that pass are left for the parser to name.
    """
    structure = _STRING.sub(b'""', body)
    elements = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if elements > MAX_ELEMENTS:
        raise ValidationException(f"The request body holds more than {MAX_ELEMENTS} values")
    brackets = structure.translate(None, _NOT_BRACKETS)
    depth = 0
    while brackets:
        depth += 1
        if depth > MAX_DEPTH:
            raise ValidationException(f"The request body is nested more than {MAX_DEPTH} levels deep")
        peeled = _PAIR.sub(b"", brackets)
        if peeled == brackets:  # unbalanced: not JSON, the parser says so
            return
        brackets = peeled


def _refuse_constant(name: str) -> Any:
    raise SerializationException(f"The request body is not valid JSON ({name} is not a JSON number)")


def parse(body: bytes) -> Any:
    """The JSON value of a request body (an empty body is ``{}``), after ``check_shape``."""
    if not body.strip():
        return {}
    check_shape(body)
    try:
        text = body.decode("utf-8")  # strict: json.loads(bytes) would let encoded surrogates through
        value = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise SerializationException(f"The request body is not valid UTF-8 (byte {error.start})") from None
    except RecursionError:  # check_shape keeps bodies shallow; this is the last line, not the first
        raise ValidationException(f"The request body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise SerializationException(f"The request body is not valid JSON: {_first_line(error)}") from None
    if _SURROGATE_ESCAPE.search(body):
        _refuse_surrogates(value, "")
    return value


def _first_line(error: ValueError) -> str:
    return str(error).splitlines()[0][:200]


def _refuse_surrogates(value: Any, path: str) -> None:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            where = f" at '{path}'" if path else ""
            raise ValidationException(f"The request holds a string with an unpaired UTF-16 surrogate{where}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_surrogates(key, path)
            _refuse_surrogates(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_surrogates(item, f"{path}.{i + 1}")
