"""Stories of people asking ckptbot in Slack, against `ckptbot serve` running as in production.

One bot process (HTTP mode, gunicorn) talks to a Slack stand-in over real HTTP on 127.0.0.1
and deduplicates through a real redis-server.  Answers are checked against the figures live
Keras recorded for the fixture (tests/fixtures/keras/expected.json).
"""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from bot.render.block_limits import limit_violations
from bot.render.blocks import SHOW_GRAPH_ACTION, SHOW_LAYERS_ACTION
from tests.redis_server import RedisServer
from tests.slack_bot_process import BotProcess
from tests.slack_standin import SlackStandIn

ADAM_H5 = "tfk__legacy_adam__save.h5"  # tf-keras 2 model.save(): Adam state after 5 steps
CONV_KERAS = "k3__conv__save.keras"
MANY_H5 = "tfk__many__save.h5"  # 362 layers
ANSWER_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def models(tmp_path_factory, fixtures_dir):
    """The fixture files under the bot's one allowed local root."""
    root = tmp_path_factory.mktemp("models")
    for name in (ADAM_H5, CONV_KERAS, MANY_H5, "k3__toy__save.keras", "k3__toy__save_weights.weights.h5"):
        shutil.copy(fixtures_dir / name, root / name)
    (root / "notes.txt").write_text("not a model\n")
    return root


@pytest.fixture(scope="module")
def slack():
    standin = SlackStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def bot(slack, models, redis, tmp_path_factory):
    with BotProcess(slack, tmp_path_factory.mktemp("bot"), CKPTBOT_LOCAL_ROOTS=str(models),
                    REDIS_URL=redis.url) as process:
        yield process


