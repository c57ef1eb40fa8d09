"""Issue 2's speed and memory targets, measured side by side in one run.

A ~1.6 GB model (24 x Dense(4096)) is saved once as legacy .h5 and as .keras (cached in
--workdir).  For each file, in one run, each of these runs as its own process:
  ckptbot   `ckptbot inspect FILE --json` (isolation on, as users run it)
  +env      the same with the bot's configuration in the environment (CKPTBOT_LOCAL_ROOTS and
            REDIS_URL of a live redis-server, SLACK_BOT_TOKEN): an operator on the bot's machine
  floor     a bare h5py metadata walk (open, visit every dataset's shape): the least any reader must do
  keras     `keras.models.load_model(FILE)` + `count_params()`
and we print wall time, peak RSS, ratios, and the bytes `read_report` reads (counted on the file object).
Targets: ckptbot (bare and +env) within 2x of the floor and >= 30x faster than load_model;
<= 150 MB RSS; <= 1 % read.

    python benchmarks/bench_inspect.py [--workdir /tmp/ckptbot-bench] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAKE = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    inp = keras.Input((4096,), name="inp")
    x = inp
    for i in range(24):
        x = keras.layers.Dense(4096, name=f"dense_{i}")(x)
    m = keras.Model(inp, x, name="big")
    m.save(sys.argv[1]); m.save(sys.argv[2])
""")

FLOOR = textwrap.dedent("""
    import sys, zipfile, io, h5py
    path = sys.argv[1]
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path); info = z.getinfo("model.weights.h5")
        f = open(path, "rb"); f.seek(info.header_offset + 26)
        n, e = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        start = info.header_offset + 30 + n + e
        class W(io.RawIOBase):
            def __init__(s): s.p = 0
            def readable(s): return True
            def seekable(s): return True
            def tell(s): return s.p
            def seek(s, o, w=0): s.p = o if w == 0 else (s.p + o if w == 1 else info.file_size + o); return s.p
            def readinto(s, b):
                f.seek(start + s.p); d = f.read(min(len(b), info.file_size - s.p)); b[:len(d)] = d; s.p += len(d); return len(d)
        h = h5py.File(W(), "r")
    else:
        h = h5py.File(path, "r")
    shapes = []
    h.visititems(lambda k, o: shapes.append(o.shape) if isinstance(o, h5py.Dataset) else None)
    h.close()  # before the file object goes away: h5py's fileobj driver calls back into it
    print(len(shapes))
""")

KERAS = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    m = keras.models.load_model(sys.argv[1], compile=False)
    print(m.count_params())
""")


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with {status}")
    return wall, usage.ru_maxrss / 1024


class CountingFile(io.RawIOBase):
    def __init__(self, path: str) -> None:
        self._f = open(path, "rb")
        self.bytes = 0
        self.reads = 0

    def readable(self): return True
    def seekable(self): return True
    def tell(self): return self._f.tell()
    def seek(self, o, w=0): return self._f.seek(o, w)

    def readinto(self, b):
        n = self._f.readinto(b)
        self.bytes += n or 0
        self.reads += 1
        return n

    def close(self):
        self._f.close()


def bytes_read(path: str) -> tuple[int, int, dict]:
    sys.path.insert(0, str(ROOT))
    from bot.analysis import PathArtifact, read_report

    counters = {}

    class CountingArtifact(PathArtifact):
        def open(self):
            f = CountingFile(self.path)
            counters.setdefault("files", []).append(f)
            return io.BufferedReader(f, buffer_size=8192)

    report = read_report(CountingArtifact(path))
    total = sum(f.bytes for f in counters["files"])
    reads = sum(f.reads for f in counters["files"])
    return total, reads, report.to_dict()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/ckptbot-bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-keras", action="store_true", help="skip load_model (slow)")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    h5, ks = work / "big.h5", work / "big.keras"
    if not (h5.exists() and ks.exists()):
        print(f"building the ~1.6 GB model into {work} …", flush=True)
        subprocess.run([sys.executable, "-c", MAKE, str(h5), str(ks)], check=True, cwd=ROOT,
                       stderr=subprocess.DEVNULL)
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_server import RedisServer

    redis = RedisServer(work).start()
    try:
        _compare(h5, ks, args, {**os.environ, "CKPTBOT_LOCAL_ROOTS": str(work), "REDIS_URL": redis.url,
                                "SLACK_BOT_TOKEN": "xoxb-bench"})
    finally:
        redis.kill()


def _compare(h5: Path, ks: Path, args: argparse.Namespace, bot_env: dict[str, str]) -> None:
    ckptbot = [sys.executable, "-m", "bot.cli", "inspect"]
    print(f"{'file':<10} {'method':<9} {'wall s (median)':>16} {'peak RSS MB':>12}")
    for path in (h5, ks):
        size = path.stat().st_size
        results: dict[str, list[tuple[float, float]]] = {}
        methods = {"ckptbot": ckptbot + [str(path), "--json"],
                   "+env": ckptbot + [str(path), "--json"],
                   "floor": [sys.executable, "-c", FLOOR, str(path)]}
        if not args.skip_keras:
            methods["keras"] = [sys.executable, "-c", KERAS, str(path)]
        for _ in range(args.repeat):  # interleaved so machine noise hits every method alike
            for name, argv in methods.items():
                if name == "keras" and name in results and len(results[name]) >= 1:
                    continue  # load_model is slow; once is enough for a >= 30x ratio
                env = bot_env if name == "+env" else None
                results.setdefault(name, []).append(run_measured(argv, env))
        for name, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            print(f"{path.name:<10} {name:<9} {wall:>16.3f} {rss:>12.1f}")
        n, reads, report = bytes_read(str(path))
        med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
        print(f"  size {size / 1e9:.2f} GB · params {report['params']['total']:,} · "
              f"read {n:,} bytes in {reads} reads = {100 * n / size:.4f} % of the file")
        print(f"  ckptbot / floor = {med['ckptbot'] / med['floor']:.2f}x (target <= 2x)")
        print(f"  ckptbot with CKPTBOT_LOCAL_ROOTS + REDIS_URL set / floor = "
              f"{med['+env'] / med['floor']:.2f}x (target <= 2x)")
        if "keras" in med:
            print(f"  load_model / ckptbot = {med['keras'] / med['ckptbot']:.1f}x faster (target >= 30x)")
        print(f"  ckptbot peak RSS {max(r[1] for r in results['ckptbot']):.0f} MB (target <= 150 MB)")


if __name__ == "__main__":
    main()
