"""Where connector documents go: BatchPutDocument / BatchDeleteDocument of a Kendra endpoint.

The endpoint is configurable (``KENSAKU_CONNECTOR_ENDPOINT``): by default Kensaku's own API, but
any Kendra-compatible endpoint works, Amazon Kendra included. Calls are signed with the
``SinkCredentials`` given, or, when none are, with the standard AWS credential chain (environment,
shared files, instance role), as any boto3 client would (the chain is botocore's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_MAX_DOCS = 10  # Kendra's limit per call
_MAX_CALL_BYTES = 5 * 1024 * 1024  # keep each request well under any proxy's body limit


@dataclass(frozen=True, slots=True)
class SinkCredentials:
    """An access key pair the sink signs with (the secret stays out of reprs and logs)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SinkFailure:
    doc_id: str
    reason: str


class KendraSink:
    """A botocore ``kendra`` client bound to one index (botocore, not boto3: the sink runs in every
    ``kensaku serve`` install, and boto3 is only in the ``connectors`` extra, for the S3 connector)."""

    def __init__(self, endpoint_url: str | None, index_id: str, *, region: str | None = "us-east-1",
                 credentials: SinkCredentials | None = None) -> None:
        """``region`` None: the AWS chain's region; ``credentials`` None: the AWS credential chain."""
        import botocore.session
        from botocore.config import Config

        self.index_id = index_id
        keys = ({"aws_access_key_id": credentials.access_key_id,
                 "aws_secret_access_key": credentials.secret_access_key} if credentials is not None else {})
        self.client: Any = botocore.session.get_session().create_client(
            "kendra", endpoint_url=endpoint_url, region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=120), **keys,
        )

    def put(self, documents: list[dict[str, Any]]) -> list[SinkFailure]:
        failures: list[SinkFailure] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for doc in documents:
            doc_size = len(doc.get("Blob", b""))
            if batch and (len(batch) == _MAX_DOCS or size + doc_size > _MAX_CALL_BYTES):
                failures += self._put(batch)
                batch, size = [], 0
            batch.append(doc)
            size += doc_size
        if batch:
            failures += self._put(batch)
        return failures

    def _put(self, batch: list[dict[str, Any]]) -> list[SinkFailure]:
        r = self.client.batch_put_document(IndexId=self.index_id, Documents=batch)
        return [SinkFailure(f["Id"], f.get("ErrorMessage", f.get("ErrorCode", "failed"))) for f in
                r.get("FailedDocuments", [])]

    def delete(self, doc_ids: list[str], data_source_id: str, job_id: str) -> list[SinkFailure]:
        failures: list[SinkFailure] = []
        for i in range(0, len(doc_ids), _MAX_DOCS):
            r = self.client.batch_delete_document(
                IndexId=self.index_id, DocumentIdList=doc_ids[i : i + _MAX_DOCS],
                DataSourceSyncJobMetricTarget={"DataSourceId": data_source_id, "DataSourceSyncJobId": job_id},
            )
            failures += [SinkFailure(f["Id"], f.get("ErrorMessage", "failed")) for f in r.get("FailedDocuments", [])]
        return failures
