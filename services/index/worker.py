"""What bounds an analysis worker process: it ends with the server, its memory is capped, and the text
extraction of one document has a deadline. A document past a bound fails alone; the worker goes on
(or, killed by the kernel, is replaced and the document that killed it fails alone: see indexer.py)."""

from __future__ import annotations

import os
import resource
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DeadlineExceeded(BaseException):
    """Raised into the worker's main thread when a document's extraction runs past its deadline; a
    BaseException, so that the parsers' ``except Exception`` (bad input is normal to them) lets it by."""


def init_worker(parent: int, memory_bytes: int) -> None:
    """The initializer of every analysis worker process (``memory_bytes`` 0: no cap)."""
    die_with_parent(parent)
    if memory_bytes:
        # RLIMIT_DATA counts what a parser allocates (heap, anonymous mappings) but not the model files
        # mapped read-only; past it an allocation fails (MemoryError) instead of the machine swapping.
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))


def die_with_parent(parent: int) -> None:
    """In an analysis worker: end with the server, even one killed with SIGKILL (an orphan would keep
    its memory, the embedding model's included, for good). Linux's parent-death signal."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the server died before the signal was armed
        os._exit(1)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded in this block after ``seconds`` (a timer signal: only in a process's main
    thread, and only between Python bytecodes; elsewhere the indexer's per-document timeout still holds)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
