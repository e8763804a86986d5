"""Spell correction and syntax warnings in Query responses (scenario 25), with a real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.query.spelling import damerau
from services.query.syntax import syntax_problem
from tests.conftest import JA, ROLE, Server, ids_of, make_client, put_and_wait, text_doc, wait_active, wait_for

SPELL = {"IncludeQuerySpellCheckSuggestions": True}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = Server(tmp_path_factory.mktemp("spelling"), env={"KENSAKU_SPELLING_REFRESH_SECONDS": "0"}).start()
    yield make_client(srv.url)
    srv.stop()


@pytest.fixture(scope="module")
def index_id(client: Any) -> str:
    index: str = client.create_index(Name="spelling", RoleArn=ROLE)["Id"]
    wait_active(client, index)
    put_and_wait(client, index, [
        text_doc("f1", "The financial statements of 2023 and the statements of cash flow."),
        text_doc("f2", "Quarterly financial statements are published in April."),
        text_doc("f3", "Auditors review the statements and the balance sheet."),
        text_doc("j1", "メーリングリストへの登録方法", lang="ja"),
        text_doc("j2", "メーリングリストの管理者に連絡してください", lang="ja"),
    ])
    return index


def test_misspelled_word_is_corrected_from_the_index_vocabulary(client: Any, index_id: str) -> None:
    r = client.query(IndexId=index_id, QueryText="financial statments", SpellCorrectionConfiguration=SPELL)
    assert r["SpellCorrectedQueries"][0]["SuggestedQueryText"] == "financial statements"
    assert r["SpellCorrectedQueries"][0]["Corrections"][0] == {
        "BeginOffset": 10, "EndOffset": 19, "Term": "statments", "CorrectedTerm": "statements"}
    # Results are those of the original query ("financial" still matches).
    assert set(ids_of(r)) == {"f1", "f2"}
    assert "SpellCorrectedQueries" not in client.query(IndexId=index_id, QueryText="financial statments")
    ok = client.query(IndexId=index_id, QueryText="financial statements", SpellCorrectionConfiguration=SPELL)
    assert ok.get("SpellCorrectedQueries", []) == []


def test_hyphenated_words_are_corrected_per_part_and_case_is_kept(client: Any, index_id: str) -> None:
    r = client.query(IndexId=index_id, QueryText="Finantial-statments 2023", SpellCorrectionConfiguration=SPELL)
    corrected = r["SpellCorrectedQueries"][0]
    assert corrected["SuggestedQueryText"] == "Financial-statements 2023"
    assert [(c["Term"], c["CorrectedTerm"]) for c in corrected["Corrections"]] == [
        ("Finantial", "Financial"), ("statments", "statements")]
    # Words too short, with digits, or too far from any index word are left alone.
    r = client.query(IndexId=index_id, QueryText="xq st4tements zzzzzzzz", SpellCorrectionConfiguration=SPELL)
    assert r.get("SpellCorrectedQueries", []) == []


def test_vocabulary_follows_puts_and_deletes(client: Any, index_id: str) -> None:
    def suggestion() -> str | None:
        r = client.query(IndexId=index_id, QueryText="kubrenetes", SpellCorrectionConfiguration=SPELL)
        found = r.get("SpellCorrectedQueries") or [{}]
        return found[0].get("SuggestedQueryText")

    assert suggestion() is None
    put_and_wait(client, index_id, [text_doc("k1", "Deploying kubernetes clusters"),
                                    text_doc("k2", "kubernetes operators explained")])
    assert suggestion() == "kubernetes"
    client.batch_delete_document(IndexId=index_id, DocumentIdList=["k1", "k2"])
    wait_for(lambda: suggestion() is None, 15, "correction gone after delete")


def test_words_of_documents_the_user_may_not_see_are_never_suggested(client: Any) -> None:
    index = client.create_index(Name="spelling-acl", RoleArn=ROLE)["Id"]
    wait_active(client, index)
    alice = [{"Name": "alice", "Type": "USER", "Access": "ALLOW"}]
    put_and_wait(client, index, [
        text_doc("z1", "The projectzephyr launch plan.", AccessControlList=alice),
        text_doc("z2", "The budget of projectzephyr for next year.", AccessControlList=alice),
        text_doc("z3", "The projectzephyr staffing, hidden from bob.", AccessControlList=[
            {"Name": "bob", "Type": "USER", "Access": "DENY"}]),
        text_doc("p1", "The quarterly report of the team."),
        text_doc("p2", "Quarterly goals and the launch calendar."),
    ])

    def corrected(text: str = "projectzephir quartely", **kwargs: Any) -> list[str]:
        r = client.query(IndexId=index, QueryText=text, SpellCorrectionConfiguration=SPELL, **kwargs)
        return [c["CorrectedTerm"] for q in r.get("SpellCorrectedQueries", []) for c in q["Corrections"]]

    as_bob = {"UserContext": {"UserId": "bob"}}
    assert corrected(**as_bob) == ["quarterly"]  # words of documents bob may see are still suggested
    assert corrected(AttributeFilter={"EqualsTo": {"Key": "_user_id", "Value": {"StringValue": "bob"}}}) == [
        "quarterly"]
    assert corrected(UserContext={"UserId": "carol"}) == ["quarterly"]  # one visible document is too few
    assert corrected("projectzephyr", **as_bob) == []
    assert corrected(UserContext={"UserId": "alice"}) == ["projectzephyr", "quarterly"]
    assert corrected() == ["projectzephyr", "quarterly"]  # without a UserContext a query sees every document


def test_japanese_long_vowel_variant_is_suggested_when_it_has_results(client: Any, index_id: str) -> None:
    r = client.query(IndexId=index_id, QueryText="メイリングリスト", AttributeFilter=JA,
                     SpellCorrectionConfiguration=SPELL)
    # No document has its words; hybrid search may still find the two pages by meaning: few results.
    assert r["TotalNumberOfResults"] < 3
    assert r["SpellCorrectedQueries"] == [{"SuggestedQueryText": "メーリングリスト", "Corrections": [
        {"BeginOffset": 0, "EndOffset": 8, "Term": "メイリングリスト", "CorrectedTerm": "メーリングリスト"}]}]
    found = client.query(IndexId=index_id, QueryText="メーリングリスト", AttributeFilter=JA,
                         SpellCorrectionConfiguration=SPELL)
    assert found["TotalNumberOfResults"] == 2 and found.get("SpellCorrectedQueries", []) == []


def test_broken_query_syntax_gets_a_warning_and_an_answer(client: Any, index_id: str) -> None:
    r = client.query(IndexId=index_id, QueryText="OR Hello")
    assert [w["Code"] for w in r["Warnings"]] == ["QUERY_LANGUAGE_INVALID_SYNTAX"] and r["Warnings"][0]["Message"]
    assert "Warnings" not in client.query(IndexId=index_id, QueryText="hello world")
    assert syntax_problem('"open quote') and syntax_problem("a AND") and syntax_problem("(a b")
    assert syntax_problem("a AND NOT b") is None and syntax_problem('"a b" (c)') is None


def test_edit_distance_counts_a_transposition_as_one() -> None:
    assert damerau("statments", "statements") == 1
    assert damerau("teh", "the") == 1
    assert damerau("kitten", "sitting") == 3


def test_vocabulary_is_read_in_the_background_by_default(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()  # KENSAKU_SPELLING_REFRESH_SECONDS at its default
    try:
        c = make_client(srv.url)
        index = c.create_index(Name="bg", RoleArn=ROLE)["Id"]
        wait_active(c, index)
        put_and_wait(c, index, [text_doc("s1", "statements"), text_doc("s2", "statements again")])

        def corrected() -> list[Any]:
            r = c.query(IndexId=index, QueryText="statments", SpellCorrectionConfiguration=SPELL)
            return list(r.get("SpellCorrectedQueries", []))

        assert wait_for(corrected, 15, "background vocabulary")[0]["SuggestedQueryText"] == "statements"
    finally:
        srv.stop()
