"""S3: the objects of a bucket under a prefix, through boto3 (any S3-compatible endpoint).

Document ids are ``s3://bucket/key``. Incremental by ETag and LastModified: a listing is diffed
against the versions delivered before, and keys no longer listed are deletions (S3 has no change
feed short of event notifications). Metadata: ``_last_updated_at`` / ``_created_at`` from
LastModified (S3 keeps no creation time), ``_authors`` and the title from the ``author`` / ``title``
user metadata when set, ``_category`` from the first folder under the prefix. Folder markers are skipped.

Kendra's metadata side files are honoured: ``<key>.metadata.json`` next to the object (or under
``metadataPrefix``) with ``Title``, ``ContentType``, ``AccessControlList`` ([{Name, Type, Access}]) and
``Attributes`` (``_category``, ``_authors``, ``_source_uri`` are used); editing only the side file
changes the document's version, so the document is sent again.

Reach: an endpoint named by the data source (``endpointUrl``) obeys the outbound policy: its host is
resolved and checked before the client is made and again before each request (a redirect included).
botocore resolves the name once more to connect, so unlike the HTTP connectors the address is
checked, not pinned. The server's own ``KENSAKU_S3_ENDPOINT_URL`` is the operator's and is not checked.

Errors: wrong or expired keys become CredentialsRejected, AccessDenied SourceForbidden, a missing
bucket SourceMisconfigured, and connection errors, throttling and 5xx SourceUnavailable (retried).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.contract import (
    Acl,
    Change,
    Checkpoint,
    CredentialsRejected,
    Deletion,
    ItemFailed,
    Principal,
    SourceDocument,
    SourceError,
    SourceForbidden,
    SourceMisconfigured,
    SourceUnavailable,
    Upsert,
)
from connectors.documents import content_type_of
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns

_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId"}
_TRANSIENT = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"}


@dataclass(frozen=True, slots=True)
class S3Config:
    bucket_name: str
    prefix: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None  # named by the data source; None: the server's own (or AWS)
    access_key_id: str | None = None  # None: the AWS credential chain
    secret_access_key: str | None = None
    metadata_prefix: str = ""  # where the .metadata.json side files are; "": next to the objects


@dataclass(frozen=True, slots=True)
class S3Checkpoint(Checkpoint):
    """What was listed. S3 has no change feed: every sync lists the prefix and diffs it."""

    bucket: str
    prefix: str


def _source_error(error: Exception) -> SourceError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in _CREDENTIALS:
            return CredentialsRejected(f"S3 refused the credentials ({code})")
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return SourceForbidden(f"S3 denied access ({code})")
        if code == "NoSuchBucket":
            return SourceMisconfigured(f"S3 bucket does not exist ({code})")
        if code in _TRANSIENT or status >= 500:
            return SourceUnavailable(f"S3 is unavailable ({code or status})")
        return SourceError(f"S3 error {code}: {error}")
    if isinstance(error, NoCredentialsError):
        return CredentialsRejected("no S3 credentials are configured")
    if isinstance(error, EndpointConnectionError):
        return SourceUnavailable(f"cannot reach S3: {error}")
    return SourceUnavailable(f"S3 request failed: {error}")


class S3Connector:
    def __init__(self, *, bucket: str, prefix: str, patterns: Patterns, endpoint_url: str | None, region: str,
                 access_key: str | None, secret_key: str | None, max_bytes: int,
                 metadata_prefix: str = "", outbound: OutboundPolicy | None = None) -> None:
        self.bucket = bucket
        self.metadata_prefix = metadata_prefix.strip("/")
        self.prefix = prefix
        self.patterns = patterns
        self.endpoint_url = endpoint_url
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.max_bytes = max_bytes
        self.outbound = outbound  # None: the endpoint is the operator's, not the data source's
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            if self.outbound is not None and self.endpoint_url:
                self.outbound.resolve_url(self.endpoint_url)  # refused before any client exists
            client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2},
                              connect_timeout=5, read_timeout=60),
            )
            if self.outbound is not None and self.endpoint_url:
                client.meta.events.register("before-send.s3", self._check_request)
            self._client = client
        return self._client

    def _check_request(self, request: Any, **_: Any) -> None:
        assert self.outbound is not None
        self.outbound.resolve_url(str(request.url))

    def side_key(self, key: str) -> str:
        return f"{self.metadata_prefix}/{key}.metadata.json" if self.metadata_prefix else f"{key}.metadata.json"

    def _side(self, key: str) -> dict[str, Any]:
        body = self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            side = json.loads(body)
        except ValueError as error:
            raise ItemFailed(f"{key} is not valid JSON: {error}") from None
        if not isinstance(side, dict):
            raise ItemFailed(f"{key} must hold a JSON object")
        return side

    def uri(self, key: str) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{quote(key)}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{quote(key)}"

    def changes(self, checkpoint: S3Checkpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, S3Checkpoint]:
        from botocore.exceptions import BotoCoreError, ClientError

        seen: set[str] = set()
        objects: dict[str, dict[str, Any]] = {}
        try:
            pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    objects[obj["Key"]] = obj
            if self.metadata_prefix and not self.metadata_prefix.startswith(self.prefix.rstrip("/")):
                pages = self.client().get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.metadata_prefix + "/")
                for page in pages:
                    for obj in page.get("Contents", []):
                        objects[obj["Key"]] = obj
        except (ClientError, BotoCoreError) as error:
            raise _source_error(error) from None
        for key, obj in sorted(objects.items()):
            rel = key[len(self.prefix):].lstrip("/")
            if not key.startswith(self.prefix) or key.endswith("/") or key.endswith(".metadata.json"):
                continue
            if content_type_of(key) is None or not self.patterns.allows(rel):
                continue
            doc_id = f"s3://{self.bucket}/{key}"
            seen.add(doc_id)
            version = f"{obj['ETag'].strip(chr(34))}@{obj['LastModified'].timestamp():.0f}"
            ref: dict[str, Any] = {"key": key}
            side = objects.get(self.side_key(key))
            if side is not None:
                version += f"+{side['ETag'].strip(chr(34))}"
                ref["metadata"] = side["Key"]
            yield Upsert(doc_id, version, ref)
        for doc_id in sorted(set(known) - seen):
            yield Deletion(doc_id)
        return S3Checkpoint(bucket=self.bucket, prefix=self.prefix)

    def fetch(self, item: Upsert) -> SourceDocument:
        from botocore.exceptions import BotoCoreError, ClientError

        key = str(item.ref["key"])
        try:
            obj = self.client().get_object(Bucket=self.bucket, Key=key)
            size = int(obj.get("ContentLength", 0))
            if size > self.max_bytes:
                obj["Body"].close()
                raise ItemFailed(f"{key} is {size:,} bytes; the limit is {self.max_bytes:,} bytes")
            data = obj["Body"].read()
            side: dict[str, Any] = self._side(str(item.ref["metadata"])) if item.ref.get("metadata") else {}
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ItemFailed(f"{key} was deleted during the sync") from None
            raise _source_error(error) from None
        except BotoCoreError as error:
            raise _source_error(error) from None
        meta = {k.lower(): v for k, v in (obj.get("Metadata") or {}).items()}
        given = side.get("Attributes")
        attributes: dict[str, Any] = given if isinstance(given, dict) else {}
        rel = key[len(self.prefix):].lstrip("/")
        parts = rel.split("/")
        modified = obj.get("LastModified")
        authors = attributes.get("_authors") or ([meta["author"]] if meta.get("author") else [])
        principals = []
        for entry in side.get("AccessControlList") or []:
            try:
                principals.append(Principal(str(entry["Name"]), str(entry.get("Type", "GROUP")),
                                            str(entry.get("Access", "ALLOW"))))
            except (KeyError, TypeError):
                raise ItemFailed(f"{item.ref['metadata']}: ACL entries need Name, Type and Access") from None
        return SourceDocument(
            doc_id=item.doc_id, data=data, source_uri=str(attributes.get("_source_uri") or self.uri(key)),
            title=side.get("Title") or meta.get("title"),
            content_type=side.get("ContentType") or content_type_of(key), created_at=modified, updated_at=modified,
            authors=tuple(str(a) for a in authors),
            category=attributes.get("_category") or (parts[0] if len(parts) > 1 else None),
            acl=Acl.of(*principals),
        )
