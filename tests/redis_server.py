"""Real redis-server processes for tests: started on free loopback ports, never 6379.

    server = RedisServer(tmp_path).start()
    server.url            -> "redis://127.0.0.1:<port>/0"
    server.kill()         SIGKILL (a crash); server.restart() brings it back on the same port
    server.pause()        SIGSTOP (hung: accepts connections, never answers); server.resume()

Persistence is off (`--save "" --appendonly no`): a restart is an empty Redis, like a
crashed cache node.  The `redis_server` fixture always resumes and kills its process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.extra_args = extra_args
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        if not os.path.exists(REDIS_SERVER):
            message = "redis-server is not installed (.ci/run installs Debian's redis-server)"
            if os.environ.get("CI"):  # CI must run every Redis story, never skip them
                pytest.fail(message)
            pytest.skip(message)
        self._log = open(self.workdir / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
             "--daemonize", "no", "--loglevel", "warning", "--protected-mode", "no",
             *self.extra_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ping(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.workdir}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)
        self.paused = False
        return self

    def kill(self) -> None:
        """SIGKILL, as in a crash or OOM kill; waits until the process is gone."""
        if self.proc is None:
            return
        if self.paused:
            self.resume()
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self._log.close()

    def restart(self) -> "RedisServer":
        """A fresh, empty Redis on the same port."""
        self.kill()
        return self.start()

    def restart_keeping_data(self) -> "RedisServer":
        """SIGKILL, then a new redis-server on the same port and directory (with --appendonly yes it
        reloads everything that was fsynced)."""
        self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, Redis never answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.kill()
