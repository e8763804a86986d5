"""Which data source configurations a connector serves, and how one is built.

Kendra's TEMPLATE form: ``Configuration.TemplateConfiguration.Template`` =
``{"type": "FILESYSTEM" | "GITWIKI" | "S3", "syncMode": "FULL_CRAWL" | "FORCED_FULL_CRAWL",
"connectionConfiguration": {"repositoryEndpointMetadata": {...}}, "additionalProperties":
{"inclusionPatterns": [...], "exclusionPatterns": [...], ...}}``. Kendra's native ``S3`` type
(``S3Configuration``) is served by the same S3 connector. Any other type is stored by
CreateDataSource but refused by StartDataSourceSyncJob.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.contract import Connector, StoredConnector
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns

SYNC_MODES = ("FULL_CRAWL", "FORCED_FULL_CRAWL")


@dataclass(frozen=True, slots=True)
class ConnectorOptions:
    """What connectors take from the server's settings (never the global settings object)."""

    max_document_bytes: int = 50 * 1024 * 1024
    s3_endpoint_url: str | None = None
    cache_dir: Path | None = None  # mirrors of remote git repositories
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)  # where connectors may connect and read


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    type: str
    endpoint: dict[str, Any]
    additional: dict[str, Any] = field(default_factory=dict)
    forced: bool = False

    @property
    def patterns(self) -> Patterns:
        return Patterns(
            tuple(self.additional.get("inclusionPatterns") or ()), tuple(self.additional.get("exclusionPatterns") or ())
        )


