"""`ckptbot worker` as a subprocess (its own session, so SIGKILL takes its parser children too).

    with WorkerProcess(standin, tmp_path, REDIS_URL=..., CKPTBOT_LOCAL_ROOTS=...) as worker:
        worker.terminate()      # SIGTERM: warm shutdown
        worker.kill()           # SIGKILL to the whole process group, as when a machine dies

`queue_env(...)` is the environment bot replicas and workers share in queue mode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.slack_bot_process import ROOT, bot_env
from tests.slack_standin import SlackStandIn

START_TIMEOUT_SECONDS = 60.0
_count = iter(range(1, 10**6))


def queue_env(redis_url: str, **extra: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "CKPTBOT_QUEUE": "rq", **extra}


def wait_until(condition, timeout: float, what: str, step: float = 0.05):
    """Poll `condition` until truthy (returned) or fail after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class WorkerProcess:
    def __init__(self, standin: SlackStandIn, log_dir: Path, *args: str, **env: str) -> None:
        self.args = args
        self.env = bot_env(standin, **env)
        self.log_path = Path(log_dir) / f"worker-{os.getpid()}-{next(_count)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", *self.args], env=self.env, cwd=ROOT,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: "Listening on" in self.log() or self.proc.poll() is not None, START_TIMEOUT_SECONDS,
                   f"worker to listen:\n{self.log()}")
        if self.proc.poll() is not None:
            raise AssertionError(f"ckptbot worker exited {self.proc.returncode}:\n{self.log()}")
        return self

    __enter__ = start

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (its parser children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # leftover parser children
            except ProcessLookupError:
                pass
