"""Text analysis: the shared Japanese keyword-precision set, offsets, and each analyzer's rules."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.engine import analysis
from services.engine.analysis import Analyzer, Token, analyzer_for, normalize

SHARED_DIR = Path(os.environ.get("KENSAKU_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
TOKENIZATION_DEV = SHARED_DIR / "data/eval/tokenization-dev.jsonl"


def _load_cases() -> list[dict[str, str]]:
    if not TOKENIZATION_DEV.exists():
        return []
    with TOKENIZATION_DEV.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


CASES = _load_cases()

ja = analyzer_for("ja")
en = analyzer_for("en")
standard = analyzer_for("zh")


def doc_terms(analyzer: Analyzer, text: str) -> set[str]:
    return {token.term for token in analyzer.tokens(text)}


def finds(query: str, doc: str, analyzer: Analyzer = ja) -> bool:
    """The keyword rule of the shared set: every query term occurs among the document's terms."""
    terms = analyzer.query_terms(query)
    assert terms, f"query {query!r} analysed to nothing"
    return set(terms) <= doc_terms(analyzer, doc)


def surfaces(text: str, tokens: list[Token]) -> list[tuple[str, str, int]]:
    return [(token.term, text[token.start : token.end], token.position) for token in tokens]


# --------------------------------------------------------------------------------------------------
# The shared tokenization set (rules: shared/data/README.md, "tokenization-dev")
# --------------------------------------------------------------------------------------------------


def test_tokenization_dev_set_is_present_and_complete() -> None:
    assert CASES, f"{TOKENIZATION_DEV} not found; set KENSAKU_SHARED_DIR to the shared folder"
    expects = [case["expect"] for case in CASES]
    assert (len(CASES), expects.count("match"), expects.count("no_match")) == (40, 22, 18)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_tokenization_dev_case(case: dict[str, str]) -> None:
    query_terms = ja.query_terms(case["query"])
    terms = doc_terms(ja, case["doc"])
    assert query_terms, case
    if case["expect"] == "match":
        missing = [term for term in query_terms if term not in terms]
        assert not missing, (
            f"{case['why']}\nquery terms {query_terms}, missing {missing}, doc {sorted(terms)}"
        )
    else:
        # Queries hold no particles, so every query term is a content word: none may occur.
        found = [term for term in query_terms if term in terms]
        assert not found, f"{case['why']}\nquery terms {query_terms} found {found} in doc {sorted(terms)}"


# --------------------------------------------------------------------------------------------------
# Offsets
# --------------------------------------------------------------------------------------------------

OFFSET_TEXTS = [
    "",
    "東京都庁は新宿にあります。",
    "㍿サンプル商事と㍻元年の㈱テスト",
    "ﾊﾟｽﾜｰﾄﾞを変更してｶﾞｽ代を払う。ｻｰﾊﾞｰ",
    "ＶＰＮ接続　Ｐｙｔｈｏｎ３と２０２４年",
    "絵文字😀👨‍👩‍👧テスト🇯🇵と JavaScript入門",
    "The quick brown fox jumps over 東京大学 and runs away.",
    "Café naïve İstanbul ﬁle ½ ①② Ⅻ x²",
    "か\u3099き\u309aく e\u0301\u0323x ﾟ先頭ﾞ",
    "\r\n\t改行\u3000全角スペース\n\n外国人参政権について議論する。",
    "한국어 텍스트와 中文简体字 ภาษาไทย हिन्दी",
    "Ｗｉ－Ｆｉの設定（ＳＳＩＤ：ｋｅｎｓａｋｕ）を確認",
]


