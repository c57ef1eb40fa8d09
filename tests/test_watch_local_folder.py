"""Stories: a team runs `ckptbot watch runs/ --channel C` while training writes checkpoints.

Real parts: the watcher is the real CLI in a subprocess (inotify on this tmpfs/ext4), a real
redis-server, a Slack Web API stand-in on loopback, checkpoints written by real Keras.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import (
    BOT_TOKEN,
    FIXTURES,
    ROOT,
    WAIT_FOR_POST_S,
    WatcherProcess,
    clean_env,
    copy_in,
    names_posted,
)

CHANNEL = "C0WATCH"
# The slow writer's pause between chunks: well over the watcher's settle time (0.3 s), so
# the watcher sees the half-written file unchanged, inspects it, and must refuse it.
CHUNK_PAUSE_S = 0.8


@pytest.fixture
def slack():
    with SlackStandin() as standin:
        yield standin


@pytest.fixture
def watcher_factory(tmp_path, slack, redis_server):  # noqa: F811
    started: list[WatcherProcess] = []

    def start(target, **kw) -> WatcherProcess:
        w = WatcherProcess(str(target), kw.pop("channel", CHANNEL), api_url=slack.api_url,
                           redis_url=redis_server.url, log_path=tmp_path / f"watcher{len(started)}.log", **kw)
        started.append(w)
        w.wait_started()
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    """Two checkpoints of one real training run (after 3 and 7 steps) and the live figures."""
    out = tmp_path_factory.mktemp("keras_run")
    proc = subprocess.run([sys.executable, "-m", "tests.watch_keras_run", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    live = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, live["checkpoints"]


def test_a_slowly_written_checkpoint_is_announced_once_and_only_when_complete(tmp_path, slack, watcher_factory):
    runs = tmp_path / "runs"
    (runs / "exp1").mkdir(parents=True)
    watcher = watcher_factory(runs)
    data = (FIXTURES / "k3__toy__save.keras").read_bytes()
    target = runs / "exp1" / "model-epoch1.keras"
    chunks = 4
    step = len(data) // chunks + 1
    with open(target, "wb") as f:
        for i in range(chunks):
            f.write(data[i * step:(i + 1) * step])
            f.flush()
            if i < chunks - 1:
                time.sleep(CHUNK_PAUSE_S)
                assert slack.snapshot() == [], f"announced a half-written file after chunk {i + 1}"
            finished_at = time.time()
    posts = slack.wait_for_posts(1, WAIT_FOR_POST_S)
    assert names_posted(posts) == ["model-epoch1.keras"]
    assert posts[0]["at"] >= finished_at and posts[0]["channel"] == CHANNEL and posts[0]["token"] == BOT_TOKEN
    assert "Full model" in posts[0]["text"]

    # A later checkpoint is the sentinel: once it is announced, the watcher has rescanned the
    # first file many times, and still posted it once.
    copy_in(FIXTURES / "k3__toy__save.keras", runs / "exp1" / "model-epoch2.keras")
    posts = slack.wait_for_posts(2, WAIT_FOR_POST_S)
    assert names_posted(posts) == ["model-epoch1.keras", "model-epoch2.keras"]
    log = watcher.log_path.read_text()
    assert "not announcing model-epoch1.keras" in log, "the half-written file was never inspected and refused"


def test_temporary_names_are_never_announced(tmp_path, slack, watcher_factory):
    runs = tmp_path / "runs"
    runs.mkdir()
    watcher_factory(runs)
    model = (FIXTURES / "k3__toy__save.h5").read_bytes()
    for name in ("model.h5.tmp", ".~model.h5", "model.h5.part", "model.h5.crdownload", ".hidden.h5"):
        (runs / name).write_bytes(model)
    copy_in(FIXTURES / "k3__toy__save.h5", runs / "sentinel.h5")
    slack.wait_for_posts(1, WAIT_FOR_POST_S)
    time.sleep(1.0)  # a few more scans: anything wrongly announced would arrive now
    assert names_posted(slack.snapshot()) == ["sentinel.h5"]


@pytest.mark.keras
def test_the_delta_matches_the_live_training_run(tmp_path, slack, watcher_factory, keras_run):
    run_dir, live = keras_run
    first, second = live
    runs = tmp_path / "runs"
    (runs / "exp7").mkdir(parents=True)
    watcher_factory(runs)
    copy_in(run_dir / first["name"], runs / "exp7" / first["name"])
    slack.wait_for_posts(1, WAIT_FOR_POST_S)
    copy_in(run_dir / second["name"], runs / "exp7" / second["name"])
    posts = slack.wait_for_posts(2, WAIT_FOR_POST_S)
    assert names_posted(posts) == [first["name"], second["name"]]
    parent, reply = posts
    assert parent["thread_ts"] is None and reply["thread_ts"] == parent["ts"], "one thread per run"
    steps = second["iterations"] - first["iterations"]
    assert f"Since {first['name']}: {steps} steps trained" in reply["text"]
    assert f"parameters unchanged ({second['params']:,})" in reply["text"]
    assert "same layers" in reply["text"] and "size +0 B" in reply["text"]
    assert f"after {second['iterations']:,} steps" in reply["text"]
    assert "First checkpoint of this run" in parent["text"]
    reload_block = [b for b in reply["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("```")]
    assert reload_block and "load" in reload_block[0]["text"]["text"]


def test_checkpoints_in_two_run_folders_get_two_threads(tmp_path, slack, watcher_factory):
    runs = tmp_path / "runs"
    watcher_factory(runs.mkdir() or runs)
    copy_in(FIXTURES / "k3__toy__save.keras", runs / "a" / "m1.keras")
    copy_in(FIXTURES / "k3__toy__save.keras", runs / "b" / "m1.keras")
    slack.wait_for_posts(2, WAIT_FOR_POST_S)
    copy_in(FIXTURES / "k3__seq__save.keras", runs / "b" / "m2.keras")
    posts = slack.wait_for_posts(3, WAIT_FOR_POST_S)
    by_run = {p["text"].splitlines()[0].split(" in ")[1]: p for p in posts[:2]}
    assert posts[2]["thread_ts"] == by_run["runs/b"]["ts"]
    assert "layers" in posts[2]["text"] and "parameters changed" in posts[2]["text"]


def test_once_with_a_pattern_announces_only_matching_finished_files(tmp_path, slack, redis_server):  # noqa: F811
    runs = tmp_path / "runs"
    copy_in(FIXTURES / "k3__toy__save.h5", runs / "best-1.h5")
    copy_in(FIXTURES / "k3__toy__save.h5", runs / "last.h5")
    env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url, REDIS_URL=redis_server.url)
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "watch", str(runs), "--channel", CHANNEL, "--once",
                           "--pattern", "best-*.h5", "--interval", "0.3"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert names_posted(slack.snapshot()) == ["best-1.h5"]
    assert "announced best-1.h5" in proc.stdout
