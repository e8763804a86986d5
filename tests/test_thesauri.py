"""Thesauri through boto3: the five operations with Kendra's shapes and statuses, synonym files from
local files and S3 (moto), synonyms found and highlighted as THESAURUS_SYNONYM in English and Japanese,
one-way rules, malformed files, updates, deletes, quotas, paging, a restart, ScoreConfidence, and the
built-in Japanese variants on and off."""

from __future__ import annotations

import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.engine.analysis import analyzer_for
from services.query.synonyms import builtin_variants, positions
from tests.conftest import JA, ROLE, WORDS_ONLY, Server, make_client, put_and_wait, text_doc, wait_active, wait_for

ARN = "arn:aws:kendra:us-east-1:123456789012:index/{}/thesaurus/{}"
LOADING = ("CREATING", "UPDATING")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the servers may read file:// thesauri from."""
    return tmp_path_factory.mktemp("thesaurus-files")


def env_for(files: Path, **more: str) -> dict[str, str]:
    return {"KENSAKU_LOCAL_FILES_ROOT": str(files), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", **more}


@pytest.fixture(scope="module")
def thesaurus_server(s3_url: str, files: Path, tmp_path_factory: pytest.TempPathFactory,
                     engine_env: dict[str, str]) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("thesauri"), {**engine_env, **env_for(files, KENSAKU_S3_ENDPOINT_URL=s3_url)})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(thesaurus_server: Server) -> Any:
    return make_client(thesaurus_server.url)