@pytest.mark.parametrize("language", ["ja", "en", "standard"])
@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_every_token_points_at_a_non_empty_surface_of_the_original(language: str, text: str) -> None:
    tokens = analyzer_for(language).tokens(text)
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text), token
        surface = text[token.start : token.end]
        assert re.search(r"\w", normalize(surface)), (token, surface)
        assert token.term and not any(ch.isspace() for ch in token.term), token
    positions = [token.position for token in tokens]
    assert positions == sorted(positions)
    assert positions == [] or (positions[0] == 0 and len(set(positions)) == positions[-1] + 1)


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_japanese_words_are_monotone_and_parts_lie_inside_their_compound(text: str) -> None:
    tokens = ja.tokens(text)
    words: dict[int, Token] = {}
    for token in tokens:
        words.setdefault(token.position, token)  # the first token at a position is the mode-C word
    previous = None
    for token in tokens:
        word = words[token.position]
        assert word.start <= token.start < token.end <= word.end, (word, token)
    for word in words.values():
        if previous is not None:
            assert (word.start, word.end) >= (previous.start, previous.end), (previous, word)
            assert word.start >= previous.start and word.end >= previous.end
        previous = word


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_standard_terms_come_from_their_surface(text: str) -> None:
    for token in standard.tokens(text):
        assert token.term in normalize(text[token.start : token.end]), token


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_english_terms_are_stems_of_a_word_of_their_surface(text: str) -> None:
    import Stemmer  # type: ignore[import-not-found, unused-ignore]

    stem = Stemmer.Stemmer("english").stemWord
    for token in en.tokens(text):
        normalised = normalize(text[token.start : token.end])
        assert token.term in normalised or token.term in {stem(w) for w in normalised.split()}, token


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_japanese_latin_and_digit_terms_equal_their_normalised_surface(text: str) -> None:
    for token in ja.tokens(text):
        if token.term.isascii():
            assert token.term == normalize(text[token.start : token.end]), token


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_offset_map_normalises_exactly_like_normalize(text: str) -> None:
    assert analysis._map_normalize(text).text == normalize(text)


TRICKY_PIECES = [
    *"東京都庁サーバーｻｰﾊﾞｰﾊﾟﾞﾟＶＰＮａｂ１２３ab Z9。、「」！？　\n㍿㈱㍻①½ﬁÉéİΣσⅫェゟヿ゛゜",
    *["\u0301", "\u0323", "\u3099", "\u309a", "\u200d", "😀", "👨\u200d👩", "\uac00", "\u1100\u1161\u11a8"],
]


def test_random_mixtures_of_tricky_characters_keep_offsets_and_normalisation() -> None:
    rng = random.Random(20240409)
    for _ in range(400):
        text = "".join(rng.choice(TRICKY_PIECES) for _ in range(rng.randint(0, 30)))
        mapped = analysis._map_normalize(text)
        assert mapped.text == normalize(text), repr(text)
        if mapped.starts is not None and mapped.ends is not None:
            assert len(mapped.starts) == len(mapped.ends) == len(mapped.text)
            assert mapped.starts == sorted(mapped.starts) and mapped.ends == sorted(mapped.ends)
        for analyzer in (ja, en, standard):
            for token in analyzer.tokens(text):
                assert 0 <= token.start < token.end <= len(text), (analyzer.name, repr(text), token)


def test_expanded_compatibility_character_maps_to_the_whole_character() -> None:
    text = "㍿サンプル商事"
    assert surfaces(text, ja.tokens(text)) == [
        ("株式会社", "㍿", 0),
        ("株式", "㍿", 0),
        ("会社", "㍿", 0),
        ("サンプル", "サンプル", 1),
        ("商事", "商事", 2),
    ]


def test_half_width_kana_with_voiced_marks_map_back_to_their_original_span() -> None:
    text = "ﾊﾟｽﾜｰﾄﾞを変更"
    assert ja.tokens(text)[0] == Token("パスワード", 0, 7, 0)
    assert surfaces(text, ja.tokens(text))[1:] == [("を", "を", 1), ("変更", "変更", 2)]


