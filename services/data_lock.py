"""One ``kensaku serve`` per data folder.

Two servers on one folder would run two indexers over the same queue and index files. The lock is
taken before anything else starts (a second server used to start its indexer, then fail to bind its
port), and the kernel drops it when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = "kensaku.lock"


class DataFolderInUse(Exception):
    """Another process holds the data folder's lock."""


def lock_data_folder(data_dir: Path) -> IO[str]:
    """Take the folder's lock for this process; keep the returned file open as long as it runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DataFolderInUse(
            f"The data folder {data_dir} is in use by another Kensaku server (process {holder});"
            " stop it, or give this one another --data-dir.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