def _filesystem(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.filesystem import FilesystemCheckpoint, FilesystemConnector

    return StoredConnector(
        FilesystemConnector(spec.endpoint["path"], spec.patterns, options.max_document_bytes, options.outbound),
        FilesystemCheckpoint,
    )


def _gitwiki(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.gitwiki import GitWikiCheckpoint, GitWikiConnector

    return StoredConnector(
        GitWikiConnector(
            spec.endpoint["repositoryUrl"], spec.endpoint.get("branch"), spec.patterns, options.max_document_bytes,
            spec.endpoint.get("webUrl"), options.cache_dir, outbound=options.outbound,
        ),
        GitWikiCheckpoint,
    )


def _s3(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.s3 import S3Checkpoint, S3Connector

    e = spec.endpoint
    # The server's own KENSAKU_S3_ENDPOINT_URL is the operator's choice; an endpoint named by the
    # API caller is held to the outbound policy.
    return StoredConnector(
        S3Connector(
            bucket=e["bucketName"], prefix=e.get("prefix", ""), patterns=spec.patterns,
            endpoint_url=e.get("endpointUrl") or options.s3_endpoint_url, region=e.get("region", "us-east-1"),
            outbound=options.outbound if e.get("endpointUrl") else None,
            access_key=e.get("accessKeyId"), secret_key=e.get("secretAccessKey"),
            max_bytes=options.max_document_bytes, metadata_prefix=e.get("metadataPrefix", ""),
        ),
        S3Checkpoint,
    )


def _require(spec: ConnectorSpec, *names: str) -> None:
    for name in names:
        value = spec.endpoint.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"A {spec.type} template needs connectionConfiguration.repositoryEndpointMetadata.{name} (a string)"
            )


def _check_filesystem(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    _require(spec, "path")
    if not spec.endpoint["path"].startswith("/"):
        raise ValueError("FILESYSTEM repositoryEndpointMetadata.path must be an absolute path")
    policy.check_path(spec.endpoint["path"])


def _check_gitwiki(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    from connectors.sources.gitwiki import check_repository

    _require(spec, "repositoryUrl")
    check_repository(spec.endpoint["repositoryUrl"], policy)


def _check_s3(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    _require(spec, "bucketName")
    endpoint = spec.endpoint.get("endpointUrl")
    if endpoint:  # unset or empty: the server's own KENSAKU_S3_ENDPOINT_URL
        if not isinstance(endpoint, str):
            raise ValueError("S3 repositoryEndpointMetadata.endpointUrl must be an http(s) URL")
        policy.check_url(endpoint)


def _webcrawler(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.webcrawler import WebCrawlerCheckpoint, WebCrawlerConnector

    return StoredConnector(
        WebCrawlerConnector(spec.endpoint, spec.patterns, options.max_document_bytes, options.outbound),
        WebCrawlerCheckpoint,
    )


def _check_webcrawler(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    urls = [*(spec.endpoint.get("seedUrls") or []), *(spec.endpoint.get("siteMapUrls") or [])]
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise ValueError("A WEBCRAWLER template needs repositoryEndpointMetadata.seedUrls or siteMapUrls "
                         "(lists of http(s) URLs)")
    depth = spec.endpoint.get("crawlDepth", 2)
    if not isinstance(depth, int) or not 0 <= depth <= 10:
        raise ValueError("WEBCRAWLER crawlDepth must be an integer from 0 to 10")
    rate = spec.endpoint.get("maxUrlsPerMinute", 300)
    if not isinstance(rate, int) or not 1 <= rate <= 300:
        raise ValueError("WEBCRAWLER maxUrlsPerMinute must be an integer from 1 to 300")
    for url in urls:
        policy.check_url(url)


def _mediawiki(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.mediawiki import MediaWikiCheckpoint, MediaWikiConnector

    return StoredConnector(
        MediaWikiConnector(spec.endpoint, spec.patterns, options.max_document_bytes, options.outbound),
        MediaWikiCheckpoint,
    )


def _check_mediawiki(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    api, dump = spec.endpoint.get("apiUrl"), spec.endpoint.get("dumpPath")
    if isinstance(api, str) and api:
        policy.check_url(api)
    elif isinstance(dump, str) and dump:
        policy.check_path(dump)
    else:
        raise ValueError("A MEDIAWIKI template needs repositoryEndpointMetadata.apiUrl (the wiki's api.php) "
                         "or dumpPath (an XML dump on this machine)")


def _confluence(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.confluence import ConfluenceCheckpoint, ConfluenceConnector

    return StoredConnector(
        ConfluenceConnector(spec.endpoint, spec.patterns, options.max_document_bytes, options.outbound),
        ConfluenceCheckpoint,
    )


def _check_confluence(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    _require(spec, "baseUrl")
    if not spec.endpoint["baseUrl"].startswith(("http://", "https://")):
        raise ValueError("CONFLUENCE baseUrl must be an http(s) URL such as https://example.atlassian.net/wiki")
    policy.check_url(spec.endpoint["baseUrl"])


BUILDERS: dict[str, Callable[[ConnectorSpec, ConnectorOptions], Connector]] = {
    "CONFLUENCE": _confluence,
    "MEDIAWIKI": _mediawiki,
    "WEBCRAWLER": _webcrawler,
    "FILESYSTEM": _filesystem,
    "GITWIKI": _gitwiki,
    "S3": _s3,
}
# Each raises ValueError for a malformed endpoint and TargetRefused (a SourceError) for one the
# outbound policy refuses on sight (a path, a literal address); names are judged at connect time.
CHECKS: dict[str, Callable[[ConnectorSpec, OutboundPolicy], None]] = {
    "CONFLUENCE": _check_confluence,
    "MEDIAWIKI": _check_mediawiki,
    "WEBCRAWLER": _check_webcrawler,
    "FILESYSTEM": _check_filesystem,
    "GITWIKI": _check_gitwiki,
    "S3": _check_s3,
}


def _template(configuration: dict[str, Any]) -> Any:
    return (configuration.get("TemplateConfiguration") or {}).get("Template")


def spec_of(kind: str, configuration: dict[str, Any]) -> ConnectorSpec | None:
    """The connector spec of a data source, or None when no connector serves it."""
    if kind == "S3" and "S3Configuration" in configuration:
        s3 = configuration["S3Configuration"]
        prefixes = s3.get("InclusionPrefixes") or [""]
        metadata = (s3.get("DocumentsMetadataConfiguration") or {}).get("S3Prefix", "")
        return ConnectorSpec("S3", {"bucketName": s3["BucketName"], "prefix": prefixes[0], "metadataPrefix": metadata},
                             {"inclusionPatterns": s3.get("InclusionPatterns"),
                              "exclusionPatterns": s3.get("ExclusionPatterns")})
    if kind != "TEMPLATE":
        return None
    template = _template(configuration)
    if not isinstance(template, dict) or template.get("type") not in BUILDERS:
        return None
    connection = template.get("connectionConfiguration") or {}
    endpoint = connection.get("repositoryEndpointMetadata") if isinstance(connection, dict) else None
    additional = template.get("additionalProperties") or {}
    return ConnectorSpec(
        type=template["type"],
        endpoint=endpoint if isinstance(endpoint, dict) else {},
        additional=additional if isinstance(additional, dict) else {},
        forced=template.get("syncMode") == "FORCED_FULL_CRAWL",
    )


def check_template(configuration: dict[str, Any]) -> None:
    """The Template form's own rules (any type). Raises ValueError."""
    template = _template(configuration)
    if not isinstance(template, dict):
        raise ValueError("A TEMPLATE data source needs Configuration.TemplateConfiguration.Template (an object)")
    if not isinstance(template.get("type"), str):
        raise ValueError("Template.type must be a string naming the connector (e.g. FILESYSTEM)")
    if template.get("syncMode", "FULL_CRAWL") not in SYNC_MODES:
        raise ValueError(f"Template.syncMode must be one of {', '.join(SYNC_MODES)}")
    connection = template.get("connectionConfiguration", {})
    if not isinstance(connection, dict) or not isinstance(connection.get("repositoryEndpointMetadata", {}), dict):
        raise ValueError("Template.connectionConfiguration.repositoryEndpointMetadata must be an object")
    additional = template.get("additionalProperties", {})
    if not isinstance(additional, dict):
        raise ValueError("Template.additionalProperties must be an object")
    for key in ("inclusionPatterns", "exclusionPatterns"):
        value = additional.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"Template.additionalProperties.{key} must be a list of glob strings")


def validate(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    """The connector's own checks of its endpoint metadata. Raises ValueError or TargetRefused."""
    CHECKS[spec.type](spec, policy)


def build(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    return BUILDERS[spec.type](spec, options)


def unsupported_message(kind: str, configuration: dict[str, Any]) -> str:
    if kind == "TEMPLATE":
        template = _template(configuration)
        name = template.get("type") if isinstance(template, dict) else None
        return (f"Data source template type {name!r} has no connector in this Kensaku server; "
                f"supported template types: {', '.join(sorted(BUILDERS))}")
    return (f"Data source type {kind} has no connector in this Kensaku server; use TEMPLATE with one of "
            f"{', '.join(sorted(BUILDERS))}, S3, or CUSTOM")
