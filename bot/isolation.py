"""Untrusted bytes are parsed in a child process under limits (security.md §3.2).

HDF5 has a steady stream of crafted-file CVEs, h5py holds one global lock for every call,
and byte-flipped files exist that make `attrs.get("model_config")` spin forever
(tests/fixtures/hostile/): no in-process check can contain that.  So the source and the
analysis run in a child with `RLIMIT_AS` (memory), `RLIMIT_CPU`, `RLIMIT_FSIZE` and a wall
timeout; a crash, hang or memory blow-up becomes a not-a-model Report with code `corrupt`,
`timeout` or `limit`, and the parent carries on.

* `analyze_isolated()` (the CLI): one forked child per inspection.  The CLI parent has not
  imported h5py or started threads, so fork is cheap and safe.
* `ParserPool` (the long-running bot, which has threads): pre-started workers
  (`python -m bot.isolation`), each replaced after any failure, so a hang costs one worker
  for at most the wall timeout and healthy files keep flowing.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import math
import os
import queue
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from bot.errors import CkptbotError, ErrorCode
from bot.report import Report

if TYPE_CHECKING:
    from bot.config import Settings

# The child checks its own wall budget (sources/limits.py); the kill comes this much later.
KILL_GRACE_SECONDS = 2.0
MAX_RESULT_BYTES = 16 * 1024 * 1024  # a Report of 10k layers is ~5 MB of JSON
CHILD_OPEN_FILES = 256  # sockets, the file, botocore's data files; a file cannot open more
_FRAME = struct.Struct("!I")

Reader = Callable[[Any], Report]
_address_limit: tuple[int, int] = (0, 0)  # (pid, bytes) of the address-space limit set in this process


def _limits(settings: "Settings", remote: bool) -> None:
    """Set in the child before it touches the bytes.  CPU soft < hard: SIGXCPU comes first."""
    cpu = max(1, math.ceil(settings.max_wall_seconds))
    used = math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                     + resource.getrusage(resource.RUSAGE_SELF).ru_stime)
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + cpu
    if cpu_hard == resource.RLIM_INFINITY or soft < cpu_hard:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
    # A forked child starts with its parent's address space (large if the parent imported
    # TensorFlow): the limit is what the parser may add to it.
    global _address_limit
    if _address_limit[0] != os.getpid():  # once per process: a worker's limit must not creep up
        _address_limit = (os.getpid(), _address_space_now() + settings.parser_memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (_address_limit[1], _address_limit[1]))
    # A remote file whose server ignores Range is downloaded to a temp file: bounded by the
    # byte budget.  Reading a local file needs no writes at all.
    fsize = settings.max_read_bytes if remote else 0
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, settings.max_read_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (CHILD_OPEN_FILES, CHILD_OPEN_FILES))


def _address_space_now() -> int:
    """This process's virtual size in bytes (Linux /proc), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _is_remote(reference: str, slack_file: bool) -> bool:
    return slack_file or reference.strip().lower().startswith(("http://", "https://", "s3://"))


def _load_reader(reader: str | None) -> Reader:
    if reader is None:
        from bot.analysis import read_report

        return read_report
    module, _, name = reader.partition(":")
    fn: Reader = getattr(importlib.import_module(module), name)
    return fn


def report_for(reference: str, settings: "Settings", allow_any_local: bool, slack_file: bool,
               reader: Reader) -> Report:
    """Resolve, open and read: what the child does.  Errors become Reports here."""
    try:
        from bot.sources import resolve, slack_file_source

        source = slack_file_source(reference, settings) if slack_file else \
            resolve(reference, settings, allow_any_local=allow_any_local)
        return reader(source.artifact())
    except CkptbotError as exc:
        return Report.for_error(reference, exc.code, exc.message)
    except MemoryError:
        return Report.for_error(reference, ErrorCode.LIMIT, _memory_message(settings))
    except RecursionError:
        return Report.for_error(reference, ErrorCode.CORRUPT)
    except Exception as exc:  # noqa: BLE001 - a parser bug on hostile bytes is still an answer
        return Report.for_error(reference, ErrorCode.INTERNAL,
                            f"ckptbot failed on this file ({type(exc).__name__}); this is a bug.")


