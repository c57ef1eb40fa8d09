"""Range-read inspection against download-then-inspect, side by side (issue: remote reads).

    python benchmarks/bench_remote.py [--cache-dir /tmp/ckptbot-bench] [--latency-ms 20]
        [--bandwidth-mbps 100] [--layers 24] [--units 4096] [--skip-s3] [--skip-http] [--repeat 1]

Fixtures: a Keras 3 model of LAYERS x Dense(UNITS) (24 x 4096: ~1.6 GB) saved as a legacy
`.h5` and as `.keras` with the numpy backend, generated once into the cache dir (never the
repository).  HTTP: the loopback range server (tests/servers/range_server.py) with
LATENCY ms slept per request and each response paced to BANDWIDTH MB/s; its counters give
requests and bytes.  S3: moto in server mode on loopback (no latency injected), counted by
the reader's own budget.  Methods:

* ranged          `read_report(resolve(url).artifact())` in this process
* ranged+isolated `bot.isolation.analyze_isolated(url)`: the forked, rlimited child of the CLI
* download        GET the whole file to a temp file (8 MiB reads), then `read_report` on it

Targets (issue 4): ranged moves <= 0.5 % of the bytes and is >= 20x faster than download.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.analysis import read_report  # noqa: E402
from bot.analysis.io.artifact import PathArtifact  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.isolation import analyze_isolated  # noqa: E402
from bot.sources import resolve  # noqa: E402
from tests.servers import moto_s3_server, range_server  # noqa: E402

DOWNLOAD_CHUNK = 8 * 1024 * 1024
MAKE = """
import sys, keras
layers, units, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
m = keras.Sequential([keras.Input((units,))] + [keras.layers.Dense(units) for _ in range(layers)])
m.save(out + "/bigdense.keras"); m.save(out + "/bigdense.h5")
print(m.count_params())
"""


def make_fixtures(cache: Path, layers: int, units: int) -> list[Path]:
    cache = cache / f"dense{layers}x{units}"
    paths = [cache / "bigdense.h5", cache / "bigdense.keras"]
    if not all(p.exists() for p in paths):
        cache.mkdir(parents=True, exist_ok=True)
        print(f"generating {layers} x Dense({units}) with Keras 3 into {cache} ...", flush=True)
        env = {**os.environ, "KERAS_BACKEND": "numpy"}
        subprocess.run([sys.executable, "-c", MAKE, str(layers), str(units), str(cache)], env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return paths


def summary(report) -> tuple:
    return (report.format, report.error and report.error.code, report.params and report.params.total,
            len(report.layers))


def download_then_inspect(url: str) -> tuple[float, object]:
    start = time.perf_counter()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with tempfile.NamedTemporaryFile(suffix=Path(url).suffix) as tmp:
        with opener.open(url) as resp:
            while chunk := resp.read(DOWNLOAD_CHUNK):
                tmp.write(chunk)
        tmp.flush()
        report = read_report(PathArtifact(tmp.name))
    return time.perf_counter() - start, report


def row(name: str, method: str, seconds: float, requests: int, nbytes: int, size: int,
        base: float | None) -> None:
    ratio = f"{base / seconds:7.1f}x" if base else "      -"
    print(f"{name:16} {method:16} {seconds:8.2f} s {requests:6d} req {nbytes / 1e6:10.1f} MB "
          f"{100 * nbytes / size:7.3f} %   {ratio}", flush=True)


def bench_http(paths: list[Path], latency: float, bandwidth: float, repeat: int) -> None:
    settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1")
    print(f"\nHTTP, loopback range server, {latency:g} ms per request, {bandwidth:g} MB/s per response")
    print(f"{'file':16} {'method':16} {'wall':>10} {'requests':>10} {'transferred':>13} {'of file':>9}"
          "   speed-up")
    with range_server(str(paths[0].parent), "--latency-ms", str(latency),
                      "--bandwidth-mbps", str(bandwidth)) as server:
        for path in paths:
            url, size = server.url(path.name), path.stat().st_size
            server.reset()
            dl_time, dl_report = download_then_inspect(url)
            st = server.stats()
            row(path.name, "download", dl_time, st["requests"], st["bytes_sent"], size, None)
            for _ in range(repeat):
                server.reset()
                t0 = time.perf_counter()
                report = read_report(resolve(url, settings).artifact())
                t = time.perf_counter() - t0
                st = server.stats()
                row(path.name, "ranged", t, st["requests"], st["bytes_sent"], size, dl_time)
                assert summary(report) == summary(dl_report), (summary(report), summary(dl_report))
                server.reset()
                t0 = time.perf_counter()
                iso = analyze_isolated(url, settings)
                t = time.perf_counter() - t0
                st = server.stats()
                row(path.name, "ranged+isolated", t, st["requests"], st["bytes_sent"], size, dl_time)
                assert summary(iso) == summary(dl_report)


def bench_s3(paths: list[Path], repeat: int) -> None:
    print("\nS3, moto server on loopback (no latency injected)")
    with moto_s3_server() as endpoint:
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
        from bot.sources.s3 import make_s3_client

        client = make_s3_client()
        client.create_bucket(Bucket="bench")
        for path in paths:
            with open(path, "rb") as f:
                client.put_object(Bucket="bench", Key=path.name, Body=f)
        settings = Settings()
        for path in paths:
            size = path.stat().st_size
            t0 = time.perf_counter()
            body = client.get_object(Bucket="bench", Key=path.name)["Body"]
            with tempfile.NamedTemporaryFile(suffix=path.suffix) as tmp:
                while chunk := body.read(DOWNLOAD_CHUNK):
                    tmp.write(chunk)
                tmp.flush()
                dl_report = read_report(PathArtifact(tmp.name))
            dl_time = time.perf_counter() - t0
            row(path.name, "download", dl_time, 1, size, size, None)
            t0 = time.perf_counter()
            client.get_object(Bucket="bench", Key=path.name, Range="bytes=0-0")["Body"].read()
            print(f"{'':16} (one 1-byte range GET of this object on moto: "
                  f"{time.perf_counter() - t0:.2f} s; moto reads the whole object for every range)")
            for _ in range(repeat):
                t0 = time.perf_counter()
                artifact = resolve(f"s3://bench/{path.name}", settings).artifact()
                report = read_report(artifact)
                t = time.perf_counter() - t0
                cache = artifact.opened().cache
                budget = cache.source.budget if cache else None
                row(path.name, "ranged", t, budget.requests if budget else 0,
                    budget.bytes if budget else 0, size, dl_time)
                assert summary(report) == summary(dl_report)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "ckptbot-bench"))
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--bandwidth-mbps", type=float, default=100.0)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--units", type=int, default=4096)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--skip-s3", action="store_true")
    p.add_argument("--skip-http", action="store_true")
    args = p.parse_args()
    paths = make_fixtures(Path(args.cache_dir), args.layers, args.units)
    for path in paths:
        print(f"{path.name}: {path.stat().st_size / 1e9:.2f} GB")
    if not args.skip_http:
        bench_http(paths, args.latency_ms, args.bandwidth_mbps, args.repeat)
    if not args.skip_s3:
        bench_s3(paths, args.repeat)


if __name__ == "__main__":
    main()
