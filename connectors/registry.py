"""Which data source configurations a connector serves, and how one is built.

Kendra's TEMPLATE form: ``Configuration.TemplateConfiguration.Template`` =
``{"type": "FILESYSTEM" | "GITWIKI" | "S3", "syncMode": "FULL_CRAWL" | "FORCED_FULL_CRAWL",
"connectionConfiguration": {"repositoryEndpointMetadata": {...}}, "additionalProperties":
{"inclusionPatterns": [...], "exclusionPatterns": [...], ...}}``. Kendra's native ``S3`` type
(``S3Configuration``) is served by the same S3 connector. Any other type is stored by
CreateDataSource but refused by StartDataSourceSyncJob.

Each connector's endpoint metadata is read in one place, its ``*_config`` function here: the typed
configuration the source's connector is built from (``FilesystemConfig``, ``S3Config``, ...), or
ValueError with the message CreateDataSource answers. The same function serves the checks
(:func:`validate`, with the outbound policy) and the builders (:func:`build`), which wrap the
connector in :class:`~connectors.contract.StoredConnector` so that the runner trades checkpoints
as the JSON the job rows store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.contract import Connector, SourceMisconfigured, StoredConnector
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns

if TYPE_CHECKING:  # the source modules are imported when a connector is configured or built
    from connectors.sources.confluence import ConfluenceConfig
    from connectors.sources.filesystem import FilesystemConfig
    from connectors.sources.gitwiki import GitWikiConfig
    from connectors.sources.mediawiki import MediaWikiConfig
    from connectors.sources.s3 import S3Config
    from connectors.sources.webcrawler import WebCrawlerConfig

T = TypeVar("T")
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


def _require(spec: ConnectorSpec, *names: str) -> None:
    for name in names:
        value = spec.endpoint.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"A {spec.type} template needs connectionConfiguration.repositoryEndpointMetadata.{name} (a string)"
            )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _items(value: Any, message: str) -> list[Any]:
    """The items of a list setting (unset or empty: none); ValueError(message) for something that is no list."""
    try:
        return list(value or [])
    except TypeError:
        raise ValueError(message) from None


def _integer(value: Any, message: str) -> int:
    """``int(value)``, as the connectors always read these settings; ValueError(message) when it fails."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None


# -- each source's configuration, read and checked once from the endpoint metadata -----------------
# Each raises ValueError for a malformed endpoint; the outbound policy is applied by the checks below.


def filesystem_config(spec: ConnectorSpec) -> FilesystemConfig:
    from connectors.sources.filesystem import FilesystemConfig

    _require(spec, "path")
    if not spec.endpoint["path"].startswith("/"):
        raise ValueError("FILESYSTEM repositoryEndpointMetadata.path must be an absolute path")
    return FilesystemConfig(path=spec.endpoint["path"])


def gitwiki_config(spec: ConnectorSpec) -> GitWikiConfig:
    from connectors.sources.gitwiki import GitWikiConfig

    _require(spec, "repositoryUrl")
    e = spec.endpoint
    return GitWikiConfig(repository_url=e["repositoryUrl"], branch=_optional_str(e.get("branch")),
                         web_url=_optional_str(e.get("webUrl")))


def s3_config(spec: ConnectorSpec) -> S3Config:
    from connectors.sources.s3 import S3Config

    _require(spec, "bucketName")
    e = spec.endpoint
    endpoint = e.get("endpointUrl")
    if endpoint and not isinstance(endpoint, str):  # unset or empty: the server's own KENSAKU_S3_ENDPOINT_URL
        raise ValueError("S3 repositoryEndpointMetadata.endpointUrl must be an http(s) URL")
    return S3Config(
        bucket_name=e["bucketName"], prefix=str(e.get("prefix") or ""), region=str(e.get("region") or "us-east-1"),
        endpoint_url=endpoint or None, access_key_id=_optional_str(e.get("accessKeyId")),
        secret_access_key=_optional_str(e.get("secretAccessKey")), metadata_prefix=str(e.get("metadataPrefix") or ""),
    )


def webcrawler_config(spec: ConnectorSpec) -> WebCrawlerConfig:
    from connectors.sources.webcrawler import WebCrawlerConfig

    e = spec.endpoint
    wrong = ("A WEBCRAWLER template needs repositoryEndpointMetadata.seedUrls or siteMapUrls "
             "(lists of http(s) URLs)")
    seeds, sitemaps = _items(e.get("seedUrls"), wrong), _items(e.get("siteMapUrls"), wrong)
    urls = [*seeds, *sitemaps]
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise ValueError(wrong)
    depth = e.get("crawlDepth", 2)
    if not isinstance(depth, int) or not 0 <= depth <= 10:
        raise ValueError("WEBCRAWLER crawlDepth must be an integer from 0 to 10")
    rate = e.get("maxUrlsPerMinute", 300)
    if not isinstance(rate, int) or not 1 <= rate <= 300:
        raise ValueError("WEBCRAWLER maxUrlsPerMinute must be an integer from 1 to 300")
    links = _integer(e.get("maxLinksPerPage", 100), "WEBCRAWLER maxLinksPerPage must be an integer")
    return WebCrawlerConfig(seed_urls=tuple(seeds), site_map_urls=tuple(sitemaps), crawl_depth=depth,
                            max_links_per_page=links, max_urls_per_minute=rate,
                            crawl_subdomains=bool(e.get("crawlSubdomains", False)))


