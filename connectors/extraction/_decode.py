"""Decoding text bytes: BOM, strict UTF-8, a declared charset, then detection (biased to Japanese)."""

from __future__ import annotations

import codecs
from typing import Final

from kernel.language import full_width_kana_count

from ._types import ExtractionError

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_JAPANESE_ENCODINGS: Final = frozenset(
    {
        "cp932",
        "shift_jis",
        "shift_jis_2004",
        "shift_jisx0213",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "iso2022_jp",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_2004",
        "iso2022_jp_3",
        "iso2022_jp_ext",
    }
)
# Declared charsets that browsers and Windows read as a superset.
_CHARSET_SUPERSETS: Final = {
    "shift_jis": "cp932",
    "shift_jis_2004": "cp932",
    "shift_jisx0213": "cp932",
    "euc_jis_2004": "euc_jp",
    "euc_jisx0213": "euc_jp",
    "iso8859_1": "cp1252",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def _codec_name(label: str) -> str | None:
    """Python's canonical codec name for a charset label, mapped to its usual superset."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name.replace("-", "_")
    except (LookupError, ValueError):
        return None
    return _CHARSET_SUPERSETS.get(name, name)


def _decode_text(blob: bytes, declared_charset: str | None = None) -> str:
    """Decode text: a BOM wins, then strict UTF-8, then a declared charset, then detection.

    Detection uses charset-normalizer with a bias for Japanese: when its guess is not a
    Japanese encoding but the bytes decode as cp932 or EUC-JP into text with kana in it,
    the Japanese reading wins (short EUC-JP texts are otherwise often taken for EUC-KR
    or Big5).
    """
    for bom, encoding in _BOMS:
        if blob.startswith(bom):
            return blob[len(bom) :].decode(encoding, errors="replace")
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared_charset:
        codec = _codec_name(declared_charset)
        if codec is not None:
            try:
                return blob.decode(codec)
            except (UnicodeDecodeError, LookupError):
                pass
    return _detect_and_decode(blob)


def _detect_and_decode(blob: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(blob)
    best = results.best()
    if best is not None:
        # Among equally good readings prefer Japanese, then Windows-1252: the likeliest legacy
        # encodings in this product's corpora (short EUC-JP ties with EUC-KR, cp1252 with cp1250).
        ties = [r for r in results if r.chaos == best.chaos and r.coherence == best.coherence]
        preferred = [r for r in ties if r.encoding in _JAPANESE_ENCODINGS] or [
            r for r in ties if r.encoding == "cp1252"
        ]
        if preferred:
            best = preferred[0]
    guess = best.encoding if best is not None else None
    if guess is None or (guess not in _JAPANESE_ENCODINGS and not guess.startswith(("utf_16", "utf_32"))):
        japanese = _decode_japanese(blob)
        if japanese is not None:
            return japanese
    if best is None or guess is None:
        raise ExtractionError(
            "the bytes are not text in any known encoding (a binary file of an unsupported type?)"
        )
    if _looks_binary(blob) and not guess.startswith(("utf_16", "utf_32")):
        raise ExtractionError("the bytes look like binary data, not text")
    superset = _CHARSET_SUPERSETS.get(guess)
    if superset is not None:
        try:
            return blob.decode(superset)
        except UnicodeDecodeError:
            pass
    return str(best)


def _decode_japanese(blob: bytes) -> str | None:
    """Decode as cp932 or EUC-JP when that gives text with a fair share of kana."""
    best_text: str | None = None
    best_ratio = 0.0
    for encoding in ("cp932", "euc_jp"):
        try:
            text = blob.decode(encoding)
        except UnicodeDecodeError:
            continue
        non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
        if non_ascii == 0:
            continue
        ratio = full_width_kana_count(text) / non_ascii
        if ratio > best_ratio:
            best_text, best_ratio = text, ratio
    return best_text if best_ratio >= 0.1 else None


def _looks_binary(blob: bytes) -> bool:
    sample = blob[:8192]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 0x09 or (0x0E <= b < 0x20 and b != 0x1B))
    return controls / len(sample) > 0.05
