"""Query-suggestion block lists: reading the source file and parsing its entries.

A block list is a UTF-8 text file, one word or phrase per line, named by ``SourceS3Path``:

- ``{"Bucket": b, "Key": k}`` reads object ``k`` of bucket ``b`` from the S3-compatible store at
  ``settings.s3_endpoint_url`` (AWS itself when unset), with the usual AWS credential chain;
- Kensaku extension: a ``Key`` of the form ``file:///absolute/path`` reads a file on the server,
  allowed only below ``settings.local_files_root`` (refused when that is unset). ``Bucket`` must still
  be a valid bucket name (boto3 requires it); it is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.settings import Settings

MAX_FILE_BYTES = 1_000_000  # Kendra's quota for a block-list file
FILE_SCHEME = "file://"


class SourceError(Exception):
    """The block-list file could not be read; the message says why (shown as ErrorMessage)."""


def read_source(settings: Settings, s3_path: dict[str, Any]) -> bytes:
    """The bytes of the block-list file ``s3_path`` names.

    Raises:
        SourceError: unreadable, missing, outside the allowed folder, or larger than 1 MB.
    """
    key = str(s3_path["Key"])
    data = _read_local(settings, key) if key.startswith(FILE_SCHEME) else _read_s3(settings, s3_path)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"The block-list file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")
    return data


def parse_entries(data: bytes) -> list[str]:
    """Distinct normalised entries, one per non-blank line, in file order.

    Raises:
        SourceError: the file is not UTF-8 text.
    """
    from analytics.suggestions import suggestion_form

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("The block-list file is not UTF-8 text") from None
    seen: dict[str, None] = {}
    for line in text.splitlines():
        entry = suggestion_form(line)
        if entry:
            seen.setdefault(entry, None)
    return list(seen)


def _read_local(settings: Settings, key: str) -> bytes:
    root = settings.local_files_root
    if root is None:
        raise SourceError("file:// block lists are disabled (set KENSAKU_LOCAL_FILES_ROOT to allow a folder)")
    path = Path(key[len(FILE_SCHEME):])
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        raise SourceError(f"No such file: {path}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise SourceError(f"{path} is outside the folder block lists may be read from")
    try:
        return resolved.read_bytes()
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror}") from None


def _read_s3(settings: Settings, s3_path: dict[str, Any]) -> bytes:
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError

    session = botocore.session.get_session()
    client = session.create_client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
    try:
        body = client.get_object(Bucket=s3_path["Bucket"], Key=s3_path["Key"])["Body"]
        data: bytes = body.read(MAX_FILE_BYTES + 1)
        return data
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Error")
        raise SourceError(f"Cannot read s3://{s3_path['Bucket']}/{s3_path['Key']}: {code}") from None
    except BotoCoreError as error:
        raise SourceError(f"Cannot read s3://{s3_path['Bucket']}/{s3_path['Key']}: {error}") from None
