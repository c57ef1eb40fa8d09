"""`ckptbot serve` as a subprocess, configured to talk to the Slack stand-in, as in production.

    with BotProcess(standin, tmp_path, redis_url=...) as bot:
        bot.sender.command("/data/model.h5", standin.response_url("c1"))

Only 127.0.0.1 is contacted: SLACK_API_URL points at the stand-in, CKPTBOT_ALLOWED_HOSTS and
SLACK_FILE_HOSTS admit it (the token goes to it as it would to files.slack.com).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.slack_sender import SlackSender
from tests.slack_standin import SlackStandIn

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(standin: SlackStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CKPTBOT_", "REDIS_URL"))}
    env.update(SLACK_BOT_TOKEN=standin.bot_token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_URL=standin.api_url, SLACK_FILE_HOSTS="127.0.0.1",
               CKPTBOT_ALLOWED_HOSTS="127.0.0.1", PYTHONUNBUFFERED="1", SKIP_SLACK_SDK_WARNING="1")
    env.update(extra)
    return env


class BotProcess:
    def __init__(self, standin: SlackStandIn, log_dir: Path, *args: str, **env: str) -> None:
        self.args = args  # e.g. "--socket"
        self.port = free_port()
        self.env = bot_env(standin, **env)
        self.log_path = Path(log_dir) / f"bot-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.sender = SlackSender(f"http://127.0.0.1:{self.port}/slack/events", SIGNING_SECRET)

    def __enter__(self) -> "BotProcess":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port), *self.args],
                                     env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ckptbot serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise AssertionError(f"ckptbot serve did not answer /healthz:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
