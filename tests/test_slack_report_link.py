"""The "Open full report" button: a link to `<CKPTBOT_PUBLIC_URL>/r/<token>` served by `ckptbot serve`.

Two real bot processes (replicas) share one real redis-server; a /ckpt answer from one carries
the link, the other serves the page.  No, wrong or expired tokens get a bare 404.
"""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request

import pytest

from bot.report_links import KEY_PREFIX
from bot.render.blocks import OPEN_REPORT_ACTION, SHOW_GRAPH_ACTION
from tests.redis_server import RedisServer
from tests.slack_bot_process import BotProcess
from tests.slack_standin import SlackStandIn

PUBLIC = "https://ckpt.example.com"
TOY = "k3__toy__save.keras"


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixtures_dir):
    root = tmp_path_factory.mktemp("models")
    shutil.copy(fixtures_dir / TOY, root / TOY)
    slack = SlackStandIn().start()
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    common = dict(CKPTBOT_LOCAL_ROOTS=str(root), REDIS_URL=redis.url, CKPTBOT_PUBLIC_URL=PUBLIC)
    with BotProcess(slack, tmp_path_factory.mktemp("a"), **common) as a, \
            BotProcess(slack, tmp_path_factory.mktemp("b"), **common) as b:
        yield slack, redis, a, b, root
    redis.kill()
    slack.stop()


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _card_link(slack, bot, root, name: str) -> str:
    bot.sender.command(str(root / TOY), slack.response_url(name))
    card = slack.wait_for("response_url", where=lambda c: c.path.endswith("/" + name), timeout=60)[0]
    buttons = [e for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    link = next(e for e in buttons if e["action_id"] == OPEN_REPORT_ACTION)
    assert link["text"]["text"] == "Open full report"
    assert not any(e["action_id"] == SHOW_GRAPH_ACTION for e in buttons)  # the page has the graph
    assert link["url"].startswith(PUBLIC + "/r/")
    return link["url"][len(PUBLIC):]


def test_the_link_opens_the_report_page_on_another_replica(env):
    slack, redis, a, b, root = env
    path = _card_link(slack, a, root, "link-1")
    token = path[len("/r/"):]
    assert len(token) * 6 >= 128  # urlsafe base64: 6 bits a character
    status, body = _get(b.port, path)
    assert status == 200
    html = body.decode()
    for layer in ("inp", "dense", "bn", "head"):  # the toy model's layers (tests/fixtures/fixture_models.py)
        assert f'data-layer="{layer}"' in html
    assert "<script src" not in html and "http://" not in html.split("<body>", 1)[1].replace(
        "http://www.w3.org", "")


@pytest.mark.parametrize("path", ["/r/", "/r/not-a-token", "/r/" + "A" * 32, "/r/../healthz"])
def test_no_or_wrong_token_is_a_bare_404(env, path):
    _, _, a, _, _ = env
    status, body = _get(a.port, path)
    assert (status, body) == (404, b"not found")


def test_an_expired_token_is_a_bare_404(env):
    slack, redis, a, b, root = env
    path = _card_link(slack, a, root, "link-2")
    assert _get(a.port, path)[0] == 200
    import redis as redis_lib

    r = redis_lib.Redis.from_url(redis.url)
    key = KEY_PREFIX + path[len("/r/"):]
    assert 0 < r.ttl(key) <= 8 * 24 * 3600  # it expires with the cached report (about a week)
    r.pexpire(key, 1)  # drive time: the report's lifetime is over
    while r.exists(key):
        time.sleep(0.01)
    assert _get(a.port, path) == (404, b"not found")
    assert _get(b.port, path) == (404, b"not found")
