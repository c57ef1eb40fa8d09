"""The watcher's decisions, one at a time: which names count, when a file is finished, what the
delta says, how a failed post is retried without a duplicate.  Time is passed in, not slept."""

from __future__ import annotations

import json
import shutil

import pytest
from watch_slack_standin import SlackStandin
from watch_stories import FIXTURES

from bot.analysis import read_report
from bot.analysis.io.artifact import PathArtifact
from bot.watch.announcer import Announcer, Outcome
from bot.watch.completeness import MAX_PARSE_ATTEMPTS, Stability
from bot.watch.delta import delta_between, snapshot_of
from bot.watch.loop import filesystem_type
from bot.watch.poster import SlackPoster
from bot.watch.scanner import Observation, name_filter, scan_local
from bot.watch.store import MemoryStore


@pytest.mark.parametrize("name, default, pattern_h5", [
    ("model.keras", True, False), ("w.weights.h5", True, True), ("ckpt-3.index", True, False),
    ("model.h5.tmp", False, False), (".~model.h5", False, False), ("model.h5.part", False, False),
    ("model.h5.crdownload", False, False), (".hidden.h5", False, False),
    ("ckpt-1.data-00000-of-00001.tempstate123", False, False), ("notes.txt", False, False),
])
def test_which_file_names_are_watched(name, default, pattern_h5):
    assert name_filter(None)(name) is default
    assert name_filter("*.h5")(name) is pattern_h5


def _obs(size: int, stamp: str = "1", uri: str = "/r/m.h5") -> Observation:
    return Observation(uri=uri, name="m.h5", run="/r", size=size, stamp=stamp)


def test_a_file_is_ready_only_after_it_stayed_unchanged_for_the_settle_time():
    s = Stability(settle_s=2.0)
    assert s.ready([_obs(10)], now=0.0) == []           # first sight
    assert s.ready([_obs(10)], now=1.9) == []           # unchanged, but not long enough
    assert s.ready([_obs(20, "2")], now=2.5) == []      # grew: starts over
    assert s.ready([_obs(20, "2")], now=4.0) == []
    assert s.ready([_obs(20, "2")], now=4.5) == [_obs(20, "2")]
    s.finished(_obs(20, "2"))
    assert s.ready([_obs(20, "2")], now=9.0) == []      # done: never again for this version
    assert s.ready([_obs(20, "3")], now=9.0) == []      # rewritten: a new version, settling again
    assert s.ready([_obs(20, "3")], now=11.0) == [_obs(20, "3")]


def test_an_unparseable_version_is_retried_with_growing_pauses_then_dropped():
    s = Stability(settle_s=1.0)
    s.ready([_obs(10)], now=0.0)
    now = 1.0
    for attempt in range(1, MAX_PARSE_ATTEMPTS):
        assert s.ready([_obs(10)], now=now) == [_obs(10)]
        assert s.did_not_parse(_obs(10), now) is True
        assert s.ready([_obs(10)], now=now + 2 ** (attempt - 1) - 0.01) == []
        now += 2 ** (attempt - 1)
    assert s.ready([_obs(10)], now=now) == [_obs(10)]
    assert s.did_not_parse(_obs(10), now) is False     # the last attempt: given up on
    assert s.ready([_obs(10)], now=now + 1000) == []
    s.ready([_obs(11, "2")], now=now + 1000)            # but a change to the file starts over
    assert s.ready([_obs(11, "2")], now=now + 1001) == [_obs(11, "2")]


def test_scanning_a_folder_finds_nested_runs_and_skips_hidden_folders(tmp_path):
    for rel in ("a/m.keras", "b/deep/m.h5", ".trash/m.h5", "a/m.keras.tmp"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / "k3__toy__save.h5", tmp_path / rel)
    found = {(o.name, o.run) for o in scan_local(str(tmp_path), name_filter(None))}
    assert found == {("m.keras", str(tmp_path / "a")), ("m.h5", str(tmp_path / "b" / "deep"))}


def test_network_filesystems_are_recognised_from_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\nserver:/export /mnt/nfs nfs4 rw 0 0\n"
                      "sshfs#x /mnt/nfs/ssh fuse.sshfs rw 0 0\n")
    assert filesystem_type("/mnt/nfs/runs/exp1", str(mounts)) == "nfs4"
    assert filesystem_type("/mnt/nfs/ssh/x", str(mounts)) == "fuse.sshfs"
    assert filesystem_type("/mnt/nfsother", str(mounts)) == "ext4"


