"""Kendra's typed errors, as the wire renders them.

    KendraError                      400 unless stated; body {"__type", "message", "Message"}
    ├── ValidationException          bad member, limit, pattern or enum; a feature not built yet
    ├── InvalidRequestException      GetSnapshots' form of a validation error
    ├── ResourceNotFoundException
    ├── ResourceAlreadyExistException
    ├── ResourceInUseException
    ├── ConflictException
    ├── FeaturedResultsConflictException  a query text of another featured results set; with ConflictingItems
    ├── ResourceUnavailableException      a tag operation's ARN names nothing here
    ├── ServiceQuotaExceededException
    ├── AccessDeniedException
    ├── UnknownOperationException    X-Amz-Target names no Kendra operation
    ├── SerializationException       the body is not a JSON object
    ├── UnrecognizedClientException  403: unknown access key (auth enabled)
    ├── IncompleteSignatureException 403: the SigV4 Authorization lacks a part or a required signed header
    ├── InvalidSignatureException    403: SigV4 signature, scope or time does not match (auth enabled)
    └── InternalServerException      500: a bug of ours, never a client's mistake (503 while the database
                                     of KENSAKU_DATABASE_URL is unavailable: services/api/wire.py)

boto3 maps ``__type`` to ``client.exceptions.<Name>``; it retries only 5xx and throttling, so every
client mistake must be a 400.
"""

from __future__ import annotations

from typing import Any


class KendraError(Exception):
    """Base of every error the API answers with."""

    type_name: str = "KendraError"
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"__type": self.type_name, "message": self.message, "Message": self.message}


class ValidationException(KendraError):
    type_name = "ValidationException"


class InvalidRequestException(KendraError):
    type_name = "InvalidRequestException"


class ResourceNotFoundException(KendraError):
    type_name = "ResourceNotFoundException"


class ResourceAlreadyExistException(KendraError):
    type_name = "ResourceAlreadyExistException"


class ResourceInUseException(KendraError):
    type_name = "ResourceInUseException"


class ConflictException(KendraError):
    type_name = "ConflictException"


class FeaturedResultsConflictException(KendraError):
    type_name = "FeaturedResultsConflictException"

    def __init__(self, message: str, conflicting_items: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.conflicting_items = conflicting_items or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(super().body())
        if self.conflicting_items:  # boto3 merges it into e.response
            body["ConflictingItems"] = self.conflicting_items
        return body


class ResourceUnavailableException(KendraError):
    type_name = "ResourceUnavailableException"


class ServiceQuotaExceededException(KendraError):
    type_name = "ServiceQuotaExceededException"


class AccessDeniedException(KendraError):
    type_name = "AccessDeniedException"


class UnknownOperationException(KendraError):
    type_name = "UnknownOperationException"


class SerializationException(KendraError):
    type_name = "SerializationException"


class UnrecognizedClientException(KendraError):
    type_name = "UnrecognizedClientException"
    status = 403


class IncompleteSignatureException(KendraError):
    type_name = "IncompleteSignatureException"
    status = 403


class InvalidSignatureException(KendraError):
    type_name = "InvalidSignatureException"
    status = 403


class InternalServerException(KendraError):
    type_name = "InternalServerException"
    status = 500


ALL_ERRORS: tuple[type[KendraError], ...] = (
    ValidationException,
    InvalidRequestException,
    ResourceNotFoundException,
    ResourceAlreadyExistException,
    ResourceInUseException,
    ConflictException,
    FeaturedResultsConflictException,
    ResourceUnavailableException,
    ServiceQuotaExceededException,
    AccessDeniedException,
    UnknownOperationException,
    SerializationException,
    UnrecognizedClientException,
    IncompleteSignatureException,
    InvalidSignatureException,
    InternalServerException,
)
