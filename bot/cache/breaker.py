"""A circuit breaker: after a few failures in a row, stop asking Redis for a while.

States, as in every breaker (pybreaker, Hystrix):

* closed     calls go through; `fail_max` consecutive failures open it
* open       calls are refused at once (0 ms) until `reset_timeout` has passed
* half-open  exactly one probe call goes through; success closes, failure re-opens

The breaker only keeps score; the caller reports each outcome.  `on_open` fires once per
outage (closed -> open), not on every failed probe, so an outage is logged once; `on_close`
fires when a probe succeeds after an outage.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

# Three timeouts in a row at 250 ms each is under a second of wasted waiting before the
# breaker answers in 0 ms; one flaky packet does not open it.
FAIL_MAX = 3
# How long an open breaker refuses before one request probes Redis again.  A probe against
# a hung Redis costs that one request one socket timeout (250 ms), so probing every 5 s is
# cheap, and a restarted Redis is back in use within 5 s.
RESET_TIMEOUT_SECONDS = 5.0

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class RedisUnavailable(Exception):
    """Redis did not answer (down, hung, refused, breaker open, or a server error)."""


class CircuitBreaker:
    def __init__(
        self,
        fail_max: int = FAIL_MAX,
        reset_timeout: float = RESET_TIMEOUT_SECONDS,
        *,
        on_open: Callable[[BaseException | None], None] | None = None,
        on_close: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._on_open = on_open
        self._on_close = on_close
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started = 0.0
        self.opened_count = 0  # outages seen by this process, for stats

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """May the caller talk to Redis now?  In half-open state only one caller may."""
        with self._lock:
            if self._state == CLOSED:
                return True
            now = self._clock()
            if self._state == OPEN:
                if now - self._opened_at < self.reset_timeout:
                    return False
                self._state = HALF_OPEN
                self._probe_started = now
                return True
            # HALF_OPEN: a probe is out.  If its caller never reported (it died), let another try.
            if now - self._probe_started >= self.reset_timeout:
                self._probe_started = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            was_broken = self._state != CLOSED
            self._state = CLOSED
            self._failures = 0
        if was_broken and self._on_close:
            self._on_close()

    def record_failure(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._failures += 1
            newly_open = False
            if self._state == HALF_OPEN:
                self._state = OPEN  # the same outage continues: no new on_open
                self._opened_at = self._clock()
            elif self._state == CLOSED and self._failures >= self.fail_max:
                self._state = OPEN
                self._opened_at = self._clock()
                self.opened_count += 1
                newly_open = True
        if newly_open and self._on_open:
            self._on_open(error)
