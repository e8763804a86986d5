"""A ZIP package checked before a parser opens it: a zip bomb is refused from its directory alone.

python-docx, python-pptx and openpyxl read a whole member into memory and parse it; a part of a few
kilobytes can inflate to gigabytes. Python's zipfile never inflates a member past the size its
directory declares, so the declared sizes bound what a parser can be handed.
"""

from __future__ import annotations

import io
import zipfile
from typing import Final

from ._types import ExtractionError

# A member may inflate to at most this many times its compressed size (XML compresses 5 to 20 times;
# 100 is Apache POI's bound), unless it is small enough not to matter.
MAX_RATIO: Final = 100
_SMALL_MEMBER: Final = 1024 * 1024
# All members together may inflate to at most this many bytes per character of text allowed (markup
# around the text, never gigabytes), plus the package's own size (pictures hardly compress).
BYTES_PER_TEXT_CHAR: Final = 20


def check_package(blob: bytes, max_text_chars: int) -> None:
    """Raise ExtractionError when the package's members would inflate beyond the bounds above."""
    try:
        members = zipfile.ZipFile(io.BytesIO(blob)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ExtractionError(f"not a readable ZIP package: {exc}") from exc
    budget = BYTES_PER_TEXT_CHAR * max_text_chars + max(len(blob), 16 * _SMALL_MEMBER)
    total = sum(member.file_size for member in members)
    if total > budget:
        raise ExtractionError(f"the package inflates to {total:,} bytes; at most {budget:,} are read (zip bomb?)")
    for member in members:
        if member.file_size > _SMALL_MEMBER and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise ExtractionError(
                f"the package member {member.filename!r} inflates {member.file_size // max(member.compress_size, 1):,}"
                f" times (to {member.file_size:,} bytes); at most {MAX_RATIO} times is read (zip bomb?)"
            )