def test_the_delta_names_steps_parameters_size_and_layers():
    before = read_report(PathArtifact(FIXTURES / "k3__toy__save.keras"))
    after = read_report(PathArtifact(FIXTURES / "k3__seq__save.keras"))
    d = delta_between(snapshot_of(before, "a.keras"), snapshot_of(after, "b.keras"))
    assert d.params_changed and d.params_before == before.params.total and d.params_after == after.params.total
    assert d.size_change == after.source.size_bytes - before.source.size_bytes
    names_before = {layer.name for layer in before.layers}
    names_after = {layer.name for layer in after.layers}
    assert set(d.layers_added) == names_after - names_before
    assert set(d.layers_removed) == names_before - names_after
    text = d.sentence()
    assert text.startswith("Since a.keras: ") and "parameters changed" in text
    same = delta_between(snapshot_of(before, "a.keras"), snapshot_of(before, "a.keras"))
    assert "same layers" in same.sentence() and "size +0 B" in same.sentence()


def test_a_refused_post_gives_the_lease_back_and_the_next_try_posts_once(tmp_path):
    shutil.copyfile(FIXTURES / "k3__toy__save.h5", tmp_path / "m.h5")
    store = MemoryStore()
    inspect = lambda uri: read_report(PathArtifact(uri))  # noqa: E731
    args = dict(channel="C1", version="m.h5|1|1", uri=str(tmp_path / "m.h5"), name="m.h5", run=str(tmp_path))
    with SlackStandin() as slack:
        broken = Announcer(store, SlackPoster("not-a-bot-token", slack.api_url), inspect)
        assert broken.announce(**args).outcome is Outcome.DEFERRED   # Slack said not_authed
        working = Announcer(store, SlackPoster("xoxb-ok", slack.api_url), inspect)
        assert working.announce(**args).outcome is Outcome.POSTED
        assert working.announce(**args).outcome is Outcome.ALREADY
        assert len(slack.snapshot()) == 1


def test_the_loop_is_told_when_the_next_file_will_have_settled():
    s = Stability(settle_s=2.0)
    assert s.next_due(now=0.0) is None
    s.ready([_obs(10)], now=0.0)
    assert s.next_due(now=0.5) == 1.5
    assert s.next_due(now=3.0) == 0.0
    s.finished(_obs(10))
    assert s.next_due(now=3.0) is None


def test_a_rate_limited_post_is_retried_after_retry_after_and_posted_once():
    from slack_standin import (
        SlackStandIn,  # the bot's shared Slack stand-in, which can answer 429
    )

    slack = SlackStandIn(bot_token="xoxb-watch").start()
    try:
        slack.fail_once["chat.postMessage"] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        ts = SlackPoster("xoxb-watch", slack.api_url).post("C1", "New checkpoint m.h5", [], None)
        calls = slack.calls_to("chat.postMessage")
        assert [c.status for c in calls] == [429, 200] and ts
        assert calls[1].at - calls[0].at >= 1.0, "waited for Retry-After"
    finally:
        slack.stop()


def test_a_file_named_to_ping_the_channel_is_announced_escaped_and_within_limits(tmp_path):
    from bot.render.block_limits import limit_violations

    hostile = "<!channel> & <@U1>.h5"
    shutil.copyfile(FIXTURES / "k3__toy__save.h5", tmp_path / hostile)
    inspect = lambda uri: read_report(PathArtifact(uri))  # noqa: E731
    with SlackStandin() as slack:
        announcer = Announcer(MemoryStore(), SlackPoster("xoxb-ok", slack.api_url), inspect)
        result = announcer.announce(channel="C1", version="v", uri=str(tmp_path / hostile), name=hostile,
                                    run=str(tmp_path))
        assert result.outcome is Outcome.POSTED
        (post,) = slack.snapshot()
    everything = post["text"] + json.dumps(post["blocks"])
    assert "<!channel>" not in everything and "<@U1>" not in everything
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;.h5" in post["text"]
    assert limit_violations(post["text"], post["blocks"]) == []
    # Nothing was trimmed: every block the announcement builds arrived (bot/watch/message.py order).
    assert [b["block_id"] for b in post["blocks"]] == ["headline", "verdict", "figures", "delta", "reload-code"]
    assert post["blocks"][-1]["text"]["text"].startswith("```")
