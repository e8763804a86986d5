"""Results users can trust, through boto3 against a real server (default settings: hybrid, USE):
function words never match alone, nonsense finds nothing, compounds are found by their real words
both ways, ScoreConfidence is absolute (the best result of a poor query is not VERY_HIGH), and an
ANSWER comes only from a HIGH+ document that carries the question's words."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import JA, ids_of, put_and_wait, text_doc, wait_active

pytestmark = pytest.mark.engines

BOTH = {"OrAllFilters": [JA, {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "en"}}}]}
STRONG = ("VERY_HIGH", "HIGH")


def buckets(response: dict[str, Any]) -> list[str]:
    return [item["ScoreAttributes"]["ScoreConfidence"] for item in response["ResultItems"]]


def answers(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in response["ResultItems"] if item["Type"] == "ANSWER"]


@pytest.fixture(scope="module")
def handbook(kendra: Any) -> Any:
    """A small bilingual handbook: leave, expenses, a business trip to the Tokyo Metropolitan Government."""
    index_id = kendra.create_index(Name="handbook", RoleArn="arn:aws:iam::000000000000:role/kendra")["Id"]
    wait_active(kendra, index_id)
    put_and_wait(kendra, index_id, [
        text_doc("leave", "年次有給休暇は入社6か月後に10日付与されます。有給休暇の申請は勤怠システムから行います。"
                 "残りの日数は勤怠システムのマイページで確認できます。", title="有給休暇の取得", lang="ja"),
        text_doc("expenses", "経費精算の締め日は毎月25日です。領収書を添付して経理部に提出してください。",
                 title="経費精算ガイド", lang="ja"),
        text_doc("trip", "東京都庁への出張では、都庁第一本庁舎の受付で入館証を受け取ります。",
                 title="出張の手引き", lang="ja"),
        text_doc("kyoto", "京都府の府庁所在地は京都市です。京都への出張は新幹線を使います。",
                 title="京都出張", lang="ja"),
        text_doc("vpn", "The VPN client must be installed before you work from home. Open the VPN client and sign"
                 " in with your company account.", title="Working from home", lang="en"),
    ])
    yield index_id
    kendra.delete_index(Id=index_id)


@pytest.mark.parametrize("text", ["の", "は", "ですか", "のは", "the", "of the", "and"])
def test_function_words_alone_find_nothing(kendra: Any, handbook: str, text: str) -> None:
    r = kendra.query(IndexId=handbook, QueryText=text, AttributeFilter=BOTH)
    assert r["ResultItems"] == [] and r["TotalNumberOfResults"] == 0


def test_function_words_still_join_content_words(kendra: Any, handbook: str) -> None:
    r = kendra.query(IndexId=handbook, QueryText="経費精算の締め日", AttributeFilter=JA)
    assert ids_of(r)[0] == "expenses"
    excerpt = r["ResultItems"][0]["DocumentExcerpt"]
    shown = {excerpt["Text"][h["BeginOffset"]:h["EndOffset"]] for h in excerpt["Highlights"]}
    assert "の" not in shown  # particles are not highlighted as matches
    assert ids_of(kendra.query(IndexId=handbook, QueryText="the VPN client"))[0] == "vpn"


@pytest.mark.parametrize("text", ["ぽよぽよ", "zzqxvbn", "asdf qwer zxcv", "ほげほげふがふがぴよぴよ"])
def test_nonsense_finds_nothing(kendra: Any, handbook: str, text: str) -> None:
    r = kendra.query(IndexId=handbook, QueryText=text, AttributeFilter=BOTH)
    assert r["ResultItems"] == [], [(i["DocumentId"], i["ScoreAttributes"]) for i in r["ResultItems"]]


def test_compounds_are_found_by_their_words_both_ways(kendra: Any, handbook: str) -> None:
    # 東京都 is made of whole short units of 東京都庁 (東京/都庁 = 東京/都 + 庁): found.
    assert "trip" in ids_of(kendra.query(IndexId=handbook, QueryText="東京都", AttributeFilter=JA))
    assert "leave" in ids_of(kendra.query(IndexId=handbook, QueryText="有給", AttributeFilter=JA))
    # A string that crosses a unit boundary never matches: 京都 is not in 東京都庁.
    assert ids_of(kendra.query(IndexId=handbook, QueryText="京都", AttributeFilter=JA)) == ["kyoto"]
    assert "kyoto" not in ids_of(kendra.query(IndexId=handbook, QueryText="東京都", AttributeFilter=JA))


def test_confidence_is_absolute_not_relative_to_the_best(kendra: Any, handbook: str) -> None:
    # Every word of a specific query in one document: a confident result.
    strong = kendra.query(IndexId=handbook, QueryText="有給休暇の申請 勤怠システム", AttributeFilter=JA)
    assert ids_of(strong)[0] == "leave" and buckets(strong)[0] in STRONG
    # Half the query's word weight (ロケット is in no document): listed, but not confident for being first.
    weak = kendra.query(IndexId=handbook, QueryText="勤怠システム ロケット", AttributeFilter=JA)
    assert ids_of(weak) == ["leave"]
    assert all(b not in STRONG for b in buckets(weak))
    # One word of four, and a common one: below the noise floor, not listed at all.
    assert ids_of(kendra.query(IndexId=handbook, QueryText="出張 宇宙 ロケット 燃料", AttributeFilter=JA)) == []


def test_no_answer_and_no_confidence_out_of_domain(kendra: Any, handbook: str) -> None:
    for question in ["量子コンピュータの冷却方法を教えてください", "社員食堂の営業時間は何時から何時までですか",
                     "What is the population of Tokyo?"]:
        r = kendra.query(IndexId=handbook, QueryText=question, AttributeFilter=BOTH)
        assert answers(r) == [], question
        assert all(b not in STRONG for b in buckets(r)), (question, buckets(r))


def test_an_answer_when_earned(kendra: Any, handbook: str) -> None:
    r = kendra.query(IndexId=handbook, QueryText="経費精算の締め日はいつですか", AttributeFilter=JA)
    found = answers(r)
    assert found and found[0]["DocumentId"] == "expenses"
    assert found[0]["ScoreAttributes"]["ScoreConfidence"] in STRONG
    text = found[0]["AdditionalAttributes"][0]["Value"]["TextWithHighlightsValue"]
    assert "25日" in text["Text"]


def test_a_word_in_every_replaced_document_is_still_found(kendra: Any) -> None:
    """Every document holds the word and has been put twice: the index still counts the replaced
    copies in the word's document frequency until segments merge, which must not make it weigh less
    than nothing (it found nothing after a sync resumed and re-put documents)."""
    index_id = kendra.create_index(Name="replaced", RoleArn="arn:aws:iam::000000000000:role/kendra")["Id"]
    wait_active(kendra, index_id)
    docs = [text_doc(f"d{i}", f"document {i} of the binturong archive", lang="en") for i in range(6)]
    put_and_wait(kendra, index_id, docs)
    put_and_wait(kendra, index_id, docs)
    put_and_wait(kendra, index_id, docs[:3])
    r = kendra.query(IndexId=index_id, QueryText="binturong")
    assert r["TotalNumberOfResults"] == 6
    kendra.delete_index(Id=index_id)
