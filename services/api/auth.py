"""Optional AWS Signature Version 4 check of Kendra API requests.

boto3 signs ``content-type;host;x-amz-date;x-amz-target`` (plus ``x-amz-security-token``) over
``POST /`` with the SHA-256 of the body; recomputing that with the shared secret proves the caller
holds it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from services.api.errors import InvalidSignatureException, UnrecognizedClientException


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def verify_sigv4(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str]
) -> str:
    """Check the request's SigV4 ``Authorization`` header; return the caller's access key id.

    ``headers`` must be case-insensitive (Starlette's are). Raises UnrecognizedClientException for a
    missing header or unknown key, InvalidSignatureException for a wrong signature.
    """
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise UnrecognizedClientException("The request is not signed (AWS Signature Version 4 required)")
    fields: dict[str, str] = {}
    for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        access_key, date, region, service, terminal = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise InvalidSignatureException("Malformed Authorization header") from None
    secret = secrets.get(access_key)
    if secret is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed_headers)
    canonical_request = "\n".join(
        [method, path or "/", query, canonical_headers, ";".join(signed_headers), hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{region}/{service}/{terminal}"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, terminal):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided."
        )
    return access_key
