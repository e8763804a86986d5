"""MEDIAWIKI sources: the Action API of a real MediaWiki (Debian's `mediawiki` package on SQLite,
served by `php -S` on a free port, as in ../shared/docs/test-servers.md), and the XML dump import of
../shared/data/corpora/mediawiki-ja.xml."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import JA, ROLE, SHARED, free_port, ids_of, wait_for
from tests.sync_helpers import metrics, sync, template

MW = Path("/usr/share/mediawiki")
BOT_USER, BOT_PASSWORD = "Admin@ci", "0123456789abcdef0123456789abcdef"
DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="ja">
  <siteinfo><sitename>SourceWiki</sitename><dbname>sourcewiki</dbname><case>first-letter</case>
    <namespaces><namespace key="0" case="first-letter" /><namespace key="14" case="first-letter">カテゴリ</namespace>
    </namespaces></siteinfo>
  <page><title>東京</title><ns>0</ns><id>101</id>
    <revision><id>1001</id><timestamp>2024-02-01T12:00:00Z</timestamp><contributor><username>Yamada</username>
      </contributor><model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">'''東京'''は日本の首都。[[Category:日本の都市]]</text></revision></page>
  <page><title>京都</title><ns>0</ns><id>102</id>
    <revision><id>1002</id><timestamp>2024-02-02T12:00:00Z</timestamp><contributor><username>Yamada</username>
      </contributor><model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">'''京都'''は古都である。寺院が多い。</text></revision></page>
  <page><title>大阪</title><ns>0</ns><id>103</id>
    <revision><id>1003</id><timestamp>2024-02-03T12:00:00Z</timestamp><contributor><username>Yamada</username>
      </contributor><model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">'''大阪'''は商業の街で、たこ焼きが名物。</text></revision></page>
</mediawiki>
"""


