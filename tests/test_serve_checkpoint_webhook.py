"""A training job announces a checkpoint through the running bot: `POST /hooks/checkpoint` on
`ckptbot serve`, signed with CKPTBOT_WEBHOOK_SECRET, posts once to the channel; anything unsigned
or tampered is refused with 401 and posts nothing."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import pytest

from handlers.hooks import sign
from tests.conftest import FIXTURES
from tests.slack_bot_process import BotProcess
from tests.slack_standin import SlackStandIn

SECRET = "hook-secret-for-tests"


@pytest.fixture
def standin():
    s = SlackStandIn().start()
    yield s
    s.stop()


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/checkpoint", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_a_signed_hook_announces_once_and_a_tampered_one_is_refused(standin, tmp_path):
    run = tmp_path / "runs" / "exp1"
    run.mkdir(parents=True)
    ckpt = run / "ckpt-0007.h5"
    shutil.copy(FIXTURES / "tfk__toy__save.h5", ckpt)
    with BotProcess(standin, tmp_path, CKPTBOT_WEBHOOK_SECRET=SECRET,
                    CKPTBOT_LOCAL_ROOTS=str(tmp_path / "runs")) as bot:
        body = json.dumps({"reference": str(ckpt), "channel": "C999"}).encode()
        stamp = str(int(time.time()))
        bad = _post(bot.port, body, {"X-Ckptbot-Timestamp": stamp,
                                     "X-Ckptbot-Signature": sign("wrong-secret", stamp, body)})
        assert bad[0] == 401
        tampered = _post(bot.port, body.replace(b"C999", b"C000"),
                         {"X-Ckptbot-Timestamp": stamp, "X-Ckptbot-Signature": sign(SECRET, stamp, body)})
        assert tampered[0] == 401

        status, answer = _post(bot.port, body, {"X-Ckptbot-Timestamp": stamp,
                                                "X-Ckptbot-Signature": sign(SECRET, stamp, body)})
        assert status == 200, (answer, bot.log())
        (post,) = standin.wait_for("chat.postMessage", 1, timeout=30)
        assert post.args["channel"] == "C999"
        text = json.dumps(post.args)
        assert "ckpt-0007.h5" in text and "35" in text  # the toy model's live count_params()

        again = _post(bot.port, body, {"X-Ckptbot-Timestamp": stamp,
                                       "X-Ckptbot-Signature": sign(SECRET, stamp, body)})
        assert again[0] == 200
        time.sleep(1.0)
        assert len(standin.calls_to("chat.postMessage")) == 1  # the same version is announced once
