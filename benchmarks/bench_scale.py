"""Queue mode under load and faults: 2 bot replicas + N workers on one redis-server, loopback only.

    python benchmarks/bench_scale.py [--requests 1000] [--window 60] [--workers 2] [--throughput-jobs 24]

Part 1 (faults): a mixed load of slash commands and @mentions, sent at a steady rate over a fixed
window to two `ckptbot serve` replicas (CKPTBOT_QUEUE=rq) round-robin, as a load balancer would:
repeats of earlier questions (cache hits), cold local files, cold remote files behind
tests/servers/range_server.py with injected latency, broken files.  During the window one worker
is SIGKILLed (and replaced, as an orchestrator would), one replica is SIGKILLed (the balancer sends
its traffic to the other), and Redis is SIGKILLed and restarted from its append-only file.  Like
Slack, the sender redelivers an event that got no 2xx (X-Slack-Retry-Num); a command whose replica
died under it is asked again by its person.  Prints acks p50/p99, answers p50/p99, lost answers,
duplicate answers and inspections per artifact.

Part 2 (throughput): the same cold questions answered by 1, 2 and 4 workers, side by side.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import psutil  # noqa: E402

from tests.queue_processes import WorkerProcess, queue_env, wait_until  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.slack_bot_process import BotProcess  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "keras"
SOURCES = ["tfk__legacy_adam__save.h5", "k3__conv__save.keras", "k3__toy__save.keras", "tfk__many__save.h5"]
REMOTE_LATENCY_MS = 40


class Artifacts:
    def __init__(self, root: Path, tag: str, n_local: int, n_remote: int, n_broken: int, remote_url: str) -> None:
        self.refs: list[str] = []
        (root / "local").mkdir(parents=True, exist_ok=True)
        (root / "remote").mkdir(parents=True, exist_ok=True)
        for i in range(n_local):
            src = SOURCES[i % len(SOURCES)]
            dst = root / "local" / f"{tag}-{i}-{src}"
            shutil.copy(FIXTURES / src, dst)
            self.refs.append(str(dst))
        for i in range(n_remote):
            src = SOURCES[i % 3]
            shutil.copy(FIXTURES / src, root / "remote" / f"{tag}-r{i}-{src}")
            self.refs.append(f"{remote_url}/{tag}-r{i}-{src}")
        rng = random.Random(7)
        for i in range(n_broken):
            dst = root / "local" / f"{tag}-broken{i}.h5"
            dst.write_bytes(b"\x89HDF\r\n\x1a\n" + rng.randbytes(2048))
            self.refs.append(str(dst))


class Tracker:
    """Requests sent, when their ack came back, and which answers Slack received for each."""

    def __init__(self, slack: SlackStandIn) -> None:
        self.slack = slack
        self.sent: dict[str, float] = {}  # request key → first send (monotonic)
        self.acks: list[float] = []
        self.kinds: dict[str, str] = {}
        self.lock = threading.Lock()
        self.reasked = 0  # commands acknowledged with "queue not reachable, ask again"

    def answers(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {k: [] for k in self.sent}
        for c in self.slack.calls_to("response_url"):
            key = c.path.rsplit("/", 1)[-1]
            if key in out and c.args.get("replace_original") is False:
                out[key].append(c.at)
        placeholder = {}
        for c in self.slack.calls_to("chat.postMessage"):
            key = "m" + str(c.args.get("thread_ts", "")).split(".")[0]
            if key in out:
                if c.args.get("blocks"):
                    out[key].append(c.at)
                else:
                    placeholder[c.reply_ts] = key
        for c in self.slack.calls_to("chat.update"):
            key = placeholder.get(c.args.get("ts"))
            if key and c.args.get("blocks"):
                out[key].append(c.at)
        return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def kill_tree(pid: int) -> None:
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait()


def start_range_server(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.range_server", str(root),
                             "--latency-ms", str(REMOTE_LATENCY_MS)], cwd=REPO, stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def send_one(bots: list, alive: list, tracker: Tracker, key: str, ref: str, i: int) -> None:
    """Deliver like Slack + a load balancer: any live replica; events redelivered until a 2xx."""
    tracker.sent[key] = time.monotonic()
    attempt = 0
    while attempt < 30:
        bot = bots[alive[(i + attempt) % len(alive)]]
        t0 = time.monotonic()
        try:
            if key.startswith("c"):
                status, body = bot.sender.command(ref, tracker.slack.response_url(key), user=f"U{i % 40}")
            else:
                event = {"type": "app_mention", "user": f"U{i % 40}", "text": f"<@UBOT> {ref}",
                         "ts": f"{key[1:]}.1", "channel": "C111", "event_ts": f"{key[1:]}.1"}
                status, body = bot.sender.event(event, event_id=f"Ev{key}", retry_num=attempt or None)
        except OSError:
            status, body = 0, ""  # the replica died under us: the balancer tries another
        if status == 200 and key.startswith("c") and "not reachable" in body:
            with tracker.lock:  # the person was told to ask again: they do (same request key)
                tracker.acks.append(time.monotonic() - t0)
                tracker.reasked += 1
            attempt += 1
            time.sleep(1.0)
            continue
        if status == 200:
            with tracker.lock:
                tracker.acks.append(time.monotonic() - t0)
            return
        attempt += 1
        time.sleep(0.2 if status == 0 else 1.0)  # Slack's first retry is at once; give Redis a moment


def part_faults(args: argparse.Namespace, work: Path) -> dict:
    slack = SlackStandIn().start()
    redis = RedisServer(work / "redis", extra_args=("--appendonly", "yes", "--appendfsync", "always")).start()
    rs, remote_url = start_range_server(work / "faults" / "remote")
    arts = Artifacts(work / "faults", "f", n_local=24, n_remote=12, n_broken=6, remote_url=remote_url)
    env = queue_env(redis.url, CKPTBOT_LOCAL_ROOTS=str(work / "faults" / "local"))
    bots = [BotProcess(slack, work, **env).__enter__() for _ in range(2)]
    workers = [WorkerProcess(slack, work, **env).start() for _ in range(args.workers)]
    tracker = Tracker(slack)
    rng = random.Random(1)
    plan = []
    for i in range(args.requests):
        ref = arts.refs[i] if i < len(arts.refs) else rng.choice(arts.refs)  # every artifact cold once, then repeats
        plan.append((("c" if i % 2 else "m") + f"{100000 + i}", ref, i))
    alive = [0, 1]
    faults: list[str] = []

    def inject() -> None:
        time.sleep(args.window * 0.25)
        workers[0].kill()
        faults.append(f"{time.monotonic() - t_start:.1f} s: SIGKILL worker 1 (a replacement starts)")
        workers.append(WorkerProcess(slack, work, **env).start())
        time.sleep(max(0.0, args.window * 0.5 - (time.monotonic() - t_start)))
        alive.remove(1)
        kill_tree(bots[1].proc.pid)
        faults.append(f"{time.monotonic() - t_start:.1f} s: SIGKILL replica 2 (traffic goes to replica 1)")
        time.sleep(max(0.0, args.window * 0.75 - (time.monotonic() - t_start)))
        redis.restart_keeping_data()
        faults.append(f"{time.monotonic() - t_start:.1f} s: SIGKILL redis-server, restarted from its AOF")

    pool = ThreadPoolExecutor(max_workers=48)
    t_start = time.monotonic()
    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    for n, (key, ref, i) in enumerate(plan):
        due = t_start + n * args.window / len(plan)
        time.sleep(max(0.0, due - time.monotonic()))
        pool.submit(send_one, bots, alive, tracker, key, ref, i)
    pool.shutdown(wait=True)
    injector.join()
    try:
        wait_until(lambda: all(tracker.answers().values()), args.drain, "every answer", step=0.5)
    except AssertionError:
        pass
    time.sleep(3)  # late duplicates, if any, would land now (the figures below are counts, not timings)
    answers = tracker.answers()
    from bot.cache.redis_cache import RedisCache

    computes = RedisCache(redis.url).stats()["shared"].get("computes", 0)
    result = {
        "requests": len(plan), "acks": tracker.acks, "faults": faults,
        "answer_latency": [min(v) - tracker.sent[k] for k, v in answers.items() if v],
        "lost": sum(1 for v in answers.values() if not v),
        "duplicates": sum(len(v) - 1 for v in answers.values() if len(v) > 1),
        "artifacts": len(arts.refs), "computes": computes, "reasked": tracker.reasked,
    }
    for w in workers:
        w.__exit__()
    for b in bots:
        if b.proc.poll() is None:
            b.__exit__()
    rs.kill()
    redis.kill()
    slack.stop()
    return result


def part_throughput(n_workers: int, jobs: int, work: Path) -> float:
    root = work / f"tp{n_workers}"
    slack = SlackStandIn().start()
    redis = RedisServer(root / "redis").start()
    rs, remote_url = start_range_server(root / "remote")
    arts = Artifacts(root, f"t{n_workers}", n_local=jobs * 2 // 3, n_remote=jobs - jobs * 2 // 3, n_broken=0,
                     remote_url=remote_url)
    env = queue_env(redis.url, CKPTBOT_LOCAL_ROOTS=str(root / "local"))
    bot = BotProcess(slack, root, **env).__enter__()
    workers = [WorkerProcess(slack, root, **env).start() for _ in range(n_workers)]
    t0 = time.monotonic()
    for i, ref in enumerate(arts.refs):
        bot.sender.command(ref, slack.response_url(f"t{i}"))
    done = lambda: len([c for c in slack.calls_to("response_url") if c.args.get("replace_original") is False])
    wait_until(lambda: done() >= len(arts.refs), 600, "every answer", step=0.2)
    rate = len(arts.refs) / (time.monotonic() - t0)
    for w in workers:
        w.__exit__()
    bot.__exit__()
    rs.kill()
    redis.kill()
    slack.stop()
    return rate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--drain", type=float, default=300.0)
    p.add_argument("--throughput-jobs", type=int, default=24)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"cores: {os.cpu_count()}; load: {args.requests} questions over {args.window:.0f} s, "
          f"2 replicas, {args.workers} workers", flush=True)
    r = part_faults(args, work)
    for f in r["faults"]:
        print("  fault at", f)
    print(f"acks      p50 {percentile(r['acks'], 50) * 1000:.0f} ms  p99 {percentile(r['acks'], 99) * 1000:.0f} ms"
          f"  (max {max(r['acks']) * 1000:.0f} ms, {len(r['acks'])} acked)")
    print(f"answers   p50 {percentile(r['answer_latency'], 50):.2f} s  p99 {percentile(r['answer_latency'], 99):.2f} s")
    print(f"lost answers {r['lost']}   duplicate answers {r['duplicates']}   "
          f"commands told 'queue not reachable, ask again' {r['reasked']}")
    print(f"inspections {r['computes']} for {r['artifacts']} artifacts "
          f"({r['computes'] / r['artifacts']:.2f} per artifact)", flush=True)
    rates = {n: part_throughput(n, args.throughput_jobs, work) for n in (1, 2, 4)}
    print("throughput (cold questions answered per second): " +
          "   ".join(f"{n} worker{'s' if n > 1 else ''}: {v:.2f}/s" for n, v in rates.items()))
    print(f"  ratios: 2/1 = {rates[2] / rates[1]:.2f}x, 4/1 = {rates[4] / rates[1]:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
