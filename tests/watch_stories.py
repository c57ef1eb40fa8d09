"""Helpers for the watcher stories: a `ckptbot watch` subprocess, slow writers, bounded waits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "keras"
BOT_TOKEN = "xoxb-watch-test"
# Short enough that stories finish quickly, long enough that a chunk written per 0.8 s is
# "still being written" to a watcher that needs the file unchanged for this long.
TEST_INTERVAL_S = 0.3
WAIT_FOR_POST_S = 60.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_URL", "CKPTBOT_"))}
    env.update(extra)
    return env


class WatcherProcess:
    """`ckptbot watch TARGET --channel C --interval S` as a user starts it; stopped by SIGTERM."""

    def __init__(self, target: str, channel: str, *, api_url: str, redis_url: str | None,
                 log_path: Path, interval: float = TEST_INTERVAL_S, extra_env: dict[str, str] | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=api_url, **(extra_env or {}))
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "watch", target, "--channel", channel,
             "--interval", str(interval), *extra_args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "watching " in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"watcher exited: {self.log_path.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"watcher did not start: {self.log_path.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def copy_in(src: Path, dest: Path) -> Path:
    """A finished checkpoint appears: written under a temporary name, then renamed (as most
    writers finish), so the watcher never sees it half-written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return dest


def names_posted(posts: list[dict]) -> list[str]:
    """The checkpoint file name each post announces (from the fallback text's first line)."""
    out = []
    for post in posts:
        first = post["text"].splitlines()[0]
        assert first.startswith("New checkpoint "), first
        out.append(first.removeprefix("New checkpoint ").split(" in ")[0])
    return out
