"""The connection to the OpenSearch cluster (or an Amazon OpenSearch Service domain), and how its
failures reach callers: a cluster that cannot be reached, times out, answers 5xx / 429 or refuses our
credentials raises ``EngineUnavailable`` (services/engine/base.py); a document it refuses (a 4xx item)
raises ``DocumentRefused``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from services.engine.base import EngineUnavailable
from services.settings import Settings


class DocumentRefused(ValueError):
    """The cluster refused one document of a bulk request (a mapping conflict, a value too large)."""


POOL_SIZE = 16  # kept connections to the cluster


def connect(settings: Settings) -> OpenSearch:
    """A client for ``settings.opensearch_url`` with its auth and TLS settings (no request is sent)."""
    # opensearch-py logs every failed request with its traceback; EngineUnavailable says it once.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    url = urlsplit(settings.opensearch_url)
    options: dict[str, Any] = {
        "hosts": [settings.opensearch_url],
        "timeout": settings.opensearch_timeout_seconds,
        "max_retries": 1,
        "retry_on_timeout": False,  # a timeout is reported, not doubled
        # gzip pays over a network; on the loopback it only costs CPU on both ends (a search reading
        # vectors returns about 1.5 MB: ~25 ms more per such search with it, on 2 cores)
        "http_compress": url.hostname not in ("127.0.0.1", "localhost", "::1"),
        "pool_maxsize": POOL_SIZE,  # queries in the API's threads and the indexer at once, each on a kept connection
    }
    if url.scheme == "https":
        options["verify_certs"] = settings.opensearch_verify_certs
        if settings.opensearch_ca_certs is not None:
            options["ca_certs"] = str(settings.opensearch_ca_certs)
    if settings.opensearch_sigv4_service is not None:
        import botocore.session  # the AWS credentials of the environment (role, profile, variables)
        from opensearchpy import AWSV4SignerAuth

        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise EngineUnavailable("KENSAKU_OPENSEARCH_SIGV4_SERVICE is set but no AWS credentials were found")
        options["http_auth"] = AWSV4SignerAuth(credentials, settings.opensearch_region,
                                               settings.opensearch_sigv4_service)
        options["connection_class"] = RequestsHttpConnection
    elif settings.opensearch_username is not None:
        password = settings.opensearch_password.get_secret_value() if settings.opensearch_password else ""
        options["http_auth"] = (settings.opensearch_username, password)
    return OpenSearch(**options)


def is_unavailable(error: TransportError) -> bool:
    """A failure of the cluster or of our access to it rather than of the request: no answer, 5xx, 429
    (too busy), 401 / 403 (credentials refused: documents wait until they are fixed)."""
    status = error.status_code
    return not isinstance(status, int) or status >= 500 or status in (401, 403, 429)


@contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Turn the cluster's failures while doing ``what`` into ``EngineUnavailable``."""
    try:
        yield
    except OpenSearchConnectionError as error:  # unreachable, refused, timed out (a TransportError too)
        raise EngineUnavailable(f"{what}: OpenSearch did not answer ({error.error})") from error
    except TransportError as error:
        if is_unavailable(error):
            raise EngineUnavailable(f"{what}: OpenSearch answered {error.status_code} ({error.error})") from error
        raise


def shards_missing(result: dict[str, Any]) -> str | None:
    """How many of the index's shards answered a search or count, when not all did (a primary lost with
    no replica left: OpenSearch then answers 200 with partial results); None when all did."""
    shards = result.get("_shards", {})
    answered = int(shards.get("successful", 0)) + int(shards.get("skipped", 0))
    return f"{answered} of {shards['total']} shards answered" if answered < int(shards.get("total", 0)) else None


def complete(result: dict[str, Any], what: str) -> dict[str, Any]:
    """``result`` of a search or count, unless some shards did not answer: partial results would silently
    drop documents, so that is the engine's unavailability instead."""
    if (missing := shards_missing(result)) is not None:
        raise EngineUnavailable(f"{what}: {missing}")
    return result
