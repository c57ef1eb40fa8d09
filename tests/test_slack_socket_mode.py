"""Socket Mode: no public URL; `ckptbot serve --socket` dials out, acks envelopes, answers as in HTTP mode."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.slack_bot_process import BotProcess
from tests.slack_socket_standin import SocketModeStandIn
from tests.slack_standin import BOT_USER_ID, TEAM_ID, SlackStandIn

ADAM_H5 = "tfk__legacy_adam__save.h5"


@pytest.fixture(scope="module")
def slack():
    standin = SlackStandIn().start()
    standin.socket_mode = SocketModeStandIn(app_token="xapp-1-A111-test").start()
    yield standin
    standin.socket_mode.stop()
    standin.stop()


@pytest.fixture(scope="module")
def bot(slack, tmp_path_factory, fixtures_dir):
    models = tmp_path_factory.mktemp("models")
    shutil.copy(fixtures_dir / ADAM_H5, models / ADAM_H5)
    with BotProcess(slack, tmp_path_factory.mktemp("bot"), "--socket", CKPTBOT_LOCAL_ROOTS=str(models),
                    SLACK_APP_TOKEN=slack.socket_mode.app_token, SLACK_SIGNING_SECRET="") as process:
        process.models = models
        yield process  # /healthz answered 200: the WebSocket is connected


def test_a_slash_command_envelope_is_acked_over_the_socket_and_answered_through_response_url(bot, slack, expected):
    live = expected["artifacts"][ADAM_H5]
    envelope = slack.socket_mode.send_envelope("slash_commands", {
        "token": "legacy", "team_id": TEAM_ID, "channel_id": "C111", "user_id": "U222", "command": "/ckpt",
        "text": str(bot.models / ADAM_H5), "api_app_id": "A111", "response_url": slack.response_url("sock"),
        "trigger_id": "1.2.3"})
    ack = slack.socket_mode.wait_for_ack(envelope)
    assert ack["response_type"] == "ephemeral" and ADAM_H5 in ack["text"]
    answer = slack.wait_for("response_url", where=lambda c: c.path.endswith("/sock"), timeout=60)[0]
    assert answer.args["response_type"] == "in_channel"
    assert f"{live['count_params']:,} parameters" in json.dumps(answer.args["blocks"], ensure_ascii=False)


def test_a_mention_delivered_twice_over_the_socket_is_answered_once(bot, slack):
    ts = slack.next_ts()
    body = {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A111", "type": "event_callback",
            "event_id": "EvSOCKET1", "event_time": 1,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": {"type": "app_mention", "user": "U222", "ts": ts, "channel": "C111",
                      "text": f"<@{BOT_USER_ID}> {bot.models / ADAM_H5}"}}
    first = slack.socket_mode.send_envelope("events_api", body)
    slack.socket_mode.wait_for_ack(first)
    slack.wait_for("chat.update", where=lambda c: c.args.get("blocks") and ADAM_H5 in c.args.get("text", ""),
                   timeout=60)
    retry = slack.socket_mode.send_envelope("events_api", body, retry_attempt=1)
    slack.socket_mode.wait_for_ack(retry)
    later = slack.next_ts()  # a later question answered proves the retry had its chance to post
    slack.socket_mode.send_envelope("events_api", {**body, "event_id": "EvSOCKET2", "event": {
        **body["event"], "ts": later, "text": f"<@{BOT_USER_ID}> help"}})
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == later, timeout=30)
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1