def new_index(client: Any) -> str:
    index_id: str = client.create_index(Name=f"t-{uuid.uuid4().hex[:8]}", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    return index_id


@pytest.fixture
def index(client: Any) -> Iterator[str]:
    index_id = new_index(client)
    yield index_id
    client.delete_index(Id=index_id)


def local(files: Path, text: str | bytes) -> dict[str, str]:
    """A thesaurus file in the allowed folder, as an S3Path."""
    path = files / f"{uuid.uuid4().hex}.txt"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return {"Bucket": "local", "Key": path.as_uri()}


def wait_read(client: Any, index_id: str, thesaurus_id: str) -> dict[str, Any]:
    """The thesaurus once its file has been read (not CREATING or UPDATING)."""
    def done() -> dict[str, Any] | None:
        found: dict[str, Any] = client.describe_thesaurus(IndexId=index_id, Id=thesaurus_id)
        return None if found["Status"] in LOADING else found

    result: dict[str, Any] = wait_for(done, 60, "thesaurus file read")
    return result


def create(client: Any, index_id: str, source: dict[str, str], **extra: Any) -> str:
    thesaurus_id: str = client.create_thesaurus(IndexId=index_id, Name=extra.pop("Name", "synonyms"), RoleArn=ROLE,
                                                SourceS3Path=source, **extra)["Id"]
    return thesaurus_id


def documents(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in response["ResultItems"] if item["Type"] == "DOCUMENT"]


def ids(response: dict[str, Any]) -> list[str]:
    return [item["DocumentId"] for item in documents(response)]


def marked(item: dict[str, Any], kind: str) -> list[str]:
    """The texts a result item highlights with ``kind`` (title and excerpt)."""
    out = []
    for part in ("DocumentTitle", "DocumentExcerpt"):
        value = item.get(part) or {"Text": "", "Highlights": []}
        out += [value["Text"][h["BeginOffset"]:h["EndOffset"]] for h in value["Highlights"] if h["Type"] == kind]
    return out


def item_of(response: dict[str, Any], doc_id: str) -> dict[str, Any]:
    return next(item for item in documents(response) if item["DocumentId"] == doc_id)


# -- the operations ---------------------------------------------------------------------------------


def test_a_thesaurus_is_created_described_listed_and_tagged(client: Any, index: str,
                                                            files: Path) -> None:
    text = "# office words\nlaptop, notebook computer\n\nML => machine learning\nx => x\n"
    source = local(files, text)
    thesaurus_id = create(client, index, source, Description="IT words", ClientToken="token-1",
                          Tags=[{"Key": "team", "Value": "search"}])
    first = client.describe_thesaurus(IndexId=index, Id=thesaurus_id)
    assert first["Status"] in ("CREATING", "ACTIVE")
    described = wait_read(client, index, thesaurus_id)
    assert described["Status"] == "ACTIVE" and "ErrorMessage" not in described
    assert (described["Id"], described["IndexId"], described["Name"]) == (thesaurus_id, index, "synonyms")
    assert described["Description"] == "IT words" and described["RoleArn"] == ROLE
    assert described["SourceS3Path"] == source
    # x => x maps a term to itself: no rule, no term (Kendra's documented behaviour).
    assert (described["FileSizeBytes"], described["TermCount"], described["SynonymRuleCount"]) == (
        len(text.encode()), 4, 2)
    assert described["CreatedAt"] <= described["UpdatedAt"]

    # ClientToken: the same request again is the same thesaurus; another one is over Kendra's quota.
    assert create(client, index, source, ClientToken="token-1") == thesaurus_id
    with pytest.raises(client.exceptions.ServiceQuotaExceededException, match="at most 1"):
        create(client, index, source, Name="second")
    listed = client.list_thesauri(IndexId=index)
    assert [(s["Id"], s["Name"], s["Status"]) for s in listed["ThesaurusSummaryItems"]] == [
        (thesaurus_id, "synonyms", "ACTIVE")]
    assert "NextToken" not in listed

    arn = ARN.format(index, thesaurus_id)
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "search"}]
    client.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    client.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    missing = "0" * 36
    for call in (lambda: client.describe_thesaurus(IndexId=index, Id=missing),
                 lambda: client.update_thesaurus(IndexId=index, Id=missing, Name="n"),
                 lambda: client.delete_thesaurus(IndexId=index, Id=missing),
                 lambda: client.list_thesauri(IndexId="1" * 36)):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            call()
    with pytest.raises(client.exceptions.ValidationException):
        create(client, index, source, Name="no spaces allowed")
    with pytest.raises(client.exceptions.ValidationException, match="another host"):
        create(client, index, {"Bucket": "local", "Key": "file://elsewhere/words.txt"})
    with pytest.raises(client.exceptions.ValidationException):
        client.list_thesauri(IndexId=index, MaxResults=101)

    client.delete_thesaurus(IndexId=index, Id=thesaurus_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_thesaurus(IndexId=index, Id=thesaurus_id)
    with pytest.raises(client.exceptions.ResourceUnavailableException):  # its tags went with it
        client.list_tags_for_resource(ResourceARN=arn)
    assert client.list_thesauri(IndexId=index)["ThesaurusSummaryItems"] == []


def test_a_file_from_s3(client: Any, index: str, s3_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket="thesauri")
    s3.put_object(Bucket="thesauri", Key="it.txt", Body=b"laptop, notebook computer\n")
    thesaurus_id = create(client, index, {"Bucket": "thesauri", "Key": "it.txt"})
    described = wait_read(client, index, thesaurus_id)
    assert (described["Status"], described["SynonymRuleCount"], described["TermCount"]) == ("ACTIVE", 1, 2)
    client.update_thesaurus(IndexId=index, Id=thesaurus_id, SourceS3Path={"Bucket": "thesauri", "Key": "gone.txt"})
    failed = wait_read(client, index, thesaurus_id)
    assert failed["Status"] == "ACTIVE_BUT_UPDATE_FAILED" and "NoSuchKey" in failed["ErrorMessage"]


def test_a_malformed_file_fails_with_its_line(client: Any, index: str, files: Path) -> None:
    cases = {
        "ok, fine\n\n# a comment\nbad => worse => worst\n": "Line 4: more than one =>",
        "ok, fine\n=> nothing on the left\n": "Line 2: no term on the left of =>",
        "ok, fine\nleft =>\n": "Line 2: no term on the right of =>",
        "a, --, b\n": "Line 1: the term '--' has no letter or digit",
        ", ".join(f"word{i}" for i in range(12)) + "\n": "Line 1: 'word0' has more than 10 synonyms",
        b"fine, ok\n" + b"\xff\xfe, x\n": "Line 2: the file is not UTF-8 text",
    }
    for text, message in cases.items():
        thesaurus_id = create(client, index, local(files, text))
        failed = wait_read(client, index, thesaurus_id)
        assert failed["Status"] == "FAILED" and message in failed["ErrorMessage"], (text, failed)
        assert (failed["FileSizeBytes"], failed["TermCount"], failed["SynonymRuleCount"]) == (0, 0, 0)
        client.delete_thesaurus(IndexId=index, Id=thesaurus_id)
    missing = create(client, index, {"Bucket": "local", "Key": (files / "none.txt").as_uri()})
    assert "No such file" in wait_read(client, index, missing)["ErrorMessage"]


# -- synonyms in queries ----------------------------------------------------------------------------


@pytest.mark.engines  # the synonyms' queries run on both engines
def test_english_synonyms_are_found_and_highlighted_and_one_way_rules_go_one_way(
        client: Any, index: str, files: Path) -> None:
    put_and_wait(client, index, [
        text_doc("laptop", "Every laptop is checked by the security team before use.", title="Laptop policy"),
        text_doc("notebook", "Notebook computers must be encrypted with a strong passphrase.", title="Encryption"),
        text_doc("paper", "Bring a paper notebook to the meeting; no computer is needed.", title="Meetings"),
        text_doc("ml", "Our ML platform trains the ranking models every night.", title="Platform"),
        text_doc("course", "An introduction to machine learning for beginners.", title="Course"),
    ])
    assert ids(client.query(IndexId=index, QueryText="laptop")) == ["laptop"]
    thesaurus_id = create(client, index, local(files, "laptop, notebook computer\nML => machine learning\n"))
    assert wait_read(client, index, thesaurus_id)["Status"] == "ACTIVE"

    r = client.query(IndexId=index, QueryText="laptop")
    # The page's own word first; the synonym is a phrase, so a paper notebook and a computer apart do not match.
    assert ids(r) == ["laptop", "notebook"]
    assert marked(item_of(r, "laptop"), "STANDARD") == ["Laptop", "laptop"]
    assert marked(item_of(r, "notebook"), "THESAURUS_SYNONYM") == ["Notebook computers"]
    assert marked(item_of(r, "notebook"), "STANDARD") == []
    assert item_of(r, "notebook")["ScoreAttributes"]["ScoreConfidence"] in ("VERY_HIGH", "HIGH", "MEDIUM", "LOW")
    # Both ways: several words on the left match the query's adjacent words.
    r = client.query(IndexId=index, QueryText="notebook computer")
    assert {"notebook", "laptop"} <= set(ids(r))
    assert marked(item_of(r, "laptop"), "THESAURUS_SYNONYM") == ["Laptop", "laptop"]
    # Retrieve searches the same synonyms.
    assert "notebook" in {p["DocumentId"] for p in client.retrieve(IndexId=index, QueryText="laptop")["ResultItems"]}

    # One way: ML also searches "machine learning", "machine learning" does not search ML.
    r = client.query(IndexId=index, QueryText="ML")
    assert ids(r) == ["ml", "course"]
    assert marked(item_of(r, "course"), "THESAURUS_SYNONYM") == ["machine learning"]
    assert ids(client.query(IndexId=index, QueryText="machine learning")) == ["course"]


@pytest.mark.engines  # the synonyms' queries run on both engines
def test_japanese_synonyms_are_found_and_highlighted(client: Any, index: str, files: Path) -> None:
    put_and_wait(client, index, [
        text_doc("telework", "在宅勤務をする日は前日までに上長へ申請してください。", title="在宅勤務の申請", lang="ja"),
        text_doc("expense", "立替金の精算は毎月25日までに行います。", title="締め日", lang="ja"),
        text_doc("canteen", "社員食堂は正午に開きます。", title="食堂", lang="ja"),
    ])
    assert ids(client.query(IndexId=index, QueryText="テレワーク", AttributeFilter=JA)) == []
    # A Japanese line is analysed like a Japanese query: 立替金の精算 is the phrase 立替金 / の / 精算.
    rules = "テレワーク, 在宅勤務, リモートワーク\n経費精算 => 立替金の精算\n"
    thesaurus_id = create(client, index, local(files, rules))
    assert wait_read(client, index, thesaurus_id)["Status"] == "ACTIVE"

    r = client.query(IndexId=index, QueryText="テレワーク", AttributeFilter=JA)
    assert ids(r) == ["telework"]
    assert marked(r["ResultItems"][0], "THESAURUS_SYNONYM") == ["在宅勤務", "在宅勤務"]
    r = client.query(IndexId=index, QueryText="経費精算", AttributeFilter=JA)
    assert ids(r) == ["expense"]
    assert marked(r["ResultItems"][0], "THESAURUS_SYNONYM") == ["立替金の精算"]
    # An English query (English pages only, Kendra's default) is not taken to Japanese pages by a rule.
    assert ids(client.query(IndexId=index, QueryText="テレワーク")) == []


def test_an_update_replaces_the_rules_and_a_failed_one_keeps_them(client: Any, index: str,
                                                                   files: Path) -> None:
    put_and_wait(client, index, [
        text_doc("car", "The car park opens at seven.", title="Parking"),
        text_doc("auto", "Automobile insurance is renewed every year.", title="Insurance"),
    ])
    thesaurus_id = create(client, index, local(files, "car, automobile\n"))
    wait_read(client, index, thesaurus_id)
    assert ids(client.query(IndexId=index, QueryText="car")) == ["car", "auto"]

    second = local(files, "vehicle, automobile\nlorry => truck\n")
    client.update_thesaurus(IndexId=index, Id=thesaurus_id, SourceS3Path=second, Description="v2")
    updated = wait_read(client, index, thesaurus_id)
    assert (updated["Status"], updated["SourceS3Path"], updated["Description"]) == ("ACTIVE", second, "v2")
    assert (updated["SynonymRuleCount"], updated["TermCount"]) == (2, 4)
    assert ids(client.query(IndexId=index, QueryText="car")) == ["car"]
    assert ids(client.query(IndexId=index, QueryText="vehicle")) == ["auto"]

    client.update_thesaurus(IndexId=index, Id=thesaurus_id, SourceS3Path=local(files, "a => b => c\n"))
    failed = wait_read(client, index, thesaurus_id)
    assert failed["Status"] == "ACTIVE_BUT_UPDATE_FAILED" and "Line 1" in failed["ErrorMessage"]
    assert (failed["SynonymRuleCount"], failed["TermCount"]) == (2, 4)  # the rules in effect
    assert ids(client.query(IndexId=index, QueryText="vehicle")) == ["auto"]
    # A new name only: the file is not read again.
    client.update_thesaurus(IndexId=index, Id=thesaurus_id, Name="renamed")
    renamed = client.describe_thesaurus(IndexId=index, Id=thesaurus_id)
    assert (renamed["Name"], renamed["Status"]) == ("renamed", "ACTIVE_BUT_UPDATE_FAILED")
    assert client.list_thesauri(IndexId=index)["ThesaurusSummaryItems"][0]["Name"] == "renamed"


def test_a_deleted_thesaurus_stops_at_once_and_thesauri_go_with_their_index(
        client: Any, thesaurus_server: Server, files: Path) -> None:
    index = new_index(client)
    put_and_wait(client, index, [text_doc("auto", "Automobile insurance is renewed every year.")])
    thesaurus_id = create(client, index, local(files, "car, automobile\n"))
    wait_read(client, index, thesaurus_id)
    assert ids(client.query(IndexId=index, QueryText="car")) == ["auto"]
    client.delete_thesaurus(IndexId=index, Id=thesaurus_id)
    assert ids(client.query(IndexId=index, QueryText="car")) == []

    again = create(client, index, local(files, "car, automobile\n"))  # the quota is free again
    wait_read(client, index, again)

    def rows() -> int:
        with closing(sqlite3.connect(thesaurus_server.data_dir / "kensaku.sqlite3")) as db:
            return int(db.execute("SELECT COUNT(*) FROM thesauri WHERE index_id = ?", (index,)).fetchone()[0])

    assert rows() == 1
    client.delete_index(Id=index)
    wait_for(lambda: rows() == 0, what="the thesaurus deleted with its index")


def test_builtin_japanese_variants(client: Any, index: str) -> None:
    put_and_wait(client, index, [
        text_doc("parcel", "荷物の受け取りは一階の受付で行います。", title="荷物", lang="ja"),
        text_doc("security", "ぜい弱性の報告は情報システム部へ。", title="報告", lang="ja"),
    ])
    r = client.query(IndexId=index, QueryText="受取り", AttributeFilter=JA)
    assert ids(r) == ["parcel"]
    assert marked(r["ResultItems"][0], "THESAURUS_SYNONYM") == ["受け取り"]
    # 脆弱性 is one word for Sudachi, ぜい弱性 two: the variant is searched as their phrase.
    r = client.query(IndexId=index, QueryText="脆弱性", AttributeFilter=JA)
    assert ids(r) == ["security"] and marked(r["ResultItems"][0], "THESAURUS_SYNONYM") == ["ぜい弱性"]


def test_each_builtin_variant_line_names_words_the_analyzer_does_not_fold() -> None:
    """Only variants that normalisation does not already fold belong in variants_ja.txt."""
    ja = analyzer_for("ja")
    for rule in builtin_variants():
        forms = {positions(ja, term) for term in rule.inputs}
        assert len(forms) > 1, f"line {rule.line}: {rule.inputs} are one word for the analyzer already"


def test_thesauri_survive_a_restart(tmp_path: Path, files: Path) -> None:
    srv = Server(tmp_path / "data", env_for(files)).start()
    try:
        c = make_client(srv.url)
        index = new_index(c)
        put_and_wait(c, index, [text_doc("auto", "Automobile insurance is renewed every year.")])
        thesaurus_id = create(c, index, local(files, "car, automobile\n"), Tags=[{"Key": "k", "Value": "v"}])
        before = wait_read(c, index, thesaurus_id)
        srv.stop()
        srv.start()
        c = make_client(srv.url)
        after = c.describe_thesaurus(IndexId=index, Id=thesaurus_id)
        assert after == {**before, "ResponseMetadata": after["ResponseMetadata"]}
        r = c.query(IndexId=index, QueryText="car")
        assert ids(r) == ["auto"] and marked(r["ResultItems"][0], "THESAURUS_SYNONYM") == ["Automobile"]
        assert c.list_tags_for_resource(ResourceARN=ARN.format(index, thesaurus_id))["Tags"] == [
            {"Key": "k", "Value": "v"}]
    finally:
        srv.stop()


# -- a server with other settings -------------------------------------------------------------------


@pytest.fixture(scope="module")
def silent_s3() -> Iterator[str]:
    """An S3 endpoint that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(scope="module")
def configured(silent_s3: str, files: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server with the built-in variants off, 3 thesauri an index, an S3 store that never answers,
    and BM25 judged by the share of the query's words (conftest.WORDS_ONLY)."""
    srv = Server(tmp_path_factory.mktemp("configured"), env_for(
        files, KENSAKU_BUILTIN_VARIANTS="false", KENSAKU_MAX_THESAURI_PER_INDEX="3",
        KENSAKU_S3_ENDPOINT_URL=silent_s3, KENSAKU_S3_TIMEOUT_SECONDS="1", **WORDS_ONLY)).start()
    yield make_client(srv.url)
    srv.stop()


def test_builtin_variants_can_be_switched_off(configured: Any) -> None:
    index = new_index(configured)
    put_and_wait(configured, index, [text_doc("parcel", "荷物の受け取りは一階の受付で行います。", lang="ja")])
    assert ids(configured.query(IndexId=index, QueryText="受取り", AttributeFilter=JA)) == []
    assert ids(configured.query(IndexId=index, QueryText="受け取り", AttributeFilter=JA)) == ["parcel"]


def test_a_synonym_counts_for_its_word_in_score_confidence(configured: Any, files: Path) -> None:
    index = new_index(configured)
    put_and_wait(configured, index, [
        text_doc("notebook", "Notebook computers must be encrypted with a strong passphrase."),
        text_doc("canteen", "The canteen serves lunch at noon."),
    ])
    assert ids(configured.query(IndexId=index, QueryText="laptop encryption")) == ["notebook"]
    thesaurus_id = create(configured, index, local(files, "laptop, notebook computer\n"))
    wait_read(configured, index, thesaurus_id)
    # Judged by the share of the query's words: the synonym stands for "laptop", so the page holds all of it.
    for text in ("laptop", "laptop encryption"):
        r = configured.query(IndexId=index, QueryText=text)
        assert ids(r) == ["notebook"] and r["ResultItems"][0]["ScoreAttributes"]["ScoreConfidence"] == "VERY_HIGH"
    # A word nothing holds, whatever its synonyms, still finds nothing.
    assert ids(configured.query(IndexId=index, QueryText="存在しないキーワードぽよ")) == []


def test_list_thesauri_walks_every_page(configured: Any, files: Path) -> None:
    index = new_index(configured)
    made = [create(configured, index, local(files, f"a{n}, b{n}\n"), Name=f"t{n}") for n in range(3)]
    with pytest.raises(configured.exceptions.ServiceQuotaExceededException, match="at most 3"):
        create(configured, index, local(files, "a, b\n"), Name="t3")
    seen, token, pages = [], None, 0
    while True:
        page = configured.list_thesauri(IndexId=index, MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [s["Name"] for s in page["ThesaurusSummaryItems"]]
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert (seen, pages) == (["t0", "t1", "t2"], 2)
    assert len({wait_read(configured, index, t)["Status"] for t in made} - {"ACTIVE"}) == 0
    with pytest.raises(configured.exceptions.ValidationException, match="NextToken"):
        configured.list_thesauri(IndexId=index, NextToken="not-a-token")


def test_an_update_while_the_file_is_read_is_a_conflict(configured: Any, files: Path) -> None:
    index = new_index(configured)
    started = time.monotonic()
    thesaurus_id = create(configured, index, {"Bucket": "slow-bucket", "Key": "words.txt"})
    assert configured.describe_thesaurus(IndexId=index, Id=thesaurus_id)["Status"] == "CREATING"
    with pytest.raises(configured.exceptions.ConflictException, match="CREATING"):
        configured.update_thesaurus(IndexId=index, Id=thesaurus_id, SourceS3Path=local(files, "a, b\n"))
    failed = wait_read(configured, index, thesaurus_id)
    assert failed["Status"] == "FAILED" and "s3://slow-bucket/words.txt" in failed["ErrorMessage"]
    assert time.monotonic() - started < 30
    # A failed thesaurus takes a new file: it becomes ACTIVE.
    configured.update_thesaurus(IndexId=index, Id=thesaurus_id, SourceS3Path=local(files, "a, b\n"))
    assert wait_read(configured, index, thesaurus_id)["Status"] == "ACTIVE"
