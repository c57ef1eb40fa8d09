"""Story: Redis goes down while a watcher runs.  Without Redis no replica can know whether a
version was posted, so nothing is announced; once Redis answers again the checkpoint is posted,
once."""

from __future__ import annotations

import shutil

from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import FIXTURES

from bot.config import Settings
from bot.watch import make_announcer
from bot.watch.announcer import Outcome
from bot.watch.loop import TargetWatcher


def test_no_announcement_while_redis_is_down_and_exactly_one_after(tmp_path, redis_server):  # noqa: F811
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "k3__toy__save.h5", folder / "ckpt-1.h5")
    with SlackStandin() as slack:
        settings = Settings(SLACK_BOT_TOKEN="xoxb-t", SLACK_API_URL=slack.api_url, REDIS_URL=redis_server.url)
        announcer = make_announcer(settings, allow_any_local=True)
        watcher = TargetWatcher(str(folder), announcer, pattern=None, settle_s=1.0)
        watcher.scan(["C1"], now=0.0)                      # first sight
        redis_server.kill()
        down = watcher.scan(["C1"], now=2.0)               # settled, parses, but Redis is gone
        assert down.posted == [] and slack.snapshot() == []
        redis_server.start()
        up = watcher.scan(["C1"], now=4.0)
        assert [obs.name for _, obs in up.posted] == ["ckpt-1.h5"]
        assert watcher.scan(["C1"], now=6.0).posted == []
        obs = watcher.observe()[0]
        again = announcer.announce(channel="C1", version=obs.version, uri=obs.uri, name=obs.name, run=obs.run)
        assert again.outcome is Outcome.ALREADY            # a restarted watcher would skip it too
        assert len(slack.snapshot()) == 1
