"""Rendering Kendra Query responses for chat and terminal, on responses shaped like Kendra's own.

The ANSWER and QUESTION_ANSWER items below follow botocore's QueryResultItem shape (AdditionalAttributes
AnswerText / QuestionText with TEXT_WITH_HIGHLIGHTS_VALUE, TopAnswer highlights, TableExcerpt); every
response is checked against botocore's Query output shape first, so the fixtures cannot drift from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from kernel.language import detect_language
from services.chat.blocks import more_results_url, render
from services.chat.language import Question, language_filter, parse_question
from services.chat.mrkdwn import ZWSP, escape, highlighted
from services.chat.terminal import render_text
from services.chat.users import SlackUsers, UserMapError
from tests.shapes import check_shape

QID = "5d1c0b3e-3f4a-4a4e-9a63-1c2b3d4e5f60"


def text_value(text: str, *spans: tuple[int, int, bool]) -> dict[str, Any]:
    return {"TextWithHighlightsValue": {"Text": text, "Highlights": [
        {"BeginOffset": b, "EndOffset": e, "TopAnswer": top, "Type": "STANDARD"} for b, e, top in spans]}}


def item(kind: str, n: int, title: str, **extra: Any) -> dict[str, Any]:
    return {"Id": f"{QID}-{n}", "Type": kind, "Format": "TEXT", "DocumentId": f"doc-{n}",
            "DocumentTitle": {"Text": title, "Highlights": []}, "ScoreAttributes": {"ScoreConfidence": "HIGH"},
            "FeedbackToken": f"{QID}.{n}", **extra}


ANSWER_TEXT = "経費精算の締め日は毎月25日です。期限を過ぎた申請は翌月扱いになります。"
RESPONSE: dict[str, Any] = {
    "QueryId": QID,
    "TotalNumberOfResults": 12,
    "ResultItems": [
        item("ANSWER", 1, "経費精算ガイド", DocumentURI="https://wiki.example.com/keihi",
             AdditionalAttributes=[{"Key": "AnswerText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
                                    "Value": text_value(ANSWER_TEXT, (0, 4, False), (9, 14, True))}],
             DocumentExcerpt={"Text": ANSWER_TEXT, "Highlights": []}),
        item("QUESTION_ANSWER", 2, "経費FAQ", AdditionalAttributes=[
            {"Key": "QuestionText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
             "Value": text_value("締め日はいつですか？", (0, 3, False))},
            {"Key": "AnswerText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
             "Value": text_value("毎月25日です。")}]),
        item("DOCUMENT", 3, "Expense <policy> & rules", DocumentURI="https://wiki.example.com/policy?x=1&y=2",
             DocumentExcerpt={"Text": "Submit *receipts* by the 25th_day <b>", "Highlights": [
                 {"BeginOffset": 7, "EndOffset": 17, "TopAnswer": False, "Type": "STANDARD"}]},
             DocumentAttributes=[{"Key": "_last_updated_at", "Value": {"DateValue": 1714518000}},
                                 {"Key": "_data_source_id", "Value": {"StringValue": "confluence"}}]),
    ],
}


def test_fixture_responses_have_kendras_query_shape() -> None:
    output = botocore.session.get_session().get_service_model("kendra").operation_model("Query").output_shape
    check_shape(output, RESPONSE, "Query")


def test_answer_comes_first_with_its_top_answer_span_in_bold_and_its_source_link() -> None:
    message = render(RESPONSE, Question("経費精算の締め日", "ja"), index_id="idx", more_url="https://s/?q=x")
    first = message.blocks[0]["text"]["text"]
    assert first.startswith("*Answer*\n経費精算の締め日は" + f"{ZWSP}*毎月25日*{ZWSP}")
    assert first.endswith("— <https://wiki.example.com/keihi|経費精算ガイド>")
    assert message.blocks[1] == {"type": "divider"}
    # The top result is the answer: the 👍 / 👎 buttons vote on it.
    actions = message.blocks[-1]["elements"]
    assert json.loads(actions[0]["value"]) == {"i": "idx", "q": QID, "r": f"{QID}-1"}
    assert "経費精算ガイド" in message.text


def test_faq_is_rendered_as_question_and_answer_when_it_is_the_only_instant_answer() -> None:
    response = {**RESPONSE, "ResultItems": RESPONSE["ResultItems"][1:]}
    message = render(response, Question("締め日", "ja"), index_id="idx", more_url="https://s/")
    assert message.blocks[0]["text"]["text"] == f"*FAQ* {ZWSP}*締め日*{ZWSP}はいつですか？\n毎月25日です。\n— 経費FAQ"


def test_documents_are_escaped_with_link_source_and_date() -> None:
    message = render(RESPONSE, Question("receipts", "en"), index_id="idx", more_url="https://s/?q=a&lang=en")
    section = next(b for b in message.blocks if b["type"] == "section" and "policy" in b["text"]["text"])
    assert section["text"]["text"] == (
        "*<https://wiki.example.com/policy?x=1&amp;y=2|Expense &lt;policy&gt; &amp; rules>*\n"
        f"Submit {ZWSP}*\u2217receipts\u2217*{ZWSP} by the 25th\uff3fday &lt;b&gt;")
    texts = [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]
    assert "confluence · 2024-04-30" in texts
    assert texts[-1] == "<https://s/?q=a&amp;lang=en|More results> · 12 results · English"


def test_table_answers_show_their_cells() -> None:
    table = item("ANSWER", 9, "料金表", Format="TABLE", TableExcerpt={"TotalNumberOfRows": 2, "Rows": [
        {"Cells": [{"Value": "プラン", "Header": True}, {"Value": "料金", "Header": True}]},
        {"Cells": [{"Value": "Basic"}, {"Value": "¥1,000", "TopAnswer": True, "Highlighted": True}]}]})
    message = render({"QueryId": QID, "ResultItems": [table]}, Question("料金", "ja"), index_id="i", more_url="u")
    assert message.blocks[0]["text"]["text"] == "*Answer*\n*プラン* | *料金*\nBasic | *¥1,000*\n— 料金表"


def test_no_results_point_to_the_web_page_and_have_no_buttons() -> None:
    message = render({"QueryId": QID, "ResultItems": [], "TotalNumberOfResults": 0},
                     Question("<nothing>", "all"), index_id="i", more_url="https://s/")
    assert message.blocks[0]["text"]["text"] == "No results for “&lt;nothing&gt;”."
    assert all(b["type"] != "actions" for b in message.blocks)


def weakened(response: dict[str, Any], bucket: str = "LOW") -> dict[str, Any]:
    """``response`` with every item's ScoreConfidence set to ``bucket``."""
    return {**response, "ResultItems": [{**i, "ScoreAttributes": {"ScoreConfidence": bucket}}
                                        for i in response["ResultItems"]]}