def _text_of(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        out.append((b.get("text") or {}).get("text", ""))
        out += [f.get("text", "") for f in b.get("fields") or []]
        out += [e.get("text", "") if isinstance(e.get("text"), str) else "" for e in b.get("elements") or []]
    return "\n".join(out)


def _assert_within_limits(args: dict) -> None:
    assert limit_violations(args.get("text", ""), args.get("blocks") or []) == []


def _mention(ts: str, text: str, channel: str = "C111") -> dict:
    return {"type": "app_mention", "user": "U222", "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, "team": "T111"}


# --- /ckpt ----------------------------------------------------------------------------------

def test_slash_command_is_acked_at_once_and_answered_in_channel_with_keras_figures(bot, slack, models, expected):
    live = expected["artifacts"][ADAM_H5]
    status, body = bot.sender.command(str(models / ADAM_H5), slack.response_url("adam"))
    assert status == 200
    ack = json.loads(body)
    assert ack["response_type"] == "ephemeral" and ADAM_H5 in ack["text"]

    answer = slack.wait_for("response_url", where=lambda c: c.path.endswith("/adam"), timeout=ANSWER_TIMEOUT)[0]
    assert answer.args["response_type"] == "in_channel"
    _assert_within_limits(answer.args)
    shown = _text_of(answer.args["blocks"])
    first = answer.args["blocks"][0]["text"]["text"]
    assert f"Keras {live['keras_version']}" in first and f"Adam state after {live['optimizer']['iterations']:,} steps" in first
    assert f"{live['count_params']:,} parameters ({live['trainable']:,} trainable, {live['non_trainable']:,} non-trainable)" in shown
    assert f"loss {live['loss']}" in shown
    assert f"{len(live['layers'])} layers" in shown
    assert "```" in shown and "load_model" in shown  # the reload snippet as a code block
    assert "34.6 KB" in shown  # 34,608 bytes, for people
    assert answer.args["text"].startswith(ADAM_H5)  # fallback text for notifications


def test_help_is_answered_in_the_ack_without_queueing_anything(bot, slack):
    status, body = bot.sender.command("help", slack.response_url("help"))
    assert status == 200
    text = _text_of(json.loads(body)["blocks"])
    for usage in ("/ckpt <link-or-path>", "/ckpt diff <a> <b>", "/ckpt check <weights> <model>"):
        assert usage.replace("<", "&lt;").replace(">", "&gt;") in text


def test_diff_with_one_file_gets_a_usage_sentence(bot, slack, models):
    status, body = bot.sender.command(f"diff {models / ADAM_H5}", slack.response_url("diff1"))
    assert (status, json.loads(body)["text"]) == (200, "`/ckpt diff &lt;a&gt; &lt;b&gt;` needs 2 links or paths.")


def test_diff_and_check_are_answered(bot, slack, models):
    toy, weights = models / "k3__toy__save.keras", models / "k3__toy__save_weights.weights.h5"
    bot.sender.command(f"diff {toy} {models / CONV_KERAS}", slack.response_url("diff2"))
    bot.sender.command(f"check {weights} {toy}", slack.response_url("check"))
    diff = slack.wait_for("response_url", where=lambda c: c.path.endswith("/diff2"), timeout=ANSWER_TIMEOUT)[0]
    check = slack.wait_for("response_url", where=lambda c: c.path.endswith("/check"), timeout=ANSWER_TIMEOUT)[0]
    for call in (diff, check):
        _assert_within_limits(call.args)
    assert "Parameters: 35 → 151 (+116)" in _text_of(diff.args["blocks"])
    assert ":white_check_mark:" in check.args["blocks"][0]["text"]["text"] and "loads" in check.args["text"]


def test_watch_subcommands_from_the_table_reach_the_watch_list(bot, slack, models):
    bot.sender.command(f"watch {models}", slack.response_url("watch"), channel="CWATCH")
    watched = slack.wait_for("response_url", where=lambda c: c.path.endswith("/watch"), timeout=ANSWER_TIMEOUT)[0]
    assert watched.args["response_type"] == "in_channel" and str(models) in watched.args["text"]
    bot.sender.command("watches", slack.response_url("watches"), channel="CWATCH")
    listed = slack.wait_for("response_url", where=lambda c: c.path.endswith("/watches"), timeout=ANSWER_TIMEOUT)[0]
    assert "1 target" in listed.args["text"] and str(models) in listed.args["text"]


def test_a_refused_path_gets_one_sentence_only_the_asker_sees(bot, slack):
    bot.sender.command("/etc/passwd", slack.response_url("refused"))
    call = slack.wait_for("response_url", where=lambda c: c.path.endswith("/refused"), timeout=ANSWER_TIMEOUT)[0]
    assert call.args["response_type"] == "ephemeral"
    assert call.args["text"].startswith("passwd: ") and call.args["blocks"][0]["text"]["text"].startswith(":x:")


def test_fifty_simultaneous_commands_are_all_acked_within_slacks_deadline_and_all_answered(bot, slack, models):
    results: dict[int, tuple[int, str, float]] = {}

    def ask(i: int) -> None:
        start = time.monotonic()
        status, body = bot.sender.command(str(models / CONV_KERAS), slack.response_url(f"burst{i}"), timeout=10)
        results[i] = (status, body, time.monotonic() - start)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A starved ack is Bolt's 404 after 3 s, never a late 200: status and text say it all.
    assert sorted(s for s, _, _ in results.values()) == [200] * 50
    assert all(CONV_KERAS in json.loads(body)["text"] for _, body, _ in results.values())
    assert max(seconds for _, _, seconds in results.values()) < 3.0  # Slack's own deadline
    answers = slack.wait_for("response_url", count=50, timeout=120,
                             where=lambda c: "/burst" in c.path)
    assert {c.path.rsplit("/", 1)[-1] for c in answers} == {f"burst{i}" for i in range(50)}
    assert all(c.args["response_type"] == "in_channel" for c in answers)


# --- signatures -----------------------------------------------------------------------------

@pytest.mark.parametrize("tamper", ["signature", "stale", "not-a-number", "body"])
def test_requests_not_signed_by_slack_are_refused_with_401(bot, slack, tamper):
    url = slack.response_url(f"tampered-{tamper}")
    if tamper == "signature":
        status, body = bot.sender.command("help", url, signature="v0=deadbeef")
    elif tamper == "stale":
        status, body = bot.sender.command("help", url, timestamp=str(int(time.time()) - 301))
    elif tamper == "not-a-number":
        status, body = bot.sender.command("help", url, timestamp="soon")
    else:
        from tests.slack_sender import sign

        ts = str(int(time.time()))
        status, body = bot.sender.post("command=%2Fckpt&text=help&response_url=" + url, timestamp=ts,
                                       signature=sign(bot.sender.secret, ts, "command=%2Fckpt&text=other"),
                                       content_type="application/x-www-form-urlencoded")
    assert (status, json.loads(body)) == (401, {"error": "invalid request"})


# --- mentions, links, uploads ----------------------------------------------------------------

def test_mention_with_a_link_is_answered_in_its_thread_after_a_placeholder(bot, slack, models, expected):
    live = expected["artifacts"][CONV_KERAS]
    ts = slack.next_ts()
    status, _ = bot.sender.event(_mention(ts, f"<@UBOT> what's in <{models / CONV_KERAS}|the conv model>?"))
    assert status == 200
    placeholder = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)[0]
    assert ":hourglass" in placeholder.args["text"]
    update = slack.wait_for("chat.update", where=lambda c: CONV_KERAS in c.args.get("text", ""),
                            timeout=ANSWER_TIMEOUT)[0]
    _assert_within_limits(update.args)
    shown = _text_of(update.args["blocks"])
    assert f"{live['count_params']:,} parameters" in shown
    assert f"{live['optimizer']['class_name']} state after {live['optimizer']['iterations']} steps" in shown


def test_mention_with_a_web_link_reads_it_over_http(bot, slack, fixtures_dir):
    url = slack.publish("remote_adam.h5", (fixtures_dir / ADAM_H5).read_bytes())
    ts = slack.next_ts()
    bot.sender.event(_mention(ts, f"<@UBOT> <{url}|remote_adam.h5>"))
    update = slack.wait_for("chat.update", where=lambda c: "remote_adam.h5" in c.args.get("text", "")
                            and c.args.get("blocks"), timeout=ANSWER_TIMEOUT)[0]
    assert "Adam state after 5 steps" in update.args["text"]


def test_slow_work_keeps_editing_its_placeholder_until_the_answer_replaces_it(bot, slack, fixtures_dir):
    url = slack.publish("slow_adam.h5", (fixtures_dir / ADAM_H5).read_bytes(), delay_s=6.0)
    ts = slack.next_ts()
    bot.sender.event(_mention(ts, f"<@UBOT> <{url}>"))
    final = slack.wait_for("chat.update", where=lambda c: "slow_adam.h5" in c.args.get("text", "")
                           and c.args.get("blocks"), timeout=ANSWER_TIMEOUT)[0]
    edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == final.args["ts"]]
    assert len(edits) >= 2 and edits[-1] is final  # nothing edits the answer away afterwards
    assert all(":hourglass" in c.args["text"] and c.args["text"].endswith("s)") for c in edits[:-1])


