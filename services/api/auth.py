"""Optional AWS Signature Version 4 check of Kendra API requests.

boto3 signs ``content-type;host;x-amz-date;x-amz-target`` (plus ``x-amz-security-token``) over
``POST /`` with the SHA-256 of the body; recomputing that with the shared secret proves the caller
holds it. As AWS does, a signature is good for 5 minutes either side of its ``X-Amz-Date`` (a
captured request cannot be replayed later), an ``x-amz-content-sha256`` header must be the body's
hash, and the host, date and target must be among the signed headers (an unsigned X-Amz-Target would
let a captured ListIndices run as any other operation). The credential scope must name this
server's region, the service ``kendra`` and the day of ``X-Amz-Date``: a signature made for another
service or region is not valid here, as on AWS. Query-string (presigned) signatures are refused: they
leave the body unsigned, so a captured URL could carry any request.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from kernel.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    UnrecognizedClientException,
)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


MAX_SKEW_SECONDS = 5 * 60  # AWS's window either side of X-Amz-Date
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_REQUIRED_SIGNED = ("host", "x-amz-date", "x-amz-target")
SERVICE = "kendra"
_TERMINATOR = "aws4_request"


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def _check_date(amz_date: str, scope_date: str, now: float) -> None:
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSignatureException(
            "X-Amz-Date is missing or not a basic ISO-8601 time (20240501T120000Z)") from None
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException("The credential scope's date is not the day of X-Amz-Date")
    now_text = datetime.fromtimestamp(now, UTC).strftime(_AMZ_DATE)
    skew = now - signed_at.timestamp()
    if skew > MAX_SKEW_SECONDS:  # AWS's wording, which SDKs recognise as clock skew
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {_shifted(now, -MAX_SKEW_SECONDS)}"
            f" ({now_text} - 5 min.)")
    if skew < -MAX_SKEW_SECONDS:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than {_shifted(now, MAX_SKEW_SECONDS)}"
            f" ({now_text} + 5 min.)")


def _shifted(now: float, seconds: int) -> str:
    return datetime.fromtimestamp(now + seconds, UTC).strftime(_AMZ_DATE)


def _check_scope(region: str, service: str, terminal: str, expected_region: str, expected_service: str) -> None:
    """AWS's checks (and wording) of the credential scope's region, service and terminator."""
    if terminal != _TERMINATOR:
        raise InvalidSignatureException(
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', not '{terminal}'.")
    if service != expected_service:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{expected_service}'.")
    if region != expected_region:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{region}' (this server's is"
            f" '{expected_region}': KENSAKU_REGION).")


def verify_sigv4(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str],
    region: str, now: float | None = None, service: str = SERVICE,
) -> str:
    """Check the request's SigV4 ``Authorization`` header; return the caller's access key id.

    ``headers`` must be case-insensitive (Starlette's are); ``region`` is the one the scope must name;
    ``now`` is epoch seconds (default: the clock); ``service`` the one the scope must name (the tests
    check the OpenSearch engine's "es" signatures with it). Raises UnrecognizedClientException for a
    missing header or unknown key, IncompleteSignatureException for a malformed header or a required
    header left unsigned, InvalidSignatureException for a wrong, expired or mis-scoped signature or a
    wrong payload hash.
    """
    if any(name.lower() in ("x-amz-signature", "x-amz-credential") for name, _ in parse_qsl(query)):
        raise InvalidSignatureException(
            "Query-string (presigned) signatures are not accepted; sign the Authorization header")
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise UnrecognizedClientException("The request is not signed (AWS Signature Version 4 required)")
    fields: dict[str, str] = {}
    for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        access_key, date, scope_region, scope_service, terminal = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise IncompleteSignatureException(
            "Authorization header requires 'Credential' (key/date/region/service/aws4_request),"
            " 'SignedHeaders' and 'Signature' parameters") from None
    secret = secrets.get(access_key)
    if secret is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    required = _REQUIRED_SIGNED if service == SERVICE else ("host", "x-amz-date")
    missing = [h for h in required if h not in signed_headers]
    if missing:
        raise IncompleteSignatureException(
            f"These headers must be among the SignedHeaders of the Authorization: {', '.join(missing)}")
    _check_scope(scope_region, scope_service, terminal, region, service)
    amz_date = headers.get("x-amz-date", "")
    _check_date(amz_date, date, time.time() if now is None else now)
    payload_hash = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != payload_hash:
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed.")
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed_headers)
    canonical_request = "\n".join(
        [method, path or "/", _canonical_query(query), canonical_headers, ";".join(signed_headers), payload_hash]
    )
    scope = f"{date}/{scope_region}/{scope_service}/{terminal}"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (scope_region, scope_service, terminal):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided."
        )
    return access_key
