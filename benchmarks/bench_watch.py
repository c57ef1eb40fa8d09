"""How long after a checkpoint is finished does the channel hear about it?  inotify vs polling,
side by side, plus what one scan of a folder costs.

    python benchmarks/bench_watch.py [--interval S] [--files N]

Each row: a watcher (the real TargetWatcher, the real isolated inspection, a throwaway
redis-server, the Slack stand-in) watches a folder; N checkpoints are renamed into it one at a
time, and the time from the rename to the stand-in receiving chat.postMessage is recorded.
The settle time equals the interval, as `ckptbot watch` sets it.  Expectation: polling waits
1.5 intervals on average (half to notice, one to settle) + inspection; inotify notices at once,
so ~1 interval + inspection.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from redis_server import RedisServer  # noqa: E402
from watch_slack_standin import SlackStandin  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.watch import EVENT_DEBOUNCE_S, _next_wait, make_announcer  # noqa: E402
from bot.watch.loop import TargetWatcher, Waker  # noqa: E402
from bot.watch.scanner import name_filter, scan_local  # noqa: E402

FIXTURE = REPO / "tests/fixtures/keras/k3__toy__save.keras"


def run_watcher(watcher: TargetWatcher, waker: Waker | None, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        watcher.scan(["CBENCH"])  # the same loop as ckptbot watch's _watch_forever
        wait = _next_wait(watcher, interval)
        if waker:
            waker.wait(wait)
            time.sleep(EVENT_DEBOUNCE_S)
        else:
            stop.wait(wait)


def latencies(mode: str, interval: float, files: int, redis_url: str, workdir: Path) -> list[float]:
    folder = workdir / mode
    folder.mkdir()
    out = []
    with SlackStandin() as slack:
        settings = Settings(SLACK_BOT_TOKEN="xoxb-bench", SLACK_API_URL=slack.api_url, REDIS_URL=redis_url)
        watcher = TargetWatcher(str(folder), make_announcer(settings, allow_any_local=True), pattern=None,
                                settle_s=interval)
        waker = Waker(str(folder)) if mode == "inotify" else None
        if waker:
            assert waker.start() == "inotify", "inotify is not available here"
        stop = threading.Event()
        thread = threading.Thread(target=run_watcher, args=(watcher, waker, interval, stop), daemon=True)
        thread.start()
        try:
            for i in range(files):
                time.sleep(interval * 0.37)  # land at different phases of the poll cycle
                tmp = folder / f"ckpt-{i}.keras.tmp"
                shutil.copyfile(FIXTURE, tmp)
                started = time.time()
                os.replace(tmp, folder / f"ckpt-{i}.keras")
                posts = slack.wait_for_posts(i + 1, timeout=60)
                assert len(posts) == i + 1, "no announcement within 60 s"
                out.append(posts[-1]["at"] - started)
        finally:
            stop.set()
            thread.join(10)
            if waker:
                waker.stop()
    return out


def scan_cost(workdir: Path, n_files: int) -> float:
    folder = workdir / "big"
    for i in range(n_files):
        sub = folder / f"run{i % 20}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"ckpt-{i}.h5").write_bytes(b"x")
    wanted = name_filter(None)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        scan_local(str(folder), wanted)
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis").start()
        try:
            rows = {mode: latencies(mode, args.interval, args.files, redis.url, work)
                    for mode in ("inotify", "polling")}
        finally:
            redis.kill()
        print(f"rename -> chat.postMessage, interval = settle = {args.interval:g} s, {args.files} files each")
        print(f"{'mode':<10}{'median s':>10}{'min s':>8}{'max s':>8}{'ratio':>8}")
        base = statistics.median(rows["inotify"])
        for mode, values in rows.items():
            med = statistics.median(values)
            print(f"{mode:<10}{med:>10.2f}{min(values):>8.2f}{max(values):>8.2f}{med / base:>8.2f}")
        print(f"one scan of a folder with 2,000 checkpoint files in 20 runs: {scan_cost(work, 2000):.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
