"""Kendra's typed errors, as the wire renders them.

    KendraError                      400 unless stated; body {"__type", "message", "Message"}
    ├── ValidationException          bad member, limit, pattern or enum; a feature not built yet
    ├── InvalidRequestException      GetSnapshots' form of a validation error
    ├── ResourceNotFoundException
    ├── ResourceAlreadyExistException
    ├── ResourceInUseException
    ├── ConflictException
    ├── ServiceQuotaExceededException
    ├── AccessDeniedException
    ├── UnknownOperationException    X-Amz-Target names no Kendra operation
    ├── SerializationException       the body is not a JSON object
    ├── UnrecognizedClientException  403: unknown access key (auth enabled)
    ├── InvalidSignatureException    403: SigV4 signature does not match (auth enabled)
    └── InternalServerException      500: a bug of ours, never a client's mistake

boto3 maps ``__type`` to ``client.exceptions.<Name>``; it retries only 5xx and throttling, so every
client mistake must be a 400.
"""

from __future__ import annotations


class KendraError(Exception):
    """Base of every error the API answers with."""

    type_name: str = "KendraError"
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"__type": self.type_name, "message": self.message, "Message": self.message}


def _error(name: str, status: int = 400) -> type[KendraError]:
    return type(name, (KendraError,), {"type_name": name, "status": status, "__module__": __name__})


ValidationException = _error("ValidationException")
InvalidRequestException = _error("InvalidRequestException")
ResourceNotFoundException = _error("ResourceNotFoundException")
ResourceAlreadyExistException = _error("ResourceAlreadyExistException")
ResourceInUseException = _error("ResourceInUseException")
ConflictException = _error("ConflictException")
ServiceQuotaExceededException = _error("ServiceQuotaExceededException")
AccessDeniedException = _error("AccessDeniedException")
UnknownOperationException = _error("UnknownOperationException")
SerializationException = _error("SerializationException")
UnrecognizedClientException = _error("UnrecognizedClientException", 403)
InvalidSignatureException = _error("InvalidSignatureException", 403)
InternalServerException = _error("InternalServerException", 500)

ALL_ERRORS: tuple[type[KendraError], ...] = (
    ValidationException,
    InvalidRequestException,
    ResourceNotFoundException,
    ResourceAlreadyExistException,
    ResourceInUseException,
    ConflictException,
    ServiceQuotaExceededException,
    AccessDeniedException,
    UnknownOperationException,
    SerializationException,
    UnrecognizedClientException,
    InvalidSignatureException,
    InternalServerException,
)
