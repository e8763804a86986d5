"""The one guarded reader of the files a request names: FAQ files, block lists, and any later reader.

A Kendra ``S3Path`` (``{"Bucket", "Key"}``) is read from the S3-compatible store at
``settings.s3_endpoint_url`` (AWS itself when unset; the usual AWS credential chain), with connect
and read timeouts and at most ``max_bytes`` read. Kensaku extension: a ``Key`` that is a ``file://``
URL names a file on the server's machine, allowed only when

- ``settings.local_files_root`` is set (unset: every ``file://`` URL is refused),
- the path, with every symbolic link resolved, lies below that folder (a link out of it is refused),
- it is a regular file (not a device such as /dev/zero, a FIFO or a folder), and
- it holds at most ``max_bytes``.

Whoever may call the API may name a file, so these checks are what stands between a caller and
the server's files.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from services.settings import Settings

FILE_SCHEME = "file://"


class FileReadError(Exception):
    """The file cannot be read, or may not be; the message says why (shown as ErrorMessage)."""


def is_local(key: str) -> bool:
    """Whether an S3Path ``Key`` names a local file (a ``file://`` URL)."""
    return key.startswith(FILE_SCHEME)


def read_s3_path(settings: Settings, s3_path: dict[str, Any], max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the file an ``S3Path`` names; ``what`` names it in errors ("FAQ file").

    Raises:
        FileReadError: refused, missing, unreadable, too slow or larger than ``max_bytes``.
    """
    key = str(s3_path["Key"])
    if is_local(key):
        return read_local(settings.local_files_root, key, max_bytes, what)
    return read_s3(settings, str(s3_path["Bucket"]), key, max_bytes, what)


def local_path(url: str) -> Path:
    """The absolute path a ``file://`` URL names (``file:///srv/faq.csv``, percent-decoded).

    Raises:
        FileReadError: the URL names another host or no absolute path.
    """
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise FileReadError(f"{url} names another host; only file:///absolute/path URLs are read")
    path = Path(unquote(parsed.path))
    if not parsed.path or not path.is_absolute():
        raise FileReadError(f"{url} is not a file:///absolute/path URL")
    return path


def read_local(root: Path | None, url: str, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the local file ``url`` names, if it is a regular file below ``root``.

    Raises:
        FileReadError: see the module's rules.
    """
    if root is None:
        raise FileReadError(
            f"file:// {what}s are disabled on this server (set KENSAKU_LOCAL_FILES_ROOT to allow a folder)")
    path = local_path(url)
    try:
        resolved = path.resolve(strict=True)
        allowed = root.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise FileReadError(f"No such file: {path}") from None
    if not resolved.is_relative_to(allowed):
        raise FileReadError(f"{path} is outside the folder {what}s may be read from (KENSAKU_LOCAL_FILES_ROOT)")
    try:
        # O_NOFOLLOW: the resolved path must not have become a link since; O_NONBLOCK: a FIFO does not hang.
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise FileReadError(f"Cannot read {path}: {error.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileReadError(f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise FileReadError(f"The {what} {path} is {info.st_size} bytes; the limit is {max_bytes}")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise FileReadError(f"Cannot read {path}: {error.strerror}") from None
    if len(data) > max_bytes:  # it grew since fstat
        raise FileReadError(f"The {what} {path} is over the limit of {max_bytes} bytes")
    return data


def read_s3(settings: Settings, bucket: str, key: str, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of object ``key`` of ``bucket``, read with timeouts and at most ``max_bytes``.

    Raises:
        FileReadError: missing, refused, unreachable, too slow or too large.
    """
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    timeout = settings.s3_timeout_seconds
    deadline = time.monotonic() + timeout
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "max_attempts": 2})
    where = f"s3://{bucket}/{key}"
    try:
        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config)
        response = client.get_object(Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            size = int(response.get("ContentLength") or 0)
            if size > max_bytes:
                raise FileReadError(f"The {what} {where} is {size} bytes; the limit is {max_bytes}")
            data = _read_before(body, max_bytes + 1, deadline, where)
        finally:
            body.close()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Error")
        raise FileReadError(f"Cannot read {where}: {code}") from None
    except (BotoCoreError, ValueError) as error:  # unreachable, timed out, no credentials, bad name
        raise FileReadError(f"Cannot read {where}: {error}") from None
    if len(data) > max_bytes:
        raise FileReadError(f"The {what} {where} is over the limit of {max_bytes} bytes")
    return data


def _read_before(body: Any, limit: int, deadline: float, where: str) -> bytes:
    """At most ``limit`` bytes of a streaming body, all by ``deadline`` (each read alone is bounded by
    the client's read timeout; a server dripping bytes must not hold a reader forever)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk: bytes = body.read(min(64 * 1024, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise FileReadError(f"Reading {where} took too long (KENSAKU_S3_TIMEOUT_SECONDS)")
    return b"".join(parts)