def mediawiki_config(spec: ConnectorSpec) -> MediaWikiConfig:
    from connectors.sources.mediawiki import MediaWikiConfig

    e = spec.endpoint
    api, dump = e.get("apiUrl"), e.get("dumpPath")
    if not (isinstance(api, str) and api) and not (isinstance(dump, str) and dump):
        raise ValueError("A MEDIAWIKI template needs repositoryEndpointMetadata.apiUrl (the wiki's api.php) "
                         "or dumpPath (an XML dump on this machine)")
    wrong = "MEDIAWIKI namespaces must be a list of integers"
    namespaces = tuple(_integer(n, wrong) for n in _items(e.get("namespaces") or [0], wrong))
    return MediaWikiConfig(
        api_url=api if isinstance(api, str) else "", dump_path=dump if isinstance(dump, str) else "",
        base_url=str(e.get("baseUrl") or ""), username=_optional_str(e.get("username")),
        password=_optional_str(e.get("password")), namespaces=namespaces,
    )


def confluence_config(spec: ConnectorSpec) -> ConfluenceConfig:
    from connectors.sources.confluence import ConfluenceConfig

    _require(spec, "baseUrl")
    e = spec.endpoint
    if not e["baseUrl"].startswith(("http://", "https://")):
        raise ValueError("CONFLUENCE baseUrl must be an http(s) URL such as https://example.atlassian.net/wiki")
    return ConfluenceConfig(base_url=e["baseUrl"], username=str(e.get("username") or ""),
                            api_token=str(e.get("apiToken") or ""),
                            space_keys=tuple(str(k) for k in _items(e.get("spaceKeys"),
                                                                    "CONFLUENCE spaceKeys must be a list of strings")))


def _configured(read: Callable[[ConnectorSpec], T], spec: ConnectorSpec) -> T:
    """A stored configuration, read again when a sync builds its connector: one that no longer reads
    (it was stored before a check existed) fails the sync as a misconfigured source."""
    try:
        return read(spec)
    except ValueError as error:
        raise SourceMisconfigured(str(error)) from None


# -- the outbound policy's checks, on sight (names are judged at connect time) ----------------------


def _check_filesystem(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    policy.check_path(filesystem_config(spec).path)


def _check_gitwiki(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    from connectors.sources.gitwiki import check_repository

    check_repository(gitwiki_config(spec).repository_url, policy)


def _check_s3(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    config = s3_config(spec)
    if config.endpoint_url:
        policy.check_url(config.endpoint_url)


def _check_webcrawler(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    config = webcrawler_config(spec)
    for url in (*config.seed_urls, *config.site_map_urls):
        policy.check_url(url)


def _check_mediawiki(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    config = mediawiki_config(spec)
    if config.api_url:
        policy.check_url(config.api_url)
    else:
        policy.check_path(config.dump_path)


def _check_confluence(spec: ConnectorSpec, policy: OutboundPolicy) -> None:
    policy.check_url(confluence_config(spec).base_url)


# -- builders: the source's connector, seen through stored (JSON) checkpoints ----------------------


def _filesystem(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.filesystem import FilesystemCheckpoint, FilesystemConnector

    config = _configured(filesystem_config, spec)
    return StoredConnector(
        FilesystemConnector(config.path, spec.patterns, options.max_document_bytes, options.outbound),
        FilesystemCheckpoint,
    )


def _gitwiki(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.gitwiki import GitWikiCheckpoint, GitWikiConnector

    config = _configured(gitwiki_config, spec)
    return StoredConnector(
        GitWikiConnector(config.repository_url, config.branch, spec.patterns, options.max_document_bytes,
                         config.web_url, options.cache_dir, outbound=options.outbound),
        GitWikiCheckpoint,
    )


def _s3(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.s3 import S3Checkpoint, S3Connector

    config = _configured(s3_config, spec)
    # The server's own KENSAKU_S3_ENDPOINT_URL is the operator's choice; an endpoint named by the
    # API caller is held to the outbound policy.
    return StoredConnector(
        S3Connector(
            bucket=config.bucket_name, prefix=config.prefix, patterns=spec.patterns,
            endpoint_url=config.endpoint_url or options.s3_endpoint_url, region=config.region,
            outbound=options.outbound if config.endpoint_url else None,
            access_key=config.access_key_id, secret_key=config.secret_access_key,
            max_bytes=options.max_document_bytes, metadata_prefix=config.metadata_prefix,
        ),
        S3Checkpoint,
    )


def _webcrawler(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.webcrawler import WebCrawlerCheckpoint, WebCrawlerConnector

    config = _configured(webcrawler_config, spec)
    return StoredConnector(
        WebCrawlerConnector(config, spec.patterns, options.max_document_bytes, options.outbound),
        WebCrawlerCheckpoint,
    )


def _mediawiki(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.mediawiki import MediaWikiCheckpoint, MediaWikiConnector

    config = _configured(mediawiki_config, spec)
    return StoredConnector(
        MediaWikiConnector(config, spec.patterns, options.max_document_bytes, options.outbound),
        MediaWikiCheckpoint,
    )


def _confluence(spec: ConnectorSpec, options: ConnectorOptions) -> Connector:
    from connectors.sources.confluence import ConfluenceCheckpoint, ConfluenceConnector

    config = _configured(confluence_config, spec)
    return StoredConnector(
        ConfluenceConnector(config, spec.patterns, options.max_document_bytes, options.outbound),
        ConfluenceCheckpoint,
    )


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
