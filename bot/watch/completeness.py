"""When is a checkpoint finished?  When its size (and mtime or ETag) has stayed the same for a
settle time across scans, and it parses.

Writers do not say when they are done: Keras and h5py write in place, copies and uploads
grow a file over seconds.  So a version (size + stamp) must be seen unchanged on two scans at
least `settle_s` apart before it is inspected; if it then does not parse (a writer paused
mid-file), it is retried with a growing pause, and any change to the file starts over.  A
version that still does not parse after `MAX_PARSE_ATTEMPTS` is not a model: it is dropped
until the file changes again.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.watch.scanner import Observation

# Five tries with the pause doubling from the settle time: at the default 5 s settle a file is
# given ~2.5 minutes of stillness to become readable before it is called not-a-model.
MAX_PARSE_ATTEMPTS = 5


@dataclass
class _Seen:
    version: str
    first_seen: float
    retry_at: float = 0.0
    attempts: int = 0
    finished: bool = False  # announced, claimed elsewhere, or given up on


class Stability:
    """Per-file memory of one watcher: which versions are still, which were tried, which are done."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self._files: dict[str, _Seen] = {}

    def ready(self, observations: list[Observation], now: float) -> list[Observation]:
        """The observations to inspect now: unchanged for settle_s, not done, not backing off."""
        current = {o.uri for o in observations}
        for gone in [uri for uri in self._files if uri not in current]:
            del self._files[gone]
        out = []
        for obs in observations:
            seen = self._files.get(obs.uri)
            if seen is None or seen.version != obs.version:
                self._files[obs.uri] = _Seen(obs.version, first_seen=now)
                continue
            if seen.finished or now < seen.retry_at or now - seen.first_seen < self.settle_s:
                continue
            out.append(obs)
        return out

    def finished(self, obs: Observation) -> None:
        """This version needs no more work from this watcher."""
        seen = self._files.get(obs.uri)
        if seen is not None and seen.version == obs.version:
            seen.finished = True

    def did_not_parse(self, obs: Observation, now: float) -> bool:
        """Schedule a retry; False once the version has had all its attempts (then it is dropped)."""
        seen = self._files.get(obs.uri)
        if seen is None or seen.version != obs.version:
            return True
        seen.attempts += 1
        if seen.attempts >= MAX_PARSE_ATTEMPTS:
            seen.finished = True
            return False
        seen.retry_at = now + self.settle_s * 2 ** (seen.attempts - 1)
        return True

    def next_due(self, now: float) -> float | None:
        """Seconds until the earliest unfinished file may be ready (0 if one is), None if none waits."""
        waits = [max(s.first_seen + self.settle_s, s.retry_at) - now for s in self._files.values() if not s.finished]
        return max(0.0, min(waits)) if waits else None

    def pending(self) -> int:
        return sum(1 for s in self._files.values() if not s.finished)