@pytest.fixture(scope="module")
def mediawiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (shutil.which("php") and (MW / "maintenance" / "install.php").exists()):
        pytest.skip("apt-get install mediawiki php-sqlite3 php-cli php8.2-cgi mini-httpd")
    d = tmp_path_factory.mktemp("wiki")
    port = free_port()
    env = {**os.environ, "MW_CONFIG_FILE": str(d / "LocalSettings.php")}

    def php(*args: str) -> None:
        subprocess.run(["php", *args], env=env, check=True, capture_output=True, timeout=120)

    (d / "data").mkdir()
    php(str(MW / "maintenance/install.php"), "--quiet", "--dbtype", "sqlite", "--dbpath", str(d / "data"),
        "--dbname", "wiki", "--server", f"http://127.0.0.1:{port}", "--scriptpath", "", "--lang", "ja",
        "--pass", "Admin-pass-12345", "--confpath", str(d), "--skins", "Vector", "TestWiki", "Admin")
    with (d / "LocalSettings.php").open("a") as f:
        f.write("$wgRCMaxAge = 20 * 365 * 86400;\n$wgShowExceptionDetails = true;\n")
    (d / "dump.xml").write_text(DUMP)
    php(str(MW / "maintenance/importDump.php"), "--quiet", str(d / "dump.xml"))
    php(str(MW / "maintenance/rebuildrecentchanges.php"))
    php(str(MW / "maintenance/createBotPassword.php"), "--appid", "ci", "--grants",
        "basic,highvolume,editpage,createeditmovepage,delete", "Admin", BOT_PASSWORD.split("@")[-1])
    log = (d / "server.log").open("wb")
    proc = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(MW)],
                            env={**env, "PHP_CLI_SERVER_WORKERS": "2"}, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api.php"
    try:
        wait_for(lambda: _ok(f"{api}?action=query&meta=siteinfo&format=json"), 30, "MediaWiki")
        yield api
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Wiki:
    """An editing session of the bot user (login, CSRF token)."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.http = httpx.Client(timeout=30)
        token = self.call(action="query", meta="tokens", type="login")["query"]["tokens"]["logintoken"]
        assert self.call(action="login", lgname=BOT_USER, lgpassword=BOT_PASSWORD.split("@")[-1],
                         lgtoken=token)["login"]["result"] == "Success"
        self.csrf = self.call(action="query", meta="tokens")["query"]["tokens"]["csrftoken"]

    def call(self, **params: str) -> Any:
        return self.http.post(self.api, data={**params, "format": "json", "formatversion": "2"}).json()

    def titles(self) -> list[str]:
        return [p["title"] for p in self.call(action="query", list="allpages", aplimit="max")["query"]["allpages"]]


def _source(kendra: Any, index: str, name: str, **endpoint: Any) -> str:
    ds: str = kendra.create_data_source(IndexId=index, Name=name, Type="TEMPLATE", RoleArn=ROLE,
                                        Configuration=template("MEDIAWIKI", **endpoint))["Id"]
    return ds


def test_mediawiki_api_source_follows_edits_and_deletions(kendra: Any, new_index: Any, mediawiki: str) -> None:
    wiki = Wiki(mediawiki)
    pages = wiki.titles()
    index = new_index()
    ds = _source(kendra, index, "wiki", apiUrl=mediawiki, username=BOT_USER, password=BOT_PASSWORD.split("@")[-1])
    job = sync(kendra, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": len(pages), "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": len(pages)}
    r = kendra.query(IndexId=index, QueryText="首都", AttributeFilter=JA,
                     RequestedDocumentAttributes=["_category", "_authors", "_source_uri"])
    tokyo = r["ResultItems"][0]
    attrs = {a["Key"]: a["Value"] for a in tokyo["DocumentAttributes"]}
    assert tokyo["DocumentTitle"]["Text"] == "東京"
    assert attrs["_category"] == {"StringValue": "日本の都市"}
    assert tokyo["DocumentURI"].startswith(mediawiki.rsplit("/", 1)[0])

    wiki.call(action="edit", title="京都", appendtext="\n\n嵐山ではモモンガが見られる。", token=wiki.csrf)
    wiki.call(action="edit", title="名古屋", text="'''名古屋'''はひつまぶしの街。", token=wiki.csrf)
    wiki.call(action="delete", title="大阪", reason="test", token=wiki.csrf)
    job = sync(kendra, index, ds)
    assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 2}, job
    assert len(ids_of(kendra.query(IndexId=index, QueryText="モモンガ", AttributeFilter=JA))) == 1
    assert len(ids_of(kendra.query(IndexId=index, QueryText="ひつまぶし", AttributeFilter=JA))) == 1
    assert ids_of(kendra.query(IndexId=index, QueryText="たこ焼き", AttributeFilter=JA)) == []


def test_mediawiki_wrong_password_fails_the_job(kendra: Any, new_index: Any, mediawiki: str) -> None:
    index = new_index()
    job = sync(kendra, index, _source(kendra, index, "bad", apiUrl=mediawiki, username=BOT_USER, password="wrong"))
    assert (job["Status"], job["DataSourceErrorCode"]) == ("FAILED", "CredentialsRejected"), job


def test_mediawiki_xml_dump_import(kendra: Any, new_index: Any) -> None:
    dump = SHARED / "data" / "corpora" / "mediawiki-ja.xml"
    pages = dump.read_text().count("<page>")
    index = new_index()
    ds = _source(kendra, index, "dump", dumpPath=str(dump), baseUrl="https://wiki.example.com/wiki")
    job = sync(kendra, index, ds, timeout=300)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job)["Added"] == pages
    r = kendra.query(IndexId=index, QueryText="マーラー 交響曲", AttributeFilter=JA,
                     RequestedDocumentAttributes=["_authors"])
    top = r["ResultItems"][0]
    assert top["DocumentTitle"]["Text"] == "グスタフ・マーラー"
    assert top["DocumentURI"] == "https://wiki.example.com/wiki/%E3%82%B0%E3%82%B9%E3%82%BF%E3%83%95%E3%83%BB" \
                                 "%E3%83%9E%E3%83%BC%E3%83%A9%E3%83%BC"
    assert "'''" not in top["DocumentExcerpt"]["Text"] and "[[" not in top["DocumentExcerpt"]["Text"]
    assert metrics(sync(kendra, index, ds))["Added"] == 0
