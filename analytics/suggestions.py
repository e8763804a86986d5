"""Query suggestions: which logged queries may be suggested, and a prefix index to look them up.

Rules (Kendra's, ``docs/kendra-api.md`` §4.6, with a documented Japanese extension):

- a candidate is a query's normalised text (lower case, quotes removed, whitespace collapsed);
- it must have returned at least one result and hold at least one word longer than 4 characters,
  or (Kensaku's rule for text without spaces) a run of at least 2 kana/kanji characters;
- it is dropped when it contains a block-list word or phrase (whole words; Japanese entries match
  anywhere, since Japanese has no spaces).

Lookup is a prefix match of the typed text against the candidate, its hiragana reading and its
Hepburn romaji (so 「けいひ」 and "keihi" find 「経費精算」). Popular candidates come first.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kernel.language import JAPANESE_RUN, has_japanese
from services.engine.readings import reading_of, to_hiragana

MIN_PREFIX = 2
MAX_PREFIX = 60
_QUOTES = str.maketrans("", "", "'\"")
_LONG_WORD = re.compile(r"[^\W\d_]{5,}|\w{5,}")


def suggestion_form(text: str) -> str:
    """Kendra's normalisation of a query for suggestions: NFKC, lower case, no quotes, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().translate(_QUOTES).split())


def is_suggestible(form: str) -> bool:
    """Whether a normalised query is long enough to suggest (see the module rules)."""
    if JAPANESE_RUN.search(form):
        return True
    return any(len(word) > 4 for word in form.split() if not has_japanese(word))


def blocked(form: str, entries: Iterable[str]) -> bool:
    """Whether ``form`` holds one of the block-list ``entries`` (already normalised)."""
    padded = f" {form} "
    for entry in entries:
        if not entry:
            continue
        if has_japanese(entry):
            if entry in form:
                return True
        elif f" {entry} " in padded:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Match:
    """One suggestion found for a prefix: its text, popularity and the span to highlight."""

    text: str
    popularity: int
    highlight: tuple[int, int]
    payload: object = None


@dataclass(slots=True)
class PrefixIndex:
    """Sorted keys (text, hiragana reading, romaji reading) pointing at entries, for prefix lookup.

    Build with ``add`` then ``freeze``; lookups are a binary search plus a bounded scan.
    """

    texts: list[str] = field(default_factory=list)
    popularity: list[int] = field(default_factory=list)
    payloads: list[object] = field(default_factory=list)
    # (key, entry, kind): kind 0 the text, 1 hiragana, 2 romaji, 3 romaji with single long vowels
    _keys: list[tuple[str, int, int]] = field(default_factory=list)
    _key_strings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str, popularity: int, payload: object = None) -> None:
        """Add one entry; ``text`` is both what is matched and what is returned."""
        entry = len(self.texts)
        self.texts.append(text)
        self.popularity.append(popularity)
        self.payloads.append(payload)
        folded = suggestion_form(text)
        self._keys.append((folded, entry, 0))
        if has_japanese(text):
            reading = reading_of(text)
            self._keys.append((_squeeze(reading.hiragana), entry, 1))
            self._keys.append((_squeeze(reading.romaji), entry, 2))
            if reading.plain != reading.romaji:
                self._keys.append((_squeeze(reading.plain), entry, 3))

    def freeze(self) -> PrefixIndex:
        """Sort the keys; call once after the last ``add``."""
        self._keys.sort()
        self._key_strings = [k for k, _, _ in self._keys]
        return self

    def lookup(self, typed: str, limit: int, *, accept: Sequence[bool] | None = None) -> list[Match]:
        """The ``limit`` most popular entries starting with ``typed`` (directly or by reading).

        Args:
            typed: what the user typed so far (any case, kana or romaji).
            limit: the most matches returned.
            accept: an optional per-entry mask (False: skip the entry).
        """
        prefix = suggestion_form(typed)
        # Readings are keyed without spaces, kana as hiragana: probe that form too.
        probes = {prefix, _squeeze(to_hiragana(prefix))}
        best: dict[int, tuple[int, int]] = {}  # entry -> (kind, probe length)
        for probe in probes:
            lo = bisect.bisect_left(self._key_strings, probe)
            hi = bisect.bisect_left(self._key_strings, probe + "\U0010ffff")
            for key_pos in range(lo, hi):
                _, entry, kind = self._keys[key_pos]
                if accept is not None and not accept[entry]:
                    continue
                if entry not in best or kind < best[entry][0]:
                    best[entry] = (kind, len(probe))
        top = heapq.nsmallest(limit, best, key=lambda e: (-self.popularity[e], self.texts[e]))
        return [Match(self.texts[e], self.popularity[e], self._span(e, *best[e]), self.payloads[e]) for e in top]

    def _span(self, entry: int, kind: int, chars: int) -> tuple[int, int]:
        text = self.texts[entry]
        if kind == 0:
            return 0, _original_length(text, chars)
        reading = reading_of(text)
        hira_or_roma = (reading.hiragana, reading.romaji, reading.plain)[kind - 1]
        # Keys had spaces squeezed out: count the probe's characters in the spaced reading.
        seen = pos = 0
        while pos < len(hira_or_roma) and seen < chars:
            if hira_or_roma[pos] != " ":
                seen += 1
            pos += 1
        end = reading.text_end_for(pos, reading=kind - 1)
        return 0, max(end, 1)


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _original_length(text: str, folded_chars: int) -> int:
    """How many characters of ``text`` produce the first ``folded_chars`` of its suggestion form."""
    if suggestion_form(text) == text:
        return min(folded_chars, len(text))
    for end in range(1, len(text) + 1):
        if len(suggestion_form(text[:end])) >= folded_chars:
            return end
    return len(text)
