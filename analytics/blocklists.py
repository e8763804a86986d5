"""Query-suggestion block lists: reading the source file and parsing its entries.

A block list is a UTF-8 text file, one word or phrase per line, named by ``SourceS3Path``:

- ``{"Bucket": b, "Key": k}`` reads object ``k`` of bucket ``b`` from the S3-compatible store at
  ``settings.s3_endpoint_url`` (AWS itself when unset), with the usual AWS credential chain;
- Kensaku extension: a ``Key`` of the form ``file:///absolute/path`` reads a file on the server,
  allowed only below ``settings.local_files_root`` (refused when that is unset). ``Bucket`` must still
  be a valid bucket name (boto3 requires it); it is ignored.

``services/files.py`` reads both, with its checks (folder, symbolic links, size, timeouts).
"""

from __future__ import annotations

from typing import Any

from services.files import FileReadError, read_s3_path
from services.settings import Settings

MAX_FILE_BYTES = 1_000_000  # Kendra's quota for a block-list file


class BlockListSourceError(Exception):
    """The block-list file could not be read; the message says why (shown as ErrorMessage)."""


def read_source(settings: Settings, s3_path: dict[str, Any]) -> bytes:
    """The bytes of the block-list file ``s3_path`` names (read by ``services.files``).

    Raises:
        BlockListSourceError: unreadable, missing, outside the allowed folder, or larger than 1 MB.
    """
    try:
        return read_s3_path(settings, s3_path, MAX_FILE_BYTES, "block-list file")
    except FileReadError as error:
        raise BlockListSourceError(str(error)) from None


def parse_entries(data: bytes) -> list[str]:
    """Distinct normalised entries, one per non-blank line, in file order.

    Raises:
        BlockListSourceError: the file is not UTF-8 text.
    """
    from analytics.suggestions import suggestion_form

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BlockListSourceError("The block-list file is not UTF-8 text") from None
    seen: dict[str, None] = {}
    for line in text.splitlines():
        entry = suggestion_form(line)
        if entry:
            seen.setdefault(entry, None)
    return list(seen)
