"""Admin sessions of the web pages, and the limit on wrong admin tokens.

A session id is 256 random bits, known only to the browser (an HttpOnly cookie) and to this
process's memory: signing out or staying idle past ``idle_seconds`` ends it here, whatever the
browser keeps, and a restart ends every session (the admin signs in again), and so does a new admin
token (``generation``: a session remembers the token it was opened under). Wrong tokens are
counted per client address over a sliding minute; past the limit every attempt from that address,
the right token too, is refused until the oldest counted one is a minute old (so the answers tell
a guesser nothing).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

LOGIN_WINDOW_SECONDS = 60.0


class Sessions:
    """Open admin sessions: id -> time of last use (and the token generation it was opened under)."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic,
                 generation: Callable[[], str] = lambda: "") -> None:
        self._idle = idle_seconds
        self._clock = clock
        self._generation = generation
        self._last_use: dict[str, float] = {}
        self._opened_under: dict[str, str] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        generation = self._generation()
        with self._lock:
            self._last_use = {k: t for k, t in self._last_use.items() if now - t < self._idle}
            self._opened_under = {k: g for k, g in self._opened_under.items() if k in self._last_use}
            self._last_use[session_id] = now
            self._opened_under[session_id] = generation
        return session_id

    def use(self, session_id: str) -> bool:
        """Whether ``session_id`` is open; using it keeps it open another ``idle_seconds``."""
        now = self._clock()
        generation = self._generation() if session_id in self._last_use else None
        with self._lock:
            last = self._last_use.get(session_id)
            if last is None or now - last >= self._idle or self._opened_under.get(session_id) != generation:
                self._last_use.pop(session_id, None)
                self._opened_under.pop(session_id, None)
                return False
            self._last_use[session_id] = now
            return True

    def close(self, session_id: str) -> None:
        with self._lock:
            self._last_use.pop(session_id, None)
            self._opened_under.pop(session_id, None)


class LoginLimiter:
    """At most ``attempts`` wrong tokens per client address in any minute."""

    def __init__(self, attempts: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._attempts = attempts
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        now = self._clock()
        with self._lock:
            recent = _prune(self._failures.get(address, deque()), now)
            if len(recent) < self._attempts:
                return None
            return max(1, math.ceil(recent[0] + LOGIN_WINDOW_SECONDS - now))

    def failed(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            _prune(self._failures.setdefault(address, deque()), now).append(now)
            # Forget addresses whose failures are all over a minute old (the map stays small).
            self._failures = {a: f for a, f in self._failures.items() if f and now - f[-1] < LOGIN_WINDOW_SECONDS}


def _prune(failures: deque[float], now: float) -> deque[float]:
    while failures and now - failures[0] >= LOGIN_WINDOW_SECONDS:
        failures.popleft()
    return failures