def test_a_retried_event_is_answered_once(bot, slack, models, redis):
    ts = slack.next_ts()
    event = _mention(ts, f"<@UBOT> {models / ADAM_H5}")
    assert bot.sender.event(event, event_id="EvRETRY1")[0] == 200
    slack.wait_for("chat.update", where=lambda c: c.args.get("blocks") and ADAM_H5 in c.args.get("text", ""),
                   timeout=ANSWER_TIMEOUT)
    assert bot.sender.event(event, event_id="EvRETRY1", retry_num=1)[0] == 200
    assert bot.sender.event(event, event_id="EvRETRY1", retry_num=2)[0] == 200
    # A later, different question is answered: by then any duplicate would have been posted.
    later = slack.next_ts()
    bot.sender.event(_mention(later, f"<@UBOT> {models / 'notes.txt'}"))
    slack.wait_for("chat.update", where=lambda c: "notes.txt" in c.args.get("text", ""), timeout=ANSWER_TIMEOUT)
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1
    # …because the first delivery was recorded in Redis, shared by every bot process:
    import redis as redis_py

    from bot.cache.policy import once_key

    assert redis_py.Redis.from_url(redis.url).exists(once_key("slack-event:EvRETRY1")) == 1


def test_mention_asking_for_a_diff_is_answered_in_its_thread(bot, slack, models):
    ts = slack.next_ts()
    bot.sender.event(_mention(ts, f"<@UBOT> diff {models / 'k3__toy__save.keras'} {models / CONV_KERAS}"))
    update = slack.wait_for("chat.update", where=lambda c: c.args.get("text", "").startswith("diff k3__toy")
                            and c.args.get("blocks"), timeout=ANSWER_TIMEOUT)[0]
    assert "Optimizer: Adam → RMSprop" in _text_of(update.args["blocks"])
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1