def _memory_message(settings: "Settings") -> str:
    from bot.messages import human_bytes

    return (f"Reading this file needed more than the parser's "
            f"{human_bytes(settings.parser_memory_bytes)} memory limit (CKPTBOT_PARSER_MEMORY_BYTES).")


def failure_report(reference: str, settings: "Settings", outcome: str) -> Report:
    """The Report for a child that did not answer: killed, crashed or out of memory."""
    if outcome == "timeout":
        return Report.for_error(reference, ErrorCode.TIMEOUT,
                            f"Inspecting this file took longer than {settings.max_wall_seconds:g} s, so I "
                            "stopped. The file may be damaged or built to hang readers.")
    if outcome == "limit":
        return Report.for_error(reference, ErrorCode.LIMIT, _memory_message(settings))
    return Report.for_error(reference, ErrorCode.CORRUPT,
                        "The parser crashed on this file, so it is damaged or crafted; nothing was read "
                        "from it.")


def _outcome_of_status(status: int) -> str:
    """What a child's wait status means: SIGXCPU ran out of CPU time, others crashed."""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        return "timeout"
    return "corrupt"  # crashed, or exited without a result


def _decode(payload: bytes, reference: str, settings: "Settings") -> Report:
    try:
        return Report.from_json(payload)
    except (ValueError, KeyError, TypeError):
        return failure_report(reference, settings, "corrupt")


# -- the CLI: one forked child ---------------------------------------------------------

def analyze_isolated(reference: str, settings: "Settings", *, allow_any_local: bool = False,
                     slack_file: bool = False, reader: str | Reader | None = None) -> Report:
    """Inspect `reference` in one forked child under limits; always returns a Report.

    `reader` replaces `bot.analysis.read_report` (tests use stand-ins that hang or crash).
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(r)
            os.setsid()
            faulthandler.disable()  # a crash is reported by the parent, not dumped on the terminal
            _limits(settings, _is_remote(reference, slack_file))
            fn = reader if callable(reader) else _load_reader(reader)
            report = report_for(reference, settings, allow_any_local, slack_file, fn)
            _write_all(w, report.to_json(indent=None).encode())
            status = 0
        except MemoryError:
            status = 3
        except BaseException:  # noqa: BLE001 - the parent turns any exit into a Report
            status = 1
        finally:
            os._exit(status)
    os.close(w)
    deadline = time.monotonic() + settings.max_wall_seconds + KILL_GRACE_SECONDS
    payload, complete = _read_until(r, deadline)
    os.close(r)
    if not complete:
        _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    if complete and payload:
        return _decode(payload, reference, settings)
    if not complete:
        return failure_report(reference, settings, "timeout")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
        return failure_report(reference, settings, "limit")
    return failure_report(reference, settings, _outcome_of_status(status))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything the child writes until it closes the pipe, or (partial, False) at the deadline."""
    chunks: list[bytes] = []
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        total += len(chunk)
        if total > MAX_RESULT_BYTES:
            return b"", False
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


# -- the bot: a pool of pre-started workers ---------------------------------------------

def _settings_as_env(settings: "Settings") -> dict[str, Any]:
    """Settings as constructor arguments (their environment names), for a worker process."""
    out: dict[str, Any] = {}
    for name, field in type(settings).model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else name
        out[alias] = getattr(settings, name)
    return out


def _send_frame(fd: int, data: bytes) -> None:
    _write_all(fd, _FRAME.pack(len(data)) + data)


