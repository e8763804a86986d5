"""Request validation and conversion driven by botocore's own Kendra service model.

boto3 checks only required members, types and minimums; everything else (max lengths, patterns,
enums, list sizes) reaches the server. Validating against the same model the client was generated
from enforces every such rule without restating it: the model *is* our request schema.

Conversion: ``blob`` members arrive base64-encoded and become ``bytes``; ``timestamp`` members
arrive as epoch seconds (or ISO-8601) and become ``float`` epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from datetime import UTC, datetime
from typing import Any

import regex
from botocore.model import ServiceModel, Shape

from kernel.errors import InvalidRequestException, KendraError, ValidationException

SERVICE_NAME = "kendra"


@functools.cache
def service_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE_NAME)


@functools.cache
def _pattern(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def operation_names() -> list[str]:
    return list(service_model().operation_names)


@functools.cache
def _operation_set() -> frozenset[str]:
    return frozenset(service_model().operation_names)


def in_model(operation: str) -> bool:
    """Whether botocore's model has ``operation`` (Kensaku's extension operations validate themselves)."""
    return operation in _operation_set()


class _JsonNull:
    """A value ``to_wire`` writes as JSON null (plain None members are left out)."""


JSON_NULL = _JsonNull()


@functools.cache
def validation_error(operation: str) -> type[KendraError]:
    """The error an operation reports bad input with: ValidationException, unless its model lists
    InvalidRequestException instead (GetSnapshots)."""
    if not in_model(operation):
        return ValidationException
    errors = {shape.name for shape in service_model().operation_model(operation).error_shapes}
    if "ValidationException" not in errors and "InvalidRequestException" in errors:
        return InvalidRequestException
    return ValidationException


def parse_input(operation: str, params: Any) -> dict[str, Any]:
    """Validate ``params`` against the operation's input shape; return them converted.

    Raises ValidationException naming the first offending member path (InvalidRequestException for
    an operation whose model has no ValidationException).
    """
    shape = service_model().operation_model(operation).input_shape
    if shape is None:
        return {}
    try:
        if not isinstance(params, dict):
            raise ValidationException("The request body must be a JSON object")
        result: dict[str, Any] = _convert(shape, params, shape.name)
    except ValidationException as error:
        kind = validation_error(operation)
        if kind is ValidationException:
            raise
        raise kind(error.message) from None
    return result


def check_as(shape_name: str, value: Any, path: str) -> Any:
    """Validate ``value`` by the rules of the model's shape ``shape_name``; return it converted."""
    return _convert(service_model().shape_for(shape_name), value, path)


def _fail(path: str, problem: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value at '{path}' failed to satisfy constraint: {problem}"
    )


def _check_length(shape: Shape, size: int, path: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        raise _fail(path, f"Member must have length greater than or equal to {low} {unit}".rstrip())
    if high is not None and size > high:
        raise _fail(path, f"Member must have length less than or equal to {high} {unit}".rstrip())


def _convert(shape: Shape, value: Any, path: str) -> Any:  # noqa: C901 - one branch per model type
    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        return value  # free-form JSON (a data source's Template); its owner checks it
    if kind == "structure":
        if not isinstance(value, dict):
            raise _fail(path, "Member must be an object")
        out: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                raise _fail(f"{path}.{name}", "Member must not be null")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[name] = _convert(member, value[name], f"{path}.{name}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _fail(path, "Member must be a list")
        _check_length(shape, len(value), path, "")
        member = shape.member
        return [_convert(member, item, f"{path}.{i + 1}.member") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _fail(path, "Member must be a map")
        _check_length(shape, len(value), path, "")
        key_shape, value_shape = shape.key, shape.value
        return {
            _convert(key_shape, k, f"{path}.key"): _convert(value_shape, v, f"{path}.{k}") for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(path, "Member must be a string")
        enum = shape.enum
        if enum and value not in enum:
            raise _fail(path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        _check_length(shape, len(value), path, "")
        pattern = shape.metadata.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            raise _fail(path, f"Member must satisfy regular expression pattern: {pattern}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise _fail(path, "Member must be an integer")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            raise _fail(path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            raise _fail(path, f"Member must have value less than or equal to {high}")
        if kind == "integer" and not -(2**31) <= value < 2**31:
            raise _fail(path, "Member must be a 32-bit integer")
        if not -(2**63) <= value < 2**63:
            raise _fail(path, "Member must be a 64-bit integer")
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, "Member must be a number")
        if not math.isfinite(value):  # 1e999 parses as infinity
            raise _fail(path, "Member must be a finite number")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, "Member must be a boolean")
        return value
    if kind == "timestamp":
        return _timestamp(value, path)
    if kind == "blob":
        if not isinstance(value, str):
            raise _fail(path, "Member must be a base64-encoded string")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(path, "Member must be valid base64") from None
        _check_length(shape, len(data), path, "")
        return data
    # "document" (free-form JSON, e.g. a data source Template)
    return value


# Epoch seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: the datetimes boto3 (and Python) can hold.
MIN_EPOCH_SECONDS = -62_135_596_800.0
MAX_EPOCH_SECONDS = 253_402_300_799.0


def _timestamp(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise _fail(path, "Member must be a timestamp")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(path, "Member must be a timestamp (epoch seconds or ISO-8601)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            seconds = parsed.timestamp()
        except (OverflowError, ValueError):
            raise _fail(path, "Member must be a timestamp between the years 1 and 9999") from None
    else:
        raise _fail(path, "Member must be a timestamp")
    # NaN and infinity fail this too; a date boto3 cannot turn into a datetime would break every
    # response that carries it.
    if not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise _fail(path, "Member must be a timestamp between the years 1 and 9999")
    return seconds


def to_wire(value: Any) -> Any:
    """Make a handler's result JSON-ready: datetimes become epoch seconds, bytes base64."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if v is not None}
    if value is JSON_NULL:
        return None
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
