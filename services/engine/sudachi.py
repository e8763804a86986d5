"""The Sudachi dictionary, loaded once per process on first use, and this thread's tokenizers.

The dictionary takes a few hundred MB and a second to load, so every user (the Japanese analyzer,
readings, the spelling suggestions) shares this one. A ``Tokenizer`` must not be shared between
threads: each thread gets its own per split mode (and per ``slot``, for a second tokenizer used while
the first one's output is still being read). ``sudachipy`` is imported on first use only.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import sudachipy  # type: ignore[import-untyped, unused-ignore]

__all__ = ["dictionary", "tokenizer"]

_lock = threading.Lock()
_dictionary: sudachipy.Dictionary | None = None
_local = threading.local()


def dictionary() -> sudachipy.Dictionary:
    """The process-wide core dictionary."""
    global _dictionary
    if _dictionary is None:
        with _lock:
            if _dictionary is None:
                import sudachipy

                _dictionary = sudachipy.Dictionary(dict="core")
    return _dictionary


def tokenizer(mode: Literal["A", "B", "C"], slot: str = "tokenizer") -> sudachipy.Tokenizer:
    """This thread's tokenizer of split ``mode`` (another ``slot`` gives a second one)."""
    key = f"{slot}:{mode}"
    found: sudachipy.Tokenizer | None = getattr(_local, key, None)
    if found is None:
        import sudachipy

        found = dictionary().tokenizer(mode=getattr(sudachipy.SplitMode, mode))
        setattr(_local, key, found)
    return found
