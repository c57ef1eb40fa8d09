"""Story: two watcher replicas share one Redis, one of them restarts, files get rewritten:
every checkpoint version is posted exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import (
    FIXTURES,
    WAIT_FOR_POST_S,
    WatcherProcess,
    copy_in,
    names_posted,
)

CHANNEL = "C0REPLICA"


@pytest.fixture
def slack():
    with SlackStandin() as standin:
        yield standin


def test_two_watchers_and_a_restart_post_each_checkpoint_once(tmp_path, slack, redis_server):  # noqa: F811
    runs = tmp_path / "runs"
    runs.mkdir()
    # Files already there when the watchers start are announced too (once).
    copy_in(FIXTURES / "k3__toy__save.keras", runs / "exp" / "ckpt-1.keras")

    def watcher(i: int) -> WatcherProcess:
        w = WatcherProcess(str(runs), CHANNEL, api_url=slack.api_url, redis_url=redis_server.url,
                           log_path=tmp_path / f"w{i}.log")
        w.wait_started()
        return w

    first, second = watcher(0), watcher(1)
    try:
        copy_in(FIXTURES / "k3__toy__save.h5", runs / "exp" / "ckpt-2.h5")
        copy_in(FIXTURES / "k3__seq__save.keras", runs / "exp" / "ckpt-3.keras")
        slack.wait_for_posts(3, WAIT_FOR_POST_S)

        assert first.stop() is not None  # a replica goes away (SIGTERM) ...
        first = watcher(2)               # ... and comes back: it rescans everything from scratch
        copy_in(FIXTURES / "k3__seq__save.h5", runs / "exp" / "ckpt-4.h5")
        slack.wait_for_posts(4, WAIT_FOR_POST_S)

        # A rewritten file is a new version: announced again, once.
        copy_in(FIXTURES / "k3__conv__save.keras", runs / "exp" / "ckpt-1.keras")
        copy_in(FIXTURES / "k3__toy__save.keras", runs / "exp" / "ckpt-5.keras")  # the sentinel
        posts = slack.wait_for_posts(6, WAIT_FOR_POST_S)
    finally:
        first.stop()
        second.stop()
    posts = slack.snapshot()
    counts = Counter(names_posted(posts))
    assert counts == {"ckpt-1.keras": 2, "ckpt-2.h5": 1, "ckpt-3.keras": 1, "ckpt-4.h5": 1, "ckpt-5.keras": 1}
    thread = posts[0]["ts"]
    assert all(p["thread_ts"] == thread for p in posts[1:]), "one thread for the run, across replicas"