def test_nothing_relevant_is_said_plainly_without_answer_documents_or_buttons() -> None:
    weak = {**weakened(RESPONSE), "SpellCorrectedQueries": [
        {"SuggestedQueryText": "receipts <now>", "Corrections": []}]}
    check_shape(botocore.session.get_session().get_service_model("kendra").operation_model("Query").output_shape,
                weak, "Query")
    message = render(weak, Question("reciepts", "en"), index_id="idx", more_url="https://s/?q=reciepts&lang=en")
    texts = [b["text"]["text"] if b["type"] == "section" else b["elements"][0]["text"] for b in message.blocks]
    assert texts == [
        "Nothing relevant found for “reciepts”.",
        "Did you mean “receipts &lt;now&gt;”? Try other words or fewer words, and check the spelling,"
        " or search Japanese and English with --all.",
        "<https://s/?q=reciepts&amp;lang=en|More results> · 12 weak matches not shown · English"]
    assert message.text == "Kensaku: nothing relevant found for “reciepts”"
    both = render(weakened(RESPONSE, "NOT_AVAILABLE"), Question("x", "all"), index_id="i", more_url="u")
    assert both.blocks[1]["elements"][0]["text"] == "Try other words or fewer words, and check the spelling."
    # One item from MEDIUM up is enough for the usual reply; so is a response without buckets.
    mixed = weakened(RESPONSE)
    mixed["ResultItems"][2] = {**mixed["ResultItems"][2], "ScoreAttributes": {"ScoreConfidence": "MEDIUM"}}
    unjudged = {**RESPONSE, "ResultItems": [{k: v for k, v in i.items() if k != "ScoreAttributes"}
                                            for i in RESPONSE["ResultItems"]]}
    for response in (mixed, unjudged):
        assert render(response, Question("x", "en"), index_id="i", more_url="u").blocks[0]["text"]["text"].startswith(
            "*Answer*")