def test_a_rate_limited_post_is_retried_after_retry_after(bot, slack, models):
    slack.fail_once["chat.postMessage"] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    ts = slack.next_ts()
    bot.sender.event(_mention(ts, f"<@UBOT> {models / ADAM_H5}"))
    posts = slack.wait_for("chat.postMessage", count=2, where=lambda c: c.args.get("thread_ts") == ts,
                           timeout=ANSWER_TIMEOUT)
    assert [c.status for c in posts[:2]] == [429, 200]
    # …and the answer then replaces the placeholder that got through:
    slack.wait_for("chat.update", where=lambda c: c.args.get("blocks") and ADAM_H5 in c.args.get("text", ""),
                   timeout=ANSWER_TIMEOUT)


def test_a_pasted_checkpoint_link_is_unfurled_with_a_compact_card(bot, slack, fixtures_dir):
    url = slack.publish("unfurl_adam.h5", (fixtures_dir / ADAM_H5).read_bytes())
    other = slack.publish("readme.html", b"<html></html>")
    bot.sender.event({"type": "link_shared", "channel": "C111", "user": "U222", "message_ts": slack.next_ts(),
                      "unfurl_id": "C111.1.abc", "source": "conversations_history",
                      "links": [{"domain": "127.0.0.1", "url": url}, {"domain": "127.0.0.1", "url": other}],
                      "event_ts": slack.next_ts()})
    call = slack.wait_for("chat.unfurl", timeout=ANSWER_TIMEOUT)[0]
    assert call.args["unfurl_id"] == "C111.1.abc" and call.args["source"] == "conversations_history"
    assert set(call.args["unfurls"]) == {url}  # the exact URL from the event; the page is not a checkpoint
    card = call.args["unfurls"][url]["blocks"]
    _assert_within_limits({"text": "unfurl", "blocks": card})
    assert "Adam state after 5 steps" in _text_of(card) and "35 parameters" in _text_of(card)


def test_an_uploaded_model_is_downloaded_with_the_bot_token_and_answered_in_its_thread(bot, slack, fixtures_dir):
    stored = slack.add_file("F0UPLOAD01", "uploaded.keras", (fixtures_dir / CONV_KERAS).read_bytes())
    bot.sender.event({"type": "file_shared", "channel_id": "C111", "file_id": stored.file_id, "user_id": "U222",
                      "file": {"id": stored.file_id}, "event_ts": slack.next_ts()})
    update = slack.wait_for("chat.update", where=lambda c: "uploaded.keras" in c.args.get("text", "")
                            and c.args.get("blocks"), timeout=ANSWER_TIMEOUT)[0]
    assert "RMSprop state after 12 steps" in update.args["text"]
    downloads = slack.calls_to("file_download")
    assert downloads and all(c.headers["authorization"] == f"Bearer {slack.bot_token}" for c in downloads)
    placeholder = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == stored.share_ts]
    assert len(placeholder) == 1  # the answer lives in the upload's thread


def test_a_message_with_an_uploaded_model_is_answered_once_in_its_thread(bot, slack, fixtures_dir):
    stored = slack.add_file("F0UPLOAD02", "again.h5", (fixtures_dir / ADAM_H5).read_bytes())
    ts = stored.share_ts
    bot.sender.event({"type": "message", "subtype": "file_share", "channel": "C111", "user": "U222", "ts": ts,
                      "text": "", "files": [{"id": stored.file_id, "name": "again.h5", "mode": "hosted"}]})
    # Slack also sends file_shared for the same upload: one answer, not two.
    bot.sender.event({"type": "file_shared", "channel_id": "C111", "file_id": stored.file_id, "user_id": "U222",
                      "file": {"id": stored.file_id}, "event_ts": slack.next_ts()})
    update = slack.wait_for("chat.update", where=lambda c: "again.h5" in c.args.get("text", "")
                            and c.args.get("blocks"), timeout=ANSWER_TIMEOUT)[0]
    assert "Adam state after 5 steps" in update.args["text"]
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1