def test_full_width_latin_and_digits_fold_to_ascii_with_exact_offsets() -> None:
    text = "ＶＰＮと２０２４年"
    assert surfaces(text, ja.tokens(text)) == [
        ("vpn", "ＶＰＮ", 0),
        ("と", "と", 1),
        ("2024", "２０２４", 2),
        ("年", "年", 3),
    ]


def test_text_longer_than_one_sudachi_call_keeps_offsets_and_positions() -> None:
    sentence = "東京都庁はＶＰＮ経由で申込みを受け付けた。\n"
    text = sentence * 1500  # about 33,000 characters, 99,000 UTF-8 bytes: several Sudachi calls
    one = ja.tokens(sentence)
    tokens = ja.tokens(text)
    assert len(tokens) == 1500 * len(one)
    words_per_sentence = one[-1].position + 1
    for i in (0, 700, 1499):
        shift = i * len(sentence)
        got = tokens[i * len(one) : (i + 1) * len(one)]
        assert [
            (t.term, t.start - shift, t.end - shift, t.position - i * words_per_sentence) for t in got
        ] == [(t.term, t.start, t.end, t.position) for t in one]


def test_text_without_any_break_longer_than_one_sudachi_call_is_still_analysed() -> None:
    text = "あ" * 20_000
    tokens = ja.tokens(text)
    assert tokens and all(0 <= t.start < t.end <= len(text) for t in tokens)
    assert sum(t.end - t.start for t in tokens) == len(text)


# --------------------------------------------------------------------------------------------------
# Japanese rules
# --------------------------------------------------------------------------------------------------


def test_kyoto_query_does_not_find_tokyo_to() -> None:
    assert not finds("京都", "東京都に住んでいます。")
    assert finds("東京都", "東京都に住んでいます。")


def test_compound_is_found_by_its_constituent_words() -> None:
    assert finds("休暇", "有給休暇の申請")
    assert finds("言語", "自然言語処理の研究")
    assert finds("東京", "東京都庁は新宿にあります。")
    assert finds("空港", "関西国際空港から出発する。")


def test_compound_parts_are_whole_words_never_fragments_across_a_boundary() -> None:
    terms = doc_terms(ja, "外国人参政権について議論する。")
    assert {"外国", "人", "参政", "権", "参政権", "外国人"} <= terms
    assert "人参" not in terms
    assert "京都" not in doc_terms(ja, "東京都")
    assert not finds("西国", "関西国際空港")


def test_a_compound_query_finds_a_longer_compound_that_contains_it() -> None:
    assert finds("有給休暇", "年次有給休暇の付与日数")


def test_compound_parts_share_the_position_and_lie_inside_the_compound() -> None:
    text = "自然言語処理"
    tokens = ja.tokens(text)
    assert tokens[0] == Token("自然言語処理", 0, 6, 0)
    assert {(t.term, text[t.start : t.end]) for t in tokens[1:]} >= {
        ("自然", "自然"),
        ("言語", "言語"),
        ("処理", "処理"),
        ("言語処理", "言語処理"),
    }
    assert {t.position for t in tokens} == {0}


def test_query_terms_are_mode_c_words_without_compound_parts() -> None:
    assert ja.query_terms("有給休暇") == ["有給休暇"]
    assert ja.query_terms("東京都庁") == ["東京都庁"]


def test_query_terms_are_distinct_in_order_of_first_occurrence() -> None:
    assert ja.query_terms("サーバー 再起動 サーバ 手順") == ["サーバ", "再起動", "手順"]
    assert en.query_terms("runs running jumps run") == ["run", "jump"]
    assert standard.query_terms("北京 北京 hello") == ["北京", "hello"]


def test_dictionary_normalisation_folds_okurigana_and_kana_variants() -> None:
    assert ja.query_terms("申込み") == ja.query_terms("申し込み")
    assert ja.query_terms("子ども") == ja.query_terms("子供")
    assert ja.query_terms("問合せ") == ja.query_terms("問い合わせ")


