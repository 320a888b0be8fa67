"""Brute-force guard for logins: failures counted per user name and per client address in a sliding window."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import defaultdict, deque

# At most MAX_FAILURES failed logins per WINDOW seconds for one user name, and for one client address
# ($TESSERA_LOGIN_MAX_FAILURES, $TESSERA_LOGIN_WINDOW_SECONDS). Kept in this process's memory: `tessera serve`
# runs one process, and a restart forgives recent failures (the audit log keeps them).
MAX_FAILURES = 5
WINDOW = 60.0


class LoginLimiter:
    """Sliding-window failure counts; `retry_after` says how long a key must wait, 0 when it may try now."""

    def __init__(self, max_failures: int | None = None, window: float | None = None, clock=time.monotonic):
        self.max_failures = max_failures or int(os.environ.get("TESSERA_LOGIN_MAX_FAILURES", MAX_FAILURES))
        self.window = window or float(os.environ.get("TESSERA_LOGIN_WINDOW_SECONDS", WINDOW))
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def retry_after(self, *keys: str) -> int:
        """Whole seconds until every key is under its limit again (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._trim(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[len(times) - self.max_failures] + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._trim(key, now)
                self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        """Forget a key's failures (the user name after a correct password; never the address)."""
        with self._lock:
            self._failures.pop(key, None)
