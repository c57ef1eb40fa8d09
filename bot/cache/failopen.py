"""A Redis client that gives up fast: short timeouts, one retry, a circuit breaker.

redis-py 8's defaults wait 4.7 s for a GET against a stopped Redis and 58.6 s against a
hung one (security.md §6.1); Slack allows 3 s to acknowledge.  Here every call is bounded
by one socket timeout (250 ms), a dropped connection is retried once on a fresh socket
(that is what a Redis restart looks like to a pooled connection), timeouts are not retried,
and after `FAIL_MAX` failures the breaker answers "unavailable" in 0 ms.

Callers pass a function of the client; any Redis failure comes back as `RedisUnavailable`,
which the cache treats as a miss.  The outage is logged once, and its end once.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.cache.breaker import (
    FAIL_MAX,
    RESET_TIMEOUT_SECONDS,
    CircuitBreaker,
    RedisUnavailable,
)

log = logging.getLogger("ckptbot.cache")

T = TypeVar("T")

# Socket connect and read timeouts for every cache call.  Loopback and same-zone Redis
# answer in < 1 ms; 250 ms is 100x that and leaves most of Slack's 3 s ack budget
# (security.md §6.1 R1: 100-300 ms).
SOCKET_TIMEOUT_SECONDS = 0.25
# One retry, on connection errors only: a pooled socket closed by a Redis restart fails
# once, and the retry reconnects.  A timeout is not retried: it would double the wait.
RETRIES = 1
# Ping a pooled connection idle this long before reusing it (security.md §6.1 R1).
HEALTH_CHECK_INTERVAL_SECONDS = 30


def redact_url(url: str) -> str:
    """The URL without its password, fit for logs and `cache stats`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class FailOpenRedis:
    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
        fail_max: int = FAIL_MAX,
        reset_timeout: float = RESET_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.display_url = redact_url(url)
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), RETRIES, supported_errors=(redis.ConnectionError,)),
            retry_on_timeout=False,
            health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
            decode_responses=False,
        )
        self.breaker = CircuitBreaker(
            fail_max, reset_timeout, on_open=self._log_outage, on_close=self._log_recovery
        )
        self._errors_lock = threading.Lock()
        self.errors = 0  # failed calls in this process, for stats
        self._logged_kinds: set[str] = set()
        self.refused = 0  # calls the open breaker answered in 0 ms

    def call(self, fn: Callable[[redis.Redis], T]) -> T:
        """fn(client), or RedisUnavailable.  Never blocks longer than one socket timeout
        per command (plus one reconnect after a dropped connection)."""
        if not self.breaker.allow():
            with self._errors_lock:
                self.refused += 1
            raise RedisUnavailable("circuit breaker open")
        try:
            result = fn(self.client)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._count_error()
            self.breaker.record_failure(exc)
            raise RedisUnavailable(str(exc)) from exc
        except redis.RedisError as exc:
            # The server answered, with an error (OOM, READONLY replica...): Redis is up,
            # so the breaker is not involved, but this call still falls back to a miss.
            self._count_error()
            self.breaker.record_success()
            self._log_server_error_once(exc)
            raise RedisUnavailable(str(exc)) from exc
        self.breaker.record_success()
        return result

    def _count_error(self) -> None:
        with self._errors_lock:
            self.errors += 1

    def _log_server_error_once(self, exc: redis.RedisError) -> None:
        """A misconfigured Redis (READONLY replica, OOM) fails every call: say so once per kind."""
        kind = type(exc).__name__  # ReadOnlyError, OutOfMemoryError, ResponseError...
        with self._errors_lock:
            if kind in self._logged_kinds:
                return
            self._logged_kinds.add(kind)
        log.warning("Redis cache at %s answered with an error (%s); answering uncached",
                    self.display_url, exc)

    def _log_outage(self, error: BaseException | None) -> None:
        log.warning(
            "Redis cache at %s is unavailable (%s); answering uncached until it returns",
            self.display_url, error,
        )

    def _log_recovery(self) -> None:
        log.warning("Redis cache at %s is back; caching again", self.display_url)