def test_final_long_vowel_is_dropped_on_katakana_words_of_four_or_more() -> None:
    assert ja.query_terms("スケジューラー") == ja.query_terms("スケジューラ") == ["スケジューラ"]
    assert ja.query_terms("サーバー") == ja.query_terms("サーバ") == ["サーバ"]
    assert ja.query_terms("コンピューター") == ja.query_terms("コンピュータ")


def test_three_character_katakana_keeps_its_long_vowel_so_beer_is_not_building() -> None:
    assert ja.query_terms("ビール") == ["ビール"]
    assert not finds("ビール", "駅前のビルに事務所を移転しました。")


def test_inflected_forms_are_indexed_by_their_lemma() -> None:
    assert finds("走る", "毎朝駅まで走った。")
    assert finds("高い", "物価が高かった。")
    assert not finds("着る", "紙をはさみで切った。")


def test_english_words_in_japanese_text_keep_the_dictionary_katakana_form() -> None:
    assert ja.query_terms("server") == ja.query_terms("サーバー")
    assert finds("サーバー", "server の再起動")


def test_java_does_not_match_javascript_and_latin_glued_to_japanese_splits() -> None:
    assert not finds("Java", "JavaScript入門の資料")
    assert ja.query_terms("Python入門") == ["python", "入門"]


def test_a_number_never_matches_part_of_a_longer_number() -> None:
    assert not finds("12", "当社は2012年に設立された。")
    assert finds("２０２４年", "2024年の予算案")


def test_punctuation_blanks_and_emoji_are_not_indexed() -> None:
    assert [t.term for t in ja.tokens("「東京」、😀　！？…")] == ["東京"]


def test_words_of_scripts_sudachi_does_not_know_are_kept_whole() -> None:
    assert ja.query_terms("한국어 ภาษาไทย") == ["한국어", "ภาษาไทย"]


# --------------------------------------------------------------------------------------------------
# English and standard
# --------------------------------------------------------------------------------------------------


def test_english_stems_running_and_runs_to_run() -> None:
    assert [t.term for t in en.tokens("Running runs RUN")] == ["run", "run", "run"]
    assert finds("running", "She runs every day.", en)


def test_english_keeps_every_word_including_stop_words() -> None:
    assert [t.term for t in en.tokens("The cat is on the mat")] == ["the", "cat", "is", "on", "the", "mat"]


def test_english_offsets_point_at_the_original_word() -> None:
    text = "Ｆｕｌｌ-width and naïve ﬁles"
    assert surfaces(text, en.tokens(text)) == [
        ("full", "Ｆｕｌｌ", 0),
        ("width", "width", 1),
        ("and", "and", 2),
        ("naïv", "naïve", 3),
        ("file", "ﬁles", 4),
    ]


def test_english_analyses_cjk_runs_as_bigrams() -> None:
    assert [t.term for t in en.tokens("Visit 東京大学 today")] == ["visit", "東京", "京大", "大学", "today"]


def test_standard_chinese_becomes_overlapping_bigrams() -> None:
    text = "我爱北京天安门"
    assert surfaces(text, standard.tokens(text)) == [
        ("我爱", "我爱", 0),
        ("爱北", "爱北", 1),
        ("北京", "北京", 2),
        ("京天", "京天", 3),
        ("天安", "天安", 4),
        ("安门", "安门", 5),
    ]
    assert finds("北京", "我爱北京天安门", standard)


def test_standard_single_cjk_character_is_a_unigram_and_words_are_not_stemmed() -> None:
    assert [t.term for t in standard.tokens("中 running Ｐｙｔｈｏｎ")] == ["中", "running", "python"]


def test_standard_korean_words_become_bigrams() -> None:
    assert [t.term for t in standard.tokens("한국어 텍스트")] == ["한국", "국어", "텍스", "스트"]


def test_standard_keeps_words_with_combining_marks_whole() -> None:
    assert [t.term for t in standard.tokens("हिन्दी İstanbul")] == ["हिन्दी", "i\u0307stanbul"]


