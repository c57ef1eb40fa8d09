"""Story: a training job (or CI) announces the checkpoint it just wrote through the signed
webhook.  Real Redis, the Slack stand-in, the real isolated inspection; the hook function is
called with the exact bytes and headers an HTTP server would hand it."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import BOT_TOKEN, FIXTURES

from bot.config import Settings
from bot.watch import make_announcer
from handlers.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, checkpoint_hook, sign

SECRET = "hook-secret-for-tests"
CHANNEL = "C0HOOK"


@pytest.fixture
def setup(tmp_path, redis_server):  # noqa: F811
    root = tmp_path / "shared"
    (root / "exp9").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "k3__toy__save.keras", root / "exp9" / "ckpt-9.keras")
    (root / "exp9" / "notes.keras").write_bytes(b"not a zip at all")
    with SlackStandin() as slack:
        settings = Settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url, REDIS_URL=redis_server.url,
                            CKPTBOT_LOCAL_ROOTS=str(root), CKPTBOT_WEBHOOK_SECRET=SECRET)
        yield settings, make_announcer(settings), slack, root


def _signed(payload: dict, secret: str = SECRET, when: float | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() if when is None else when))
    return body, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body),
                  "Content-Type": "application/json"}


def test_a_signed_announcement_is_posted_once_even_when_replayed(setup):
    settings, announcer, slack, root = setup
    body, headers = _signed({"reference": str(root / "exp9" / "ckpt-9.keras"), "channel": CHANNEL})
    status, answer = checkpoint_hook(body, headers, settings, announcer)
    assert (status, answer["outcome"]) == (200, "posted"), answer
    assert slack.snapshot()[0]["channel"] == CHANNEL and "ckpt-9.keras" in slack.snapshot()[0]["text"]
    status, answer = checkpoint_hook(body, headers, settings, announcer)  # a replay inside the window
    assert (status, answer["outcome"]) == (200, "already")
    assert len(slack.snapshot()) == 1


@pytest.mark.parametrize("tamper", ["wrong secret", "body changed", "stale", "future", "no signature",
                                    "timestamp not a number", "re-dated"])
def test_a_bad_or_stale_signature_is_refused_and_nothing_is_posted(setup, tamper):
    settings, announcer, slack, root = setup
    payload = {"reference": str(root / "exp9" / "ckpt-9.keras"), "channel": CHANNEL}
    body, headers = _signed(payload)
    if tamper == "wrong secret":
        body, headers = _signed(payload, secret="guessed")
    elif tamper == "body changed":
        body = body.replace(b"C0HOOK", b"C0EVIL")
    elif tamper == "stale":
        body, headers = _signed(payload, when=time.time() - 301)
    elif tamper == "future":
        body, headers = _signed(payload, when=time.time() + 301)
    elif tamper == "no signature":
        del headers[SIGNATURE_HEADER]
    elif tamper == "timestamp not a number":
        headers[TIMESTAMP_HEADER] = "yesterday"
    elif tamper == "re-dated":  # an old captured request with a fresh timestamp header
        headers[TIMESTAMP_HEADER] = str(int(time.time()) + 5)
    status, answer = checkpoint_hook(body, headers, settings, announcer)
    assert status == 401 and answer["ok"] is False and "invalid request" in answer["error"]
    assert slack.snapshot() == []


def test_without_a_secret_the_webhook_is_off(setup):
    settings, announcer, slack, root = setup
    off = settings.model_copy(update={"webhook_secret": None})
    body, headers = _signed({"reference": str(root / "exp9" / "ckpt-9.keras"), "channel": CHANNEL})
    status, answer = checkpoint_hook(body, headers, off, announcer)
    assert status == 503 and "CKPTBOT_WEBHOOK_SECRET" in answer["error"] and slack.snapshot() == []


@pytest.mark.parametrize("payload, status, words", [
    ({"channel": CHANNEL}, 400, "'reference' is required"),
    ({"reference": "x.keras"}, 400, "'channel' is required"),
    ({"reference": 7, "channel": CHANNEL}, 400, "non-empty string"),
    ({"reference": "/etc/passwd", "channel": CHANNEL}, 422, "outside the folders"),
    ({"reference": "http://169.254.169.254/latest/meta-data", "channel": CHANNEL}, 422, ""),
])
def test_malformed_or_refused_requests_get_a_clear_answer(setup, payload, status, words):
    settings, announcer, slack, _ = setup
    body, headers = _signed(payload)
    got, answer = checkpoint_hook(body, headers, settings, announcer)
    assert got == status and words in answer["error"] and slack.snapshot() == []


def test_a_file_that_is_not_a_model_is_refused_with_the_reason(setup):
    settings, announcer, slack, root = setup
    body, headers = _signed({"reference": str(root / "exp9" / "notes.keras"), "channel": CHANNEL})
    status, answer = checkpoint_hook(body, headers, settings, announcer)
    assert status == 422 and answer["code"] and slack.snapshot() == []


def test_an_oversized_body_is_refused_before_it_is_parsed(setup):
    settings, announcer, slack, _ = setup
    body, headers = _signed({"reference": "x" * 20_000, "channel": CHANNEL})
    assert checkpoint_hook(body, headers, settings, announcer)[0] == 413


def test_over_real_http_a_tampered_request_gets_401_and_a_signed_one_is_posted(setup):
    import threading
    import urllib.error
    import urllib.request
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from handlers.hooks import make_hook_wsgi_app

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    settings, announcer, slack, root = setup
    server = make_server("127.0.0.1", 0, make_hook_wsgi_app(settings, announcer), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/checkpoint"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def post(body: bytes, headers: dict) -> tuple[int, dict]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        body, headers = _signed({"reference": str(root / "exp9" / "ckpt-9.keras"), "channel": CHANNEL})
        status, answer = post(body.replace(b"ckpt-9", b"ckpt-8"), headers)
        assert status == 401 and slack.snapshot() == []
        status, answer = post(body, headers)
        assert (status, answer["outcome"]) == (200, "posted") and len(slack.snapshot()) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_announced_by_webhook_is_not_posted_again_by_a_watcher_of_its_folder(setup):
    from bot.watch.loop import TargetWatcher

    settings, announcer, slack, root = setup
    body, headers = _signed({"reference": str(root / "exp9" / "ckpt-9.keras"), "channel": CHANNEL})
    assert checkpoint_hook(body, headers, settings, announcer)[0] == 200
    watcher = TargetWatcher(str(root), announcer, pattern="ckpt-*.keras", settle_s=1.0)
    watcher.scan([CHANNEL], now=0.0)
    assert watcher.scan([CHANNEL], now=2.0).posted == []
    assert len(slack.snapshot()) == 1
    shutil.copyfile(FIXTURES / "k3__seq__save.keras", root / "exp9" / "ckpt-10.keras")
    watcher.scan([CHANNEL], now=3.0)
    posted = watcher.scan([CHANNEL], now=5.0).posted
    assert [obs.name for _, obs in posted] == ["ckpt-10.keras"]
    first, second = slack.snapshot()
    assert second["thread_ts"] == first["ts"] and "Since ckpt-9.keras" in second["text"], "same run, same thread"
