"""Story: a team types `/ckpt watch <folder>` in its channel, sees new checkpoints, and
`/ckpt unwatch` stops them.  Real Redis; the subscription watcher runs on a thread with the
real inspection and posts to the Slack stand-in."""

from __future__ import annotations

import shutil

import pytest
from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import BOT_TOKEN, FIXTURES, WAIT_FOR_POST_S, copy_in, names_posted

from bot.config import Settings
from bot.watch import start_subscription_watcher
from handlers.watch_commands import (
    WATCH_SUBCOMMANDS,
    list_watches,
    unwatch_target,
    watch_target,
)

ALPHA, BETA = "C0ALPHA", "C0BETA"


@pytest.fixture
def shared(tmp_path):
    root = tmp_path / "shared"
    (root / "runs").mkdir(parents=True)
    return root


@pytest.fixture
def settings(shared, redis_server):  # noqa: F811
    return Settings(SLACK_BOT_TOKEN=BOT_TOKEN, REDIS_URL=redis_server.url, CKPTBOT_LOCAL_ROOTS=str(shared))


def test_watch_lists_and_unwatch_in_a_channel(settings, shared):
    runs = str(shared / "runs")
    answer = watch_target(ALPHA, runs, settings)
    assert answer["response_type"] == "in_channel" and f"Watching `{runs}`" in answer["text"]
    assert "already watches" in watch_target(ALPHA, runs + "/", settings)["text"]  # same folder, said twice
    assert watch_target(BETA, "<s3://team-models/exp1/>", settings)["response_type"] == "in_channel"
    assert f"`{runs}`" in list_watches(ALPHA, "", settings)["text"]
    assert "s3://team-models/exp1/" not in list_watches(ALPHA, "", settings)["text"], "lists are per channel"
    assert unwatch_target(ALPHA, runs, settings)["response_type"] == "in_channel"
    assert "watches nothing" in list_watches(ALPHA, "", settings)["text"]
    assert "does not watch" in unwatch_target(ALPHA, runs, settings)["text"]
    assert set(WATCH_SUBCOMMANDS) == {"watch", "unwatch", "watches"}


@pytest.mark.parametrize("target, words", [
    ("", "Tell me what to watch"),
    ("https://example.com/models/", "not web links"),
    ("/etc", "outside the folders"),
    ("s3://Bad_Bucket/x", "not an s3://bucket/prefix"),
    ("ftp://host/models", "folders and s3://bucket/prefix only"),
])
def test_targets_the_bot_may_not_watch_are_refused_privately(settings, target, words):
    answer = watch_target(ALPHA, target, settings)
    assert answer["response_type"] == "ephemeral" and words in answer["text"]
    assert "watches nothing" in list_watches(ALPHA, "", settings)["text"]


def test_a_target_named_to_ping_the_channel_is_echoed_escaped(settings):
    answer = watch_target(ALPHA, "s3://team-models/<!channel>/", settings)
    assert "<!channel>" not in answer["text"] and "&lt;!channel&gt;" in answer["text"]
    assert "<!channel>" not in list_watches(ALPHA, "", settings)["text"]


def test_a_file_is_not_a_watch_target(settings, shared):
    shutil.copyfile(FIXTURES / "k3__toy__save.h5", shared / "runs" / "m.h5")
    assert "is a file" in watch_target(ALPHA, str(shared / "runs" / "m.h5"), settings)["text"]


def test_without_roots_no_folder_can_be_watched(redis_server, shared):  # noqa: F811
    bare = Settings(REDIS_URL=redis_server.url)
    assert "no shared folders" in watch_target(ALPHA, str(shared / "runs"), bare)["text"]


def test_when_redis_is_down_nothing_changes_and_the_user_is_told(settings, shared, redis_server):  # noqa: F811
    redis_server.kill()
    answer = watch_target(ALPHA, str(shared / "runs"), settings)
    assert answer["response_type"] == "ephemeral" and "try again" in answer["text"]
    assert "try again" in list_watches(ALPHA, "", settings)["text"]


def test_unwatch_stops_the_posts_in_that_channel_only(settings, shared):
    runs = shared / "runs"
    with SlackStandin() as slack:
        live = settings.model_copy(update={"slack_api_url": slack.api_url})
        watch_target(ALPHA, str(runs), live)
        watch_target(BETA, str(runs), live)
        thread, stop = start_subscription_watcher(live, interval_s=0.3)  # as `ckptbot serve` starts it
        try:
            copy_in(FIXTURES / "k3__toy__save.keras", runs / "exp" / "ckpt-1.keras")
            posts = slack.wait_for_posts(2, WAIT_FOR_POST_S)
            assert sorted(p["channel"] for p in posts) == [ALPHA, BETA]

            unwatch_target(ALPHA, str(runs), live)
            copy_in(FIXTURES / "k3__seq__save.keras", runs / "exp" / "ckpt-2.keras")
            # BETA still watches: its post of ckpt-2 proves the watcher saw the file after the unwatch.
            slack.wait_for_posts(3, WAIT_FOR_POST_S)
            copy_in(FIXTURES / "k3__toy__save.h5", runs / "exp" / "ckpt-3.h5")
            posts = slack.wait_for_posts(4, WAIT_FOR_POST_S)
        finally:
            stop.set()
            thread.join(10)
    by_channel = {ch: names_posted([p for p in posts if p["channel"] == ch]) for ch in (ALPHA, BETA)}
    assert by_channel == {ALPHA: ["ckpt-1.keras"], BETA: ["ckpt-1.keras", "ckpt-2.keras", "ckpt-3.h5"]}
    assert not thread.is_alive()