def _recv_frame(fd: int, deadline: float | None) -> bytes | None:
    """One length-prefixed message; None on EOF; TimeoutError when the deadline passes."""
    def read_exact(n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(fd, min(1 << 16, n - len(buf)))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    header = read_exact(_FRAME.size)
    if header is None:
        return None
    (length,) = _FRAME.unpack(header)
    if length > MAX_RESULT_BYTES:
        return None
    return read_exact(length)


def worker_main(task_fd: int, result_fd: int) -> None:
    """A pool worker: settings first, then one task per frame, one Report per task."""
    from bot.config import Settings

    faulthandler.disable()
    settings = Settings(**json.loads(_recv_frame(task_fd, None) or b"{}"))
    _limits(settings, remote=True)
    import bot.analysis  # noqa: F401 - warm: the first task should not pay for h5py's import

    while True:
        frame = _recv_frame(task_fd, None)
        if frame is None:
            return
        task = json.loads(frame)
        # A fresh CPU allowance on top of what was used; no file writes for local files.
        _limits(settings, remote=task["slack_file"] or _is_remote(task["reference"], False))
        fn = _load_reader(task.get("reader"))
        report = report_for(task["reference"], settings, task["allow_any_local"], task["slack_file"], fn)
        _send_frame(result_fd, report.to_json(indent=None).encode())


class _Worker:
    def __init__(self, settings: "Settings") -> None:
        task_r, self.task_w = os.pipe()
        self.result_r, result_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = (f"import sys; sys.path.insert(0, {root!r}); from bot.isolation import worker_main; "
                f"worker_main({task_r}, {result_w})")
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(task_r, result_w),
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        os.close(task_r)
        os.close(result_w)
        self.fds: tuple[int, ...] = (self.task_w, self.result_r)
        _send_frame(self.task_w, json.dumps(_settings_as_env(settings), default=str).encode())

    def kill(self) -> None:
        """Idempotent: a second close could hit a descriptor another thread reused."""
        if self.proc.returncode is None:
            _kill_group(self.proc.pid)
            self.proc.wait()
        fds, self.fds = self.fds, ()
        for fd in fds:
            os.close(fd)


class ParserPool:
    """Pre-started parser workers for the bot; a worker that fails in any way is replaced.

    `submit()` is thread-safe and blocks until a worker is free and has answered (or was
    killed at the wall timeout).  `replaced` counts workers replaced after failures.
    """

    def __init__(self, size: int, settings: "Settings", *, reader: str | None = None) -> None:
        self.settings = settings
        self.reader = reader
        self.size = size
        self.replaced = 0
        self._idle: "queue.Queue[_Worker]" = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._all: set[_Worker] = set()
        for _ in range(size):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = _Worker(self.settings)
        with self._lock:
            if self._closed:
                worker.kill()
                return
            self._all.add(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill (again, harmlessly) and start a fresh worker in the background."""
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.replaced += 1
        threading.Thread(target=self._add_worker, name="ckptbot-parser-start", daemon=True).start()

    def submit(self, reference: str, *, allow_any_local: bool = False, slack_file: bool = False) -> Report:
        worker = self._idle.get()
        task = {"reference": reference, "allow_any_local": allow_any_local, "slack_file": slack_file,
                "reader": self.reader}
        deadline = time.monotonic() + self.settings.max_wall_seconds + KILL_GRACE_SECONDS
        timed_out = False
        try:
            _send_frame(worker.task_w, json.dumps(task).encode())
            payload = _recv_frame(worker.result_r, deadline)
        except TimeoutError:
            payload, timed_out = None, True
        except OSError:
            payload = None
        if payload is None:
            if not timed_out:  # the worker died: its exit status says how
                try:
                    worker.proc.wait(KILL_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    pass
            worker.kill()
            outcome = "timeout" if timed_out else _outcome_of_status(_wait_status(worker.proc))
            self._replace(worker)
            return failure_report(reference, self.settings, outcome)
        report = _decode(payload, reference, self.settings)
        if report.error and report.error.code in (ErrorCode.LIMIT.value, ErrorCode.INTERNAL.value):
            self._replace(worker)  # out of memory or a bug: do not trust this process's state
        else:
            self._idle.put(worker)
        return report

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()

    def __enter__(self) -> "ParserPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_status(proc: subprocess.Popen) -> int:
    """Popen's returncode as an os.wait status (negative: killed by that signal)."""
    rc = proc.returncode if proc.returncode is not None else proc.wait()
    return (-rc) & 0x7F if rc < 0 else (rc & 0xFF) << 8
