"""The connectors' outbound policy (connectors/outbound.py): which addresses and local folders a data
source may reach, judged by CreateDataSource where the configuration says it (paths, literal addresses)
and at connect time otherwise (names), each name resolved once and connected to at the checked address.

Through real servers: ``kensaku serve`` with the product's defaults (``outbound={}``: public addresses
only, no local folder) and with the tests' policy (loopback and the temporary folder allowed); local
HTTP servers that record every request, so "refused" also means "never contacted". The DNS-rebinding
tests stub the resolver (no test may own a real name) and check that the connection goes to the address
that was checked.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.contract import Failure, ItemFailed, Upsert
from connectors.outbound import ROOTS_SETTING, OutboundPolicy, TargetRefused
from connectors.patterns import Patterns
from connectors.sources.gitwiki import GitWikiConnector
from connectors.sources.webcrawler import WebCrawlerConfig, WebCrawlerConnector
from tests.conftest import ROLE, Server, make_client, wait_for
from tests.sync_helpers import git, metrics, sync, template

# ---------------------------------------------------------------------------------------------------
# Local HTTP servers that record what reaches them
# ---------------------------------------------------------------------------------------------------


class Recorder:
    """An HTTP server on ``host`` (port 0: any) answering ``routes`` (path -> (status, headers, body),
    else 200 "ok") and recording (path, Host header, Authorization header) of every request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 routes: dict[str, tuple[int, dict[str, str], bytes]] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.routes = routes or {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a second request may reuse the connection

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                recorder.requests.append((self.path, self.headers.get("Host"), self.headers.get("Authorization")))
                status, headers, body = recorder.routes.get(self.path, (200, {"Content-Type": "text/html"},
                                                                        b"<html><body>ok</body></html>"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def stub_resolver(answers: dict[str, list[list[str]]]) -> tuple[Callable[[str, int], list[str]], list[str]]:
    """A resolver answering each name's lists in turn (the last one again), and the names it was asked."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        lists = answers[host]
        return lists.pop(0) if len(lists) > 1 else lists[0]

    return resolve, asked


# ---------------------------------------------------------------------------------------------------
# The policy itself
# ---------------------------------------------------------------------------------------------------

REFUSED_BY_DEFAULT = [
    "127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "017700000001", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0",
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "[fc00::1]", "169.254.1.1", "[fe80::1]", "100.64.0.1",
    "100.127.255.254", "224.0.0.1", "[ff02::1]", "240.0.0.1", "169.254.169.254", "[fd00:ec2::254]",
    "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::]",
]


@pytest.mark.parametrize("host", REFUSED_BY_DEFAULT)
def test_default_policy_refuses_every_address_that_is_not_public(host: str) -> None:
    with pytest.raises(TargetRefused, match="refused"):
        OutboundPolicy().check_url(f"http://{host}:8080/api.php")


def test_default_policy_allows_public_addresses_and_leaves_names_to_connect_time() -> None:
    policy = OutboundPolicy()
    policy.check_url("https://93.184.216.34/wiki")
    policy.check_url("http://[2606:4700::1111]/")
    policy.check_url("https://wiki.example.com/api.php")  # a name: judged when it is resolved
    for url in ("file:///etc/passwd", "ftp://example.com/", "http:///nohost", "gopher://example.com/"):
        with pytest.raises(TargetRefused):
            policy.check_url(url)


def test_cloud_metadata_addresses_stay_refused_whatever_networks_are_allowed() -> None:
    policy = OutboundPolicy.parse(["public", "0.0.0.0/0", "::/0", "169.254.0.0/16"])
    for host in ("169.254.169.254", "[fd00:ec2::254]", "[::ffff:169.254.169.254]", "169.254.170.2"):
        with pytest.raises(TargetRefused, match="metadata"):
            policy.check_url(f"http://{host}/latest/meta-data/")
    policy.check_url("http://10.0.0.1/")
    policy.check_url("http://127.0.0.1/")
    policy.check_url("http://169.254.1.1/")


def test_allowed_networks_open_only_what_they_list() -> None:
    policy = OutboundPolicy.parse(["10.0.0.0/8"])  # without "public": only this network
    policy.check_url("http://10.20.30.40/")
    for host in ("93.184.216.34", "192.168.0.1", "127.0.0.1"):
        with pytest.raises(TargetRefused):
            policy.check_url(f"http://{host}/")


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    resolver, _ = stub_resolver({"mixed.test": [["93.184.216.34", "127.0.0.1"]]})
    policy = dataclasses.replace(OutboundPolicy(), resolver=resolver)
    with pytest.raises(TargetRefused, match=r"mixed.test: 127.0.0.1 is a loopback address"):
        policy.resolve("mixed.test", 80)


def test_local_roots_are_judged_after_links_and_dotdot_are_resolved(tmp_path: Path) -> None:
    root = tmp_path / "share"
    (root / "docs").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link-out").symlink_to(tmp_path / "outside")
    policy = OutboundPolicy.parse(["public"], [root])
    assert policy.check_path(root / "docs") == (root / "docs").resolve()
    for bad in (root / "link-out", f"{root}/docs/../../outside", "/", "/etc"):
        with pytest.raises(TargetRefused, match="not below the allowed local roots"):
            policy.check_path(bad)
    with pytest.raises(TargetRefused, match="absolute"):
        policy.check_path("docs")
    with pytest.raises(TargetRefused, match=ROOTS_SETTING):
        OutboundPolicy().check_path(root / "docs")  # no roots: every path refused, naming the setting


# ---------------------------------------------------------------------------------------------------
# Resolve once, connect to the checked address (DNS rebinding)
# ---------------------------------------------------------------------------------------------------


def test_pinned_transport_connects_to_the_checked_address_and_keeps_the_host_header() -> None:
    with Recorder("127.0.0.1") as site:
        # A rebinding name: an allowed address for the first connection, a private one after.
        resolver, asked = stub_resolver({"rebind.test": [["127.0.0.1"], ["10.9.9.9"]]})
        policy = dataclasses.replace(OutboundPolicy.parse(["127.0.0.1/32"]), resolver=resolver)
        with policy.http_client() as client:
            response = client.get(f"http://rebind.test:{site.port}/page")
            assert response.status_code == 200
            assert client.get(f"http://rebind.test:{site.port}/again").status_code == 200  # same connection
        # "rebind.test" has no real address: the request arrived because the checked one was used.
        assert asked == ["rebind.test"]
        assert site.requests == [("/page", f"rebind.test:{site.port}", None),
                                 ("/again", f"rebind.test:{site.port}", None)]
        with policy.http_client() as client, pytest.raises(TargetRefused, match="10.9.9.9 is a private address"):
            client.get(f"http://rebind.test:{site.port}/third")  # a new connection resolves (and checks) again
        assert len(site.requests) == 2


def _certificate(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_pinned_transport_keeps_tls_server_name_and_certificate_check_of_the_name(tmp_path: Path) -> None:
    cert_file, key_file = _certificate("wiki.pinned.test", tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    with Recorder("127.0.0.1", tls=server_tls) as site:
        resolver, _ = stub_resolver({"wiki.pinned.test": [["127.0.0.1"]]})
        policy = dataclasses.replace(OutboundPolicy.parse(["127.0.0.0/8"]), resolver=resolver)
        client_tls = ssl.create_default_context(cafile=str(cert_file))
        with policy.http_client(verify=client_tls) as client:
            assert client.get(f"https://wiki.pinned.test:{site.port}/api.php").status_code == 200
        assert names == ["wiki.pinned.test"]  # SNI is the name, and the certificate was checked against it
        assert site.requests[0][1] == f"wiki.pinned.test:{site.port}"


def test_webcrawler_redirect_to_a_refused_address_is_not_followed() -> None:
    """crawlSubdomains puts docs.site.test in scope, but it resolves to a loopback address the policy
    does not allow: the redirect hop is checked like any connection and the page fails alone."""
    with Recorder("127.0.0.1") as site:
        with Recorder("127.0.0.2", site.port) as inner:
            site.routes["/index.html"] = (200, {"Content-Type": "text/html"},
                                          b'<html><body>home <a href="/moved.html">m</a></body></html>')
            site.routes["/moved.html"] = (302, {"Location": f"http://docs.site.test:{site.port}/secret.html"}, b"")
            resolver, _ = stub_resolver({"site.test": [["127.0.0.1"]], "docs.site.test": [["127.0.0.2"]]})
            policy = dataclasses.replace(OutboundPolicy.parse(["127.0.0.1/32"]), resolver=resolver)
            crawler = WebCrawlerConnector(WebCrawlerConfig(seed_urls=(f"http://site.test:{site.port}/index.html",),
                                                           crawl_subdomains=True), Patterns(), 1_000_000, policy)
            gen = crawler.changes(None, {})
            changes: list[Any] = []
            try:
                while True:
                    changes.append(next(gen))
            except StopIteration:
                pass
            upserts = [c.doc_id for c in changes if isinstance(c, Upsert)]
            failures = {c.doc_id: c.reason for c in changes if isinstance(c, Failure)}
            assert upserts == [f"http://site.test:{site.port}/index.html"]
            assert "127.0.0.2 is a loopback address" in failures[f"http://site.test:{site.port}/moved.html"]
            assert inner.requests == []
            with pytest.raises(ItemFailed, match="loopback"):
                crawler.fetch(Upsert(f"http://site.test:{site.port}/moved.html", "v",
                                     {"url": f"http://site.test:{site.port}/moved.html"}))


# ---------------------------------------------------------------------------------------------------
# Through a real server with the product's defaults
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict() -> Iterator[Any]:
    """A server with the product's outbound defaults: public addresses only, no local folder."""
    with tempfile.TemporaryDirectory(prefix="kensaku-outbound-") as tmp:
        server = Server(Path(tmp) / "data", outbound={}).start()
        try:
            client = make_client(server.url)
            index = client.create_index(Name="outbound", RoleArn=ROLE)["Id"]
            wait_for(lambda: client.describe_index(Id=index)["Status"] == "ACTIVE")
            yield client, index
        finally:
            server.stop()


STATICALLY_REFUSED = [
    ("FILESYSTEM", {"path": "/"}),
    ("FILESYSTEM", {"path": "/etc"}),
    ("FILESYSTEM", {"path": f"{tempfile.gettempdir()}/../etc"}),
    ("GITWIKI", {"repositoryUrl": "file:///etc"}),
    ("GITWIKI", {"repositoryUrl": tempfile.gettempdir()}),
    ("GITWIKI", {"repositoryUrl": "http://127.0.0.1:9418/wiki.git"}),
    ("GITWIKI", {"repositoryUrl": "git@10.0.0.5:team/wiki.git"}),
    ("MEDIAWIKI", {"apiUrl": "http://127.0.0.1:8080/w/api.php"}),
    ("MEDIAWIKI", {"apiUrl": "http://[::1]/w/api.php"}),
    ("MEDIAWIKI", {"dumpPath": "/etc/passwd"}),
    ("CONFLUENCE", {"baseUrl": "http://169.254.169.254/wiki", "username": "u", "apiToken": "t"}),
    ("CONFLUENCE", {"baseUrl": "http://2130706433/wiki", "username": "u", "apiToken": "t"}),
    ("S3", {"bucketName": "b", "endpointUrl": "http://127.1:9000"}),
    ("S3", {"bucketName": "b", "endpointUrl": "http://100.64.0.1:9000"}),
    ("WEBCRAWLER", {"seedUrls": ["http://192.168.1.1/"]}),
    ("WEBCRAWLER", {"seedUrls": ["https://example.com/"], "siteMapUrls": ["http://[fd00:ec2::254]/sitemap.xml"]}),
]


@pytest.mark.parametrize(("kind", "endpoint"), STATICALLY_REFUSED, ids=lambda v: v if isinstance(v, str) else "")
def test_create_data_source_refuses_paths_and_addresses_it_can_judge(strict: Any, kind: str,
                                                                     endpoint: dict[str, Any]) -> None:
    client, index = strict
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.create_data_source(IndexId=index, Name=f"refused-{os.urandom(4).hex()}", Type="TEMPLATE",
                                  RoleArn=ROLE, Configuration=template(kind, **endpoint))
    assert "refused" in raised.value.response["Error"]["Message"]


def test_names_resolving_to_loopback_fail_the_sync_before_any_connection(strict: Any) -> None:
    """``localhost`` cannot be judged on sight: the job fails with TargetRefused when the connector resolves
    it, and the server behind it never sees a request (nor Confluence's Basic credentials)."""
    client, index = strict
    with Recorder("127.0.0.1") as local:
        at = f"http://localhost:{local.port}"
        sources: dict[str, dict[str, Any]] = {
            "MEDIAWIKI": {"apiUrl": f"{at}/w/api.php", "username": "bot", "password": "secret"},
            "CONFLUENCE": {"baseUrl": f"{at}/wiki", "username": "bot@example.com", "apiToken": "secret"},
            "S3": {"bucketName": "b", "endpointUrl": at, "accessKeyId": "k", "secretAccessKey": "s"},
            "WEBCRAWLER": {"seedUrls": [f"{at}/index.html"]},
            "GITWIKI": {"repositoryUrl": f"{at}/wiki.git"},
        }
        for kind, endpoint in sources.items():
            ds = client.create_data_source(IndexId=index, Name=f"local-{kind.lower()}", Type="TEMPLATE",
                                           RoleArn=ROLE, Configuration=template(kind, **endpoint))["Id"]
            job = sync(client, index, ds)
            assert job["Status"] == "FAILED", (kind, job)
            assert job["DataSourceErrorCode"] == "TargetRefused", (kind, job)
            assert "loopback address" in job["ErrorMessage"] and "refused" in job["ErrorMessage"], (kind, job)
        assert local.requests == []


def test_the_replaced_webcrawler_setting_stops_the_server_with_a_pointer(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", {"KENSAKU_WEBCRAWLER_ALLOW_PRIVATE_ADDRESSES": "true"}, outbound={})
    with pytest.raises(RuntimeError, match="exited"):
        server.start()
    server.stop()


# ---------------------------------------------------------------------------------------------------
# Through a real server with the tests' policy (loopback and the temporary folder allowed)
# ---------------------------------------------------------------------------------------------------


def test_filesystem_root_linked_out_of_the_allowed_roots_is_refused(kendra: Any, new_index: Any,
                                                                    tmp_path: Path) -> None:
    index = new_index()
    (tmp_path / "etc-link").symlink_to("/etc")
    with pytest.raises(kendra.exceptions.ValidationException, match="resolving to /etc"):
        kendra.create_data_source(IndexId=index, Name="linked", Type="TEMPLATE", RoleArn=ROLE,
                                  Configuration=template("FILESYSTEM", path=str(tmp_path / "etc-link")))
    # A folder that becomes a link out after CreateDataSource: the sync checks again and fails.
    share = tmp_path / "share"
    share.mkdir()
    (share / "note.md").write_text("# note\n\nthe quokka page\n")
    ds = kendra.create_data_source(IndexId=index, Name="share", Type="TEMPLATE", RoleArn=ROLE,
                                   Configuration=template("FILESYSTEM", path=str(share)))["Id"]
    assert sync(kendra, index, ds)["Status"] == "SUCCEEDED"
    shutil.rmtree(share)
    share.symlink_to("/etc")
    job = sync(kendra, index, ds)
    assert job["Status"] == "FAILED" and job["DataSourceErrorCode"] == "TargetRefused", job
    assert "resolving to /etc" in job["ErrorMessage"]


@pytest.fixture
def http_wiki(tmp_path: Path) -> Iterator[str]:
    """A git repository of two Markdown pages served over git's dumb HTTP protocol by a plain file server
    on 127.0.0.1; yields its port."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "guide.md").write_text("# Guide\n\nThe pangolin handbook.\n")
    (work / "faq.md").write_text("# FAQ\n\nPangolin questions.\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "wiki")
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "wiki.git")], check=True,
                   capture_output=True)
    git(served / "wiki.git", "update-server-info")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield str(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_gitwiki_clones_over_http_from_the_checked_address(http_wiki: str, tmp_path: Path) -> None:
    """git is told the checked addresses (http.curloptResolve): a name only the policy's resolver knows
    is cloned from there, and a name resolving to a refused address is never cloned."""
    resolver, asked = stub_resolver({"wiki.rebind.test": [["127.0.0.1"]], "evil.test": [["10.0.0.7"]]})
    policy = dataclasses.replace(OutboundPolicy.parse(["127.0.0.1/32"]), resolver=resolver)
    wiki = GitWikiConnector(f"http://wiki.rebind.test:{http_wiki}/wiki.git", "main", Patterns(), 1_000_000,
                            cache_dir=tmp_path / "cache", outbound=policy)
    gen = wiki.changes(None, {})
    pages = []
    try:
        while True:
            pages.append(next(gen))
    except StopIteration:
        pass
    assert sorted(p.doc_id.rsplit("/", 1)[1] for p in pages) == ["faq.md", "guide.md"]
    assert asked == ["wiki.rebind.test"]
    evil = GitWikiConnector(f"http://evil.test:{http_wiki}/wiki.git", "main", Patterns(), 1_000_000,
                            cache_dir=tmp_path / "cache", outbound=policy)
    with pytest.raises(TargetRefused, match="10.0.0.7 is a private address"):
        next(evil.changes(None, {}))


def test_gitwiki_over_http_syncs_through_the_server(kendra: Any, new_index: Any, http_wiki: str) -> None:
    index = new_index()
    ds = kendra.create_data_source(
        IndexId=index, Name="http-wiki", Type="TEMPLATE", RoleArn=ROLE, Configuration=template(
            "GITWIKI", repositoryUrl=f"http://localhost:{http_wiki}/wiki.git", branch="main"))["Id"]
    job = sync(kendra, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job)["Added"] == 2


def test_webcrawler_does_not_follow_a_redirect_to_another_host(tmp_path: Path) -> None:
    """Through a real server allowing only 127.0.0.1: a page redirecting to a loopback host elsewhere
    (127.0.0.2) fails alone; that host never sees a request; the rest of the crawl goes on."""
    server = Server(tmp_path / "data", {"KENSAKU_CONNECTOR_ALLOWED_NETWORKS": "127.0.0.1/32"}).start()
    try:
        with Recorder("127.0.0.1") as site, Recorder("127.0.0.2") as elsewhere:
            site.routes["/index.html"] = (200, {"Content-Type": "text/html"}, (
                b'<html><body>wallaby home <a href="/away.html">a</a> <a href="/hop.html">h</a></body></html>'))
            site.routes["/away.html"] = (302, {"Location": f"http://127.0.0.2:{elsewhere.port}/secret.html"}, b"")
            site.routes["/hop.html"] = (301, {"Location": "/ok.html"}, b"")
            site.routes["/ok.html"] = (200, {"Content-Type": "text/html"}, b"<html><body>wallaby ok</body></html>")
            c = make_client(server.url)
            index = c.create_index(Name="web", RoleArn=ROLE)["Id"]
            wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
            ds = c.create_data_source(IndexId=index, Name="site", Type="TEMPLATE", RoleArn=ROLE, Configuration=template(
                "WEBCRAWLER", seedUrls=[f"http://127.0.0.1:{site.port}/index.html"]))["Id"]
            job = sync(c, index, ds)
            assert job["Status"] == "INCOMPLETE", job
            assert metrics(job)["Failed"] == 1 and "outside the crawl's sites" in job["ErrorMessage"], job
            assert elsewhere.requests == []
            assert ("/ok.html", f"127.0.0.1:{site.port}", None) in site.requests  # a same-site redirect is followed
    finally:
        server.stop()


def test_policy_of_sync_workers_is_built_from_the_same_settings() -> None:
    """Celery workers build their runner from their own Settings, as the API builds CreateDataSource's checks."""
    from services.datasources.launch import outbound_policy, runner_config
    from services.settings import Settings

    settings = Settings.model_validate({"connector_allowed_networks": "public,10.0.0.0/8",
                                        "connector_local_roots": tempfile.gettempdir()})
    policy = runner_config(settings).options.outbound
    assert policy == outbound_policy(settings)
    assert policy.public and policy.networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert policy.local_roots == (Path(tempfile.gettempdir()).resolve(),)


def test_confluence_sends_its_credentials_only_to_its_own_site() -> None:
    """A ``_links.next`` pointing to another host (which the policy would even allow) is refused before
    the Basic credentials could be sent there."""
    import json

    from connectors.sources.confluence import ConfluenceConfig, ConfluenceConnector

    with Recorder("127.0.0.1") as site, Recorder("127.0.0.2") as elsewhere:
        page = {"results": [], "_links": {"next": f"http://127.0.0.2:{elsewhere.port}/wiki/api/v2/spaces?cursor=x"}}
        site.routes["/wiki/api/v2/spaces?limit=250"] = (200, {"Content-Type": "application/json"},
                                                        json.dumps(page).encode())
        confluence = ConfluenceConnector(ConfluenceConfig(base_url=f"http://127.0.0.1:{site.port}/wiki", username="bot",
                                                          api_token="secret"), Patterns(), 1_000_000,
                                         OutboundPolicy.parse(["127.0.0.0/8"]))
        with pytest.raises(TargetRefused, match="outside"):
            next(confluence.changes(None, {}))
        assert [path for path, _, _ in site.requests] == ["/wiki/api/v2/spaces?limit=250"]
        assert site.requests[0][2] is not None  # its own site got the credentials
        assert elsewhere.requests == []


def test_s3_endpoint_is_checked_again_before_each_request() -> None:
    """botocore resolves the endpoint itself, so the S3 connector checks the name before the client is
    made and again before every request: a name that turns to a refused address stops there."""
    from connectors.sources.s3 import S3Connector

    with Recorder("127.0.0.1") as store:
        resolver, asked = stub_resolver({"s3.rebind.test": [["127.0.0.1"], ["10.0.0.9"]]})
        policy = dataclasses.replace(OutboundPolicy.parse(["127.0.0.1/32"]), resolver=resolver)
        s3 = S3Connector(bucket="b", prefix="", patterns=Patterns(), endpoint_url=f"http://s3.rebind.test:{store.port}",
                         region="us-east-1", access_key="k", secret_key="s", max_bytes=1_000_000, outbound=policy)
        with pytest.raises(TargetRefused, match="10.0.0.9 is a private address"):
            next(s3.changes(None, {}))
        assert asked == ["s3.rebind.test", "s3.rebind.test"]
        assert store.requests == []


def test_settings_refuse_what_the_policy_cannot_read() -> None:
    from pydantic import ValidationError

    from services.settings import Settings

    for given, named in (({"connector_allowed_networks": "public,intranet"}, "KENSAKU_CONNECTOR_ALLOWED_NETWORKS"),
                         ({"connector_local_roots": "shares/wiki"}, "KENSAKU_CONNECTOR_LOCAL_ROOTS"),
                         ({"webcrawler_allow_private_addresses": True}, "KENSAKU_CONNECTOR_ALLOWED_NETWORKS")):
        with pytest.raises(ValidationError, match=named):
            Settings.model_validate(given)
    settings = Settings.model_validate({"connector_allowed_networks": '["public", "fd12::/16"]',
                                        "connector_local_roots": "/srv/a, /srv/b"})
    assert settings.connector_allowed_networks == ["public", "fd12::/16"]
    assert settings.connector_local_roots == [Path("/srv/a"), Path("/srv/b")]