def test_terminal_text_says_nothing_relevant_instead_of_listing_weak_documents() -> None:
    text = render_text(weakened(RESPONSE), Question("経費精算", "ja"))
    assert text == ("Nothing relevant found for “経費精算” (ja): 12 weak matches not shown (--json prints them).\n"
                    "Try other words or fewer words, and check the spelling, or search Japanese and English"
                    " with --lang all.")


def test_terminal_text_lists_answer_and_documents() -> None:
    text = render_text(RESPONSE, Question("経費精算", "ja"))
    assert text.splitlines()[0] == f"Answer: {ANSWER_TEXT}"
    assert "1. Expense <policy> & rules\n   https://wiki.example.com/policy?x=1&y=2\n" in text
    assert "\033[1m毎月25日\033[0m" in render_text(RESPONSE, Question("経費精算", "ja"), bold=True)


def test_mrkdwn_escaping_and_japanese_bold() -> None:
    escaped = "a &amp; &lt;b&gt; \u2217c\u2217 \uff3fd\uff3f \u223ce\u223c \u02cbf\u02cb"
    assert escape("a & <b> *c* _d_ ~e~ `f`") == escaped
    spans = [{"BeginOffset": 0, "EndOffset": 2}, {"BeginOffset": 2, "EndOffset": 3},
             {"BeginOffset": 99, "EndOffset": 120}]
    assert highlighted("東京都の天気", spans) == f"{ZWSP}*東京都*{ZWSP}の天気"


@pytest.mark.parametrize(("raw", "expected"), [
    ("経費精算の締め日は？", Question("経費精算の締め日は？", "ja")),
    ("VPNの設定", Question("VPNの設定", "ja")),
    ("How do I set up VPN?", Question("How do I set up VPN?", "en")),
    ("経費 --all", Question("経費", "all", detected=False)),
    ("--lang en 経費", Question("経費", "en", detected=False)),
    ("vpn --lang=ja", Question("vpn", "ja", detected=False)),
])
def test_questions_are_parsed_and_their_language_detected(raw: str, expected: Question) -> None:
    assert parse_question(raw) == expected


def test_bad_language_option_and_filters() -> None:
    with pytest.raises(ValueError, match="--lang takes ja, en or all"):
        parse_question("vpn --lang fr")
    assert detect_language("ｶﾀｶﾅ") == "ja"
    assert language_filter("all") == {"OrAllFilters": [
        {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "ja"}}},
        {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "en"}}}]}
    assert more_results_url("https://s/", Question("経費 & x", "all")) == \
        "https://s/?q=%E7%B5%8C%E8%B2%BB+%26+x&lang=all"


def test_slack_user_map(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"U1": {"UserId": "alice@example.com", "Groups": ["eng"]},
                                "T2/U1": {"UserId": "carol@example.com"}}))
    users = SlackUsers(path)
    assert users.user_context("T1", "U1") == {"UserId": "alice@example.com", "Groups": ["eng"]}
    assert users.user_context("T2", "U1") == {"UserId": "carol@example.com"}
    assert users.user_context("T1", "U9") == {"UserId": "slack:T1/U9"}  # never an empty UserContext
    assert SlackUsers(None).user_context(None, "U1") == {"UserId": "slack:-/U1"}
    path.write_text(json.dumps({"U1": {"Groups": ["eng"]}}))
    with pytest.raises(UserMapError, match="KENSAKU_SLACK_USER_MAP"):
        SlackUsers(path)
