"""Checks a raw JSON response against botocore's output shape for the operation (test helper).

boto3 does not validate responses, so a wrong member name or type would pass silently; every
response in the suite goes through this check instead.
"""

from __future__ import annotations

from typing import Any

import regex
from botocore.model import Shape


def check_shape(shape: Shape, value: Any, path: str = "") -> None:
    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        return  # free-form JSON (a data source's Template)
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        members = shape.members  # type: ignore[attr-defined]
        for key, item in value.items():
            assert key in members, f"{path}: unknown member {key!r} (shape {shape.name})"
            check_shape(members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected list"
        for i, item in enumerate(value):
            check_shape(shape.member, item, f"{path}[{i}]")  # type: ignore[attr-defined]
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected map"
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        enum = shape.enum  # type: ignore[attr-defined]
        assert not enum or value in enum, f"{path}: {value!r} not in enum {enum}"
        if "max" in shape.metadata:
            assert len(value) <= shape.metadata["max"], f"{path}: longer than {shape.metadata['max']}"
        if "min" in shape.metadata:
            assert len(value) >= shape.metadata["min"], f"{path}: shorter than {shape.metadata['min']}"
        pattern = shape.metadata.get("pattern")
        if pattern:
            assert regex.fullmatch(pattern, value), f"{path}: {value!r} does not match {pattern}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected integer"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean"
    elif kind == "timestamp":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: expected epoch seconds"