# --------------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("ja", "ja"),
        ("JA-jp", "ja"),
        ("en", "en"),
        ("en_US", "en"),
        ("zh", "standard"),
        ("ko", "standard"),
        ("", "standard"),
    ],
)
def test_analyzer_for_maps_language_codes(code: str, name: str) -> None:
    assert analyzer_for(code).name == name


def test_normalize_is_nfkc_then_lower_case() -> None:
    assert normalize("ＶＰＮ ﾊﾟｽ ㍿ Ⅻ") == "vpn パス 株式会社 xii"


def test_empty_and_blank_text_give_no_tokens() -> None:
    for analyzer in (ja, en, standard):
        assert analyzer.tokens("") == [] and analyzer.tokens(" \n\u3000") == []
        assert analyzer.query_terms("") == []


def test_tokens_are_frozen_values() -> None:
    token = ja.tokens("東京")[0]
    assert token == Token("東京", 0, 2, 0) and hash(token) == hash(Token("東京", 0, 2, 0))
    with pytest.raises(AttributeError):
        token.term = "京都"  # type: ignore[misc]


def test_analyzer_version_names_the_dictionary() -> None:
    import importlib.metadata

    version = analysis.ANALYZER_VERSION
    assert isinstance(version, str)
    assert f"sudachidict-core={importlib.metadata.version('sudachidict-core')}" in version


def test_import_loads_no_dictionary_or_stemmer() -> None:
    code = (
        "import sys, services.engine.analysis as a\n"
        "assert not {'sudachipy', 'Stemmer'} & set(sys.modules), sorted(sys.modules)\n"
        "a.analyzer_for('ja'); a.analyzer_for('en')\n"
        "assert not {'sudachipy', 'Stemmer'} & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_analyzers_give_the_same_tokens_from_many_threads() -> None:
    texts = [case["doc"] for case in CASES] or OFFSET_TEXTS
    expected = {lang: [analyzer_for(lang).tokens(t) for t in texts] for lang in ("ja", "en")}
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            for lang in ("ja", "en"):
                if [analyzer_for(lang).tokens(t) for t in texts] != expected[lang]:
                    failures.append(lang)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


@pytest.mark.parametrize(("text", "content"), [
    ("有給休暇の残り日数はどこで確認できますか", ["有給休暇", "残り", "日数", "確認"]),
    ("の", []), ("ですか", []), ("これは何", []), ("経費精算の締め日", ["経費精算", "締め日"]),
])
def test_japanese_queries_keep_content_words_only(text: str, content: list[str]) -> None:
    ja = analyzer_for("ja")
    assert ja.query_terms(text) == content
    assert {w.term for w in ja.query_words(text)} >= set(content)  # function words stay, marked


@pytest.mark.parametrize(("text", "content"), [
    ("the", []), ("of the", []), ("How do I reset my password?", ["reset", "password"]),
    ("What is the population of Tokyo", ["popul", "tokyo"]),
])
def test_english_stop_words_are_function_words(text: str, content: list[str]) -> None:
    assert analyzer_for("en").query_terms(text) == content
    assert "ザ" not in analyzer_for("ja").query_terms(text)  # Sudachi reads "the" as ザ: still a stop word


def test_a_word_made_of_whole_units_and_a_units_head_is_a_part_of_its_compound() -> None:
    ja = analyzer_for("ja")
    # 東京都庁 = 東京 / 都庁 (A units), and 東京都 = 東京 / 都 with 都 the head of 都庁 (庁 a word too).
    assert "東京都" in {t.term for t in ja.tokens("東京都庁への出張")}
    # 人参 is one unit, not 人 + 参: 外国人参政権 still never yields it; 京都 crosses 東京|都.
    assert "人参" not in {t.term for t in ja.tokens("外国人参政権")}
    assert "京都" not in {t.term for t in ja.tokens("東京都庁への出張")}
