"""A Kendra client of the query service, shared by the chat command and ``kensaku search``.

It speaks the Kendra protocol through botocore's own ``kendra`` client (SigV4 when the server asks
for it), so it works against Kensaku or against Amazon Kendra. Kensaku counts a query under the
channel named in the ``X-Kensaku-Channel`` header; a real Kendra endpoint ignores the header.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config

from services.chat.language import Language, language_filter

CHANNEL_HEADER = "X-Kensaku-Channel"
# What a result needs to be shown: link, date and source (Kensaku returns only the requested ones).
SHOWN_ATTRIBUTES = ["_source_uri", "_last_updated_at", "_created_at", "_data_source_id", "_category"]


class IndexNotChosen(Exception):
    """No index was named and the endpoint does not hold exactly one ACTIVE index."""


class SearchClient:
    """Query and SubmitFeedback against one Kendra endpoint.

    Args:
        endpoint: the Kendra endpoint URL (``http://127.0.0.1:8000`` for a local Kensaku).
        index_id: the index to search; None: the endpoint's only ACTIVE index (looked up once).
        channel: the analytics channel sent in ``X-Kensaku-Channel`` (web, chat or api).
        region, access_key, secret_key: for SigV4; a Kensaku server with auth off ignores them.
        timeout: seconds for connecting and for reading each response.
    """

    def __init__(self, endpoint: str, index_id: str | None = None, *, channel: str = "api",
                 region: str = "us-east-1", access_key: str | None = None, secret_key: str | None = None,
                 timeout: float = 10.0) -> None:
        session = botocore.session.get_session()
        credentials: dict[str, Any] = {}
        if access_key and secret_key:
            credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
        elif session.get_credentials() is None:
            # A local Kensaku with auth off ignores the signature, but botocore will not send unsigned.
            credentials = {"aws_access_key_id": "kensaku", "aws_secret_access_key": "kensaku"}
        self._client: Any = session.create_client(
            "kendra", endpoint_url=endpoint, region_name=region,
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard"}),
            **credentials,
        )

        def add_channel(request: Any, **_: Any) -> None:
            request.headers[CHANNEL_HEADER] = channel

        self._client.meta.events.register("before-sign.kendra.*", add_channel)
        self._index_id = index_id
        self._lock = threading.Lock()

    def index_id(self) -> str:
        """The index searched: the configured one, else the only ACTIVE index of the endpoint."""
        with self._lock:
            if self._index_id is None:
                active = [i["Id"] for i in self._client.list_indices().get("IndexConfigurationSummaryItems", [])
                          if i.get("Status") == "ACTIVE"]
                if len(active) != 1:
                    raise IndexNotChosen(
                        f"the endpoint has {len(active)} ACTIVE indexes; name the one to search")
                self._index_id = active[0]
            return self._index_id

    def search(self, text: str, language: Language, *, user_context: dict[str, Any] | None = None,
               page_size: int = 5) -> dict[str, Any]:
        """One Kendra Query in ``language`` ("all": Japanese and English); returns the Query response."""
        params: dict[str, Any] = {
            # Kendra refuses a QueryText over 1,000 characters; a pasted paragraph is cut, not refused.
            "IndexId": self.index_id(), "QueryText": text[:1000], "AttributeFilter": language_filter(language),
            "PageSize": page_size, "RequestedDocumentAttributes": SHOWN_ATTRIBUTES,
            # a "did you mean" for the reply that found nothing relevant
            "SpellCorrectionConfiguration": {"IncludeQuerySpellCheckSuggestions": True},
        }
        if user_context:
            params["UserContext"] = user_context
        response: dict[str, Any] = self._client.query(**params)
        response.pop("ResponseMetadata", None)
        return response

    def vote(self, index_id: str, query_id: str, result_id: str, relevant: bool) -> None:
        """SubmitFeedback: one RELEVANT / NOT_RELEVANT vote on a result."""
        self._client.submit_feedback(IndexId=index_id, QueryId=query_id, RelevanceFeedbackItems=[
            {"ResultId": result_id, "RelevanceValue": "RELEVANT" if relevant else "NOT_RELEVANT"}])