def test_an_upload_that_is_not_a_model_file_is_left_alone(bot, slack):
    slack.add_file("F0PHOTO001", "holiday.jpg", b"\xff\xd8\xff")
    bot.sender.event({"type": "file_shared", "channel_id": "C111", "file_id": "F0PHOTO001", "user_id": "U222",
                      "file": {"id": "F0PHOTO001"}, "event_ts": slack.next_ts()})
    slack.wait_for("files.info", where=lambda c: c.args.get("file") == "F0PHOTO001")
    ts = slack.next_ts()  # a later question is answered; the photo never got a placeholder
    bot.sender.event(_mention(ts, "<@UBOT> help"))
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    assert not [c for c in slack.calls_to("chat.postMessage") if "holiday" in c.args.get("text", "")]


def test_the_layer_button_posts_every_layer_in_the_thread(bot, slack, models):
    bot.sender.command(str(models / MANY_H5), slack.response_url("many"))
    card = slack.wait_for("response_url", where=lambda c: c.path.endswith("/many"), timeout=ANSWER_TIMEOUT)[0]
    _assert_within_limits(card.args)
    button = [e for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]][0]
    assert button["action_id"] == SHOW_LAYERS_ACTION and button["text"]["text"] == "Show all 362 layers"
    card_ts = slack.next_ts()
    status, _ = bot.sender.button(SHOW_LAYERS_ACTION, button["value"], channel="C111", message_ts=card_ts,
                                  response_url=slack.response_url("many-layers"))
    assert status == 200
    first = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == card_ts,
                           timeout=ANSWER_TIMEOUT)[0]
    count = int(first.args["text"].rsplit(" of ", 1)[-1])  # "…: layer table, part 1 of 4"
    parts = slack.wait_for("chat.postMessage", count=count, where=lambda c: c.args.get("thread_ts") == card_ts,
                           timeout=ANSWER_TIMEOUT)
    table = "\n".join(_text_of(p.args["blocks"]) for p in parts)
    for p in parts:
        _assert_within_limits(p.args)
    assert table.count("Activation") == 360 and "Dense" in table


def test_slacks_url_verification_challenge_is_answered(bot):
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    status, answer = bot.sender.post(body, content_type="application/json")
    assert (status, json.loads(answer)) == (200, {"challenge": json.loads(body)["challenge"]})


def test_health_endpoint_answers_ok(bot):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/healthz", timeout=5) as resp:
        assert (resp.status, resp.read()) == (200, b"ok")


def test_tokens_never_reach_the_bot_log(bot, slack):
    assert slack.bot_token not in bot.log()


def test_the_graph_button_uploads_a_png_of_the_graph_into_the_thread(bot, slack, models):
    """Slack's upload flow end to end: getUploadURLExternal, the bytes, completeUploadExternal in the thread."""
    bot.sender.command(str(models / CONV_KERAS), slack.response_url("conv-graph"))
    card = slack.wait_for("response_url", where=lambda c: c.path.endswith("/conv-graph"), timeout=ANSWER_TIMEOUT)[0]
    _assert_within_limits(card.args)
    buttons = [e for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    graph = next(e for e in buttons if e["action_id"] == SHOW_GRAPH_ACTION)
    assert graph["text"]["text"] == "Show graph"
    card_ts = slack.next_ts()
    status, _ = bot.sender.button(SHOW_GRAPH_ACTION, graph["value"], channel="C111", message_ts=card_ts,
                                  response_url=slack.response_url("conv-graph-click"))
    assert status == 200
    done = slack.wait_for("files.completeUploadExternal", where=lambda c: c.args.get("thread_ts") == card_ts,
                          timeout=ANSWER_TIMEOUT)[0]
    assert done.args["channel_id"] == "C111"
    files = done.args["files"] if isinstance(done.args["files"], list) else json.loads(done.args["files"])
    asked = slack.calls_to("files.getUploadURLExternal")[-1]
    data = slack.uploads[files[0]["id"]]
    assert int(asked.args["length"]) == len(data) and asked.args["filename"] == "graph.png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    import struct
    import zlib

    # A well-formed PNG (IHDR first, its CRC right) of a top-to-bottom graph: 5 layers stacked.
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    width, height = struct.unpack(">II", data[16:24])
    assert height > width
