"""Queue mode stories: `ckptbot serve` replicas (CKPTBOT_QUEUE=rq) and `ckptbot worker`s as subprocesses,
one real redis-server (appendonly, fsync always), the Slack stand-in over HTTP.

Every story waits on events (a call reaching the stand-in, the queue draining) with generous bounds
and then counts answers: exactly one per Slack request, whatever was killed or delivered twice.
Figures are checked against live Keras' record of the fixture (tests/fixtures/keras/expected.json).
"""

from __future__ import annotations

import shutil
import threading

import pytest
import redis as redis_lib
from rq import Queue
from rq.registry import StartedJobRegistry

from bot.queue.connection import QUEUES, serializer
from tests.queue_processes import WorkerProcess, queue_env, wait_until
from tests.redis_server import RedisServer
from tests.slack_bot_process import BotProcess
from tests.slack_standin import SlackStandIn

ADAM_H5 = "tfk__legacy_adam__save.h5"
CONV_KERAS = "k3__conv__save.keras"
LONG = 120.0  # bound for anything a busy 2-core machine has to do (start a worker, inspect a file)


@pytest.fixture
def models(tmp_path, fixtures_dir):
    root = tmp_path / "models"
    root.mkdir()
    for name in (ADAM_H5, CONV_KERAS):
        shutil.copy(fixtures_dir / name, root / name)
    return root


@pytest.fixture
def slack():
    standin = SlackStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis", extra_args=("--appendonly", "yes", "--appendfsync", "always")).start()
    yield server
    server.kill()


@pytest.fixture
def env(redis, models):
    return queue_env(redis.url, CKPTBOT_LOCAL_ROOTS=str(models))


def _mention(ts: str, text: str) -> dict:
    return {"type": "app_mention", "user": "U222", "text": f"<@UBOT> {text}", "ts": ts, "channel": "C111",
            "event_ts": ts, "team": "T111"}


def command_answers(slack: SlackStandIn, name: str) -> list:
    """Answers on a /ckpt response_url (placeholder edits replace the ephemeral ack; answers do not)."""
    return [c for c in slack.calls_to("response_url")
            if c.path.endswith(f"/{name}") and c.args.get("replace_original") is False]


def answers(slack: SlackStandIn) -> list:
    """Every final answer Slack received: cards and sentences (blocks), never placeholder edits."""
    return ([c for c in slack.calls_to("chat.update") + slack.calls_to("chat.postMessage") if c.args.get("blocks")]
            + [c for c in slack.calls_to("response_url") if c.args.get("replace_original") is False]
            + slack.calls_to("chat.unfurl"))


def text_of(call) -> str:
    parts = [call.args.get("text") or ""]
    for b in call.args.get("blocks") or []:
        parts.append((b.get("text") or {}).get("text", "") if isinstance(b.get("text"), dict) else "")
    return "\n".join(parts)


def queue_idle(url: str) -> bool:
    conn = redis_lib.Redis.from_url(url)
    try:
        return all(Queue(q, connection=conn, serializer=serializer()).count == 0 and
                   StartedJobRegistry(q, connection=conn, serializer=serializer()).count == 0 for q in QUEUES)
    except redis_lib.RedisError:
        return False


def header_of(call) -> str:
    return (call.args.get("blocks") or [{}])[0].get("text", {}).get("text", "")
def params_line(live: dict) -> str:
    return f"{live['count_params']:,} parameters"


# --- the ordinary path ------------------------------------------------------------------------

def test_command_is_acked_with_its_place_and_answered_once_by_a_worker(slack, env, tmp_path, models, expected,
                                                                       redis):
    live = expected["artifacts"][ADAM_H5]
    with BotProcess(slack, tmp_path, **env) as bot:
        status, body = bot.sender.command(str(models / ADAM_H5), slack.response_url("c1"))
        assert status == 200 and "next in line" in body  # acked with no worker anywhere: the job waits
        with WorkerProcess(slack, tmp_path, **env):
            answer = slack.wait_for("response_url", timeout=LONG,
                                    where=lambda c: c.args.get("replace_original") is False)[0]
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    assert answer.args["response_type"] == "in_channel"
    assert params_line(live) in text_of(answer)
    reading = [c for c in slack.calls_to("response_url") if c.args.get("replace_original") is True]
    assert reading and "reading…" in reading[0].args["text"]  # the ack was edited when a worker took it
    assert len(command_answers(slack, "c1")) == 1


def test_cache_hit_is_answered_by_the_replica_without_any_worker(slack, env, tmp_path, models, expected, redis):
    live = expected["artifacts"][CONV_KERAS]
    with BotProcess(slack, tmp_path, **env) as bot:
        bot.sender.command(str(models / CONV_KERAS), slack.response_url("first"))
        with WorkerProcess(slack, tmp_path, "--burst", **env) as worker:
            assert worker.wait(LONG) == 0  # burst: answered the one job, queue empty, exited
        assert len(command_answers(slack, "first")) == 1
        bot.sender.command(str(models / CONV_KERAS), slack.response_url("again"))
        answer = slack.wait_for("response_url", timeout=LONG, where=lambda c: c.path.endswith("/again")
                                and c.args.get("replace_original") is False)[0]
        assert params_line(live) in text_of(answer)
        wait_until(lambda: queue_idle(redis.url), LONG, "the answered job to leave the queue")
    assert len(command_answers(slack, "again")) == 1


# --- exactly once ------------------------------------------------------------------------------

def test_killed_worker_job_is_picked_up_by_another_and_answered_once(slack, env, tmp_path, models, redis):
    data = (models / ADAM_H5).read_bytes()
    gate = slack.hold("slow.h5")
    url = slack.publish("slow.h5", data)
    with BotProcess(slack, tmp_path, **env) as bot:
        first = WorkerProcess(slack, tmp_path, **env).start()
        try:
            bot.sender.event(_mention("10.1", f"<{url}>"), event_id="EvKILL")
            wait_until(lambda: slack.held_gets.get("slow.h5"), LONG, "the first worker to start reading")
            first.kill()  # SIGKILL mid-job, parser children included
        finally:
            first.__exit__()
        gate.set()
        with WorkerProcess(slack, tmp_path, **env) as second:
            wait_until(lambda: answers(slack), LONG, "the second worker's answer")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
            assert "slow.h5" in second.log()  # the second worker answered it (requeued by the reaper)
    assert len(answers(slack)) == 1
    assert "slow.h5" in text_of(answers(slack)[0]) and "parameters" in text_of(answers(slack)[0])


def test_same_event_at_two_replicas_is_answered_once(slack, env, tmp_path, models, redis):
    event = _mention("20.1", str(models / ADAM_H5))
    with BotProcess(slack, tmp_path, **env) as a, BotProcess(slack, tmp_path, **env) as b:
        results: dict[str, tuple[int, str]] = {}
        threads = [threading.Thread(target=lambda n=n, r=r: results.__setitem__(n, r.sender.event(event, event_id="EvTWO")))
                   for n, r in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, (status, _) in results.items():
            if status != 200:  # 503: the other replica was mid-enqueue; Slack delivers again, as it does
                replica = a if name == "a" else b
                wait_until(lambda r=replica: r.sender.event(event, event_id="EvTWO", retry_num=1)[0] == 200,
                           LONG, "a retried delivery to be acknowledged", step=0.5)
        with WorkerProcess(slack, tmp_path, **env):
            wait_until(lambda: answers(slack), LONG, "the answer")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    placeholders = [c for c in slack.calls_to("chat.postMessage") if not c.args.get("blocks")]
    assert len(placeholders) == 1 and len(answers(slack)) == 1


def test_slack_retry_of_an_event_is_answered_once(slack, env, tmp_path, models, redis):
    event = _mention("30.1", str(models / CONV_KERAS))
    with BotProcess(slack, tmp_path, **env) as bot:
        assert bot.sender.event(event, event_id="EvRETRY")[0] == 200
        assert bot.sender.event(event, event_id="EvRETRY", retry_num=1)[0] == 200
        assert bot.sender.event(event, event_id="EvRETRY", retry_num=2)[0] == 200
        with WorkerProcess(slack, tmp_path, **env):
            wait_until(lambda: answers(slack), LONG, "the answer")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    assert len(answers(slack)) == 1 and "conv" in text_of(answers(slack)[0])


def test_questions_survive_a_redis_restart_and_are_answered_once(slack, env, tmp_path, models, redis):
    with BotProcess(slack, tmp_path, **env) as bot:
        assert bot.sender.event(_mention("40.1", str(models / ADAM_H5)), event_id="EvRESTART")[0] == 200
        bot.sender.command(str(models / CONV_KERAS), slack.response_url("r1"))
        redis.restart_keeping_data()  # SIGKILL, then the same dir: the AOF brings the jobs and claims back
        wait_until(lambda: bot.sender.event(_mention("40.1", str(models / ADAM_H5)), event_id="EvRESTART",
                                            retry_num=1)[0] == 200, LONG, "the replica to reach Redis again",
                   step=0.5)
        with WorkerProcess(slack, tmp_path, **env):
            wait_until(lambda: len(answers(slack)) >= 2, LONG, "both answers")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    assert len(answers(slack)) == 2 and len(command_answers(slack, "r1")) == 1


def test_job_that_fails_for_good_still_answers_the_person(slack, env, tmp_path, redis):
    # A file Slack says does not exist: files.info fails on every try, RQ retries, then gives up.
    with BotProcess(slack, tmp_path, **env) as bot:
        bot.sender.event({"type": "message", "subtype": "file_share", "user": "U222", "channel": "C111",
                          "ts": "50.1", "files": [{"id": "FGONE", "name": "model.h5"}]}, event_id="EvGONE")
        with WorkerProcess(slack, tmp_path, **env):
            wait_until(lambda: answers(slack), LONG, "the failure sentence")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    assert len(slack.calls_to("files.info")) == 3  # the first try and both retries
    (answer,) = answers(slack)
    assert "model.h5" in text_of(answer) and "Try again" in text_of(answer)
    assert answer.args["thread_ts"] == "50.1"


# --- priorities, fairness, shutdown --------------------------------------------------------------

def test_one_persons_many_links_do_not_starve_someone_else(slack, env, tmp_path, models, redis):
    with BotProcess(slack, tmp_path, **env) as bot:
        for i in range(6):  # U222 pastes six questions; only three wait in the interactive queue
            bot.sender.event(_mention(f"60.{i}", str(models / ADAM_H5)), event_id=f"EvMANY{i}")
        other = {**_mention("61.1", str(models / CONV_KERAS)), "user": "U333"}
        bot.sender.event(other, event_id="EvOTHER")
        with WorkerProcess(slack, tmp_path, **env):
            wait_until(lambda: len(answers(slack)) >= 7, LONG, "all seven answers")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    order = [("conv" in text_of(c)) for c in answers(slack)]
    # U333's question came after all six of U222's, yet is answered before U222's overflow (the last three)
    assert order.index(True) <= 3, order
    assert len(answers(slack)) == 7


def test_warm_shutdown_finishes_the_job_and_exits(slack, env, tmp_path, models, redis):
    gate = slack.hold("warm.h5")
    url = slack.publish("warm.h5", (models / ADAM_H5).read_bytes())
    with BotProcess(slack, tmp_path, **env) as bot:
        with WorkerProcess(slack, tmp_path, **env) as worker:
            bot.sender.event(_mention("70.1", f"<{url}>"), event_id="EvWARM")
            wait_until(lambda: slack.held_gets.get("warm.h5"), LONG, "the worker to start reading")
            worker.terminate()  # SIGTERM while busy: finish this job, then exit
            gate.set()
            assert worker.wait(LONG) == 0
        assert len(answers(slack)) == 1 and "parameters" in text_of(answers(slack)[0])
        assert queue_idle(redis.url)


def test_peoples_questions_go_before_watcher_announcements(slack, env, tmp_path, models, redis):
    import json as json_lib
    import time
    import urllib.request

    from handlers.hooks import sign

    secret = "hook-secret-for-tests"
    body = json_lib.dumps({"reference": str(models / CONV_KERAS), "channel": "C999"}).encode()
    with BotProcess(slack, tmp_path, CKPTBOT_WEBHOOK_SECRET=secret, **env) as bot:
        stamp = str(int(time.time()))
        request = urllib.request.Request(f"http://127.0.0.1:{bot.port}/hooks/checkpoint", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "X-Ckptbot-Timestamp": stamp,
                                                  "X-Ckptbot-Signature": sign(secret, stamp, body)})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert json_lib.loads(r.read())["outcome"] == "queued"  # announced first…
        bot.sender.event(_mention("80.1", str(models / ADAM_H5)), event_id="EvPRIO")  # …asked second
        with WorkerProcess(slack, tmp_path, "--burst", **env) as worker:
            assert worker.wait(LONG) == 0
    announcement = [c for c in answers(slack) if c.args.get("channel") == "C999"]
    question = [c for c in answers(slack) if c.args.get("channel") == "C111"]
    assert len(announcement) == 1 and len(question) == 1
    calls = slack.calls
    assert calls.index(question[0]) < calls.index(announcement[0])  # the person was answered first
    assert "conv" in text_of(announcement[0])


def test_queue_stats_and_healthz_show_the_queue(slack, env, tmp_path, models, redis):
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from tests.slack_bot_process import ROOT, bot_env

    with BotProcess(slack, tmp_path, **env) as bot:
        bot.sender.command(str(models / ADAM_H5), slack.response_url("s1"))  # no worker: it waits
        out = subprocess.run([sys.executable, "-m", "bot.cli", "queue", "stats"], env=bot_env(slack, **env),
                             cwd=ROOT, capture_output=True, text=True, timeout=LONG)
        assert out.returncode == 0, out.stderr
        assert "ckptbot-interactive: 1 waiting" in out.stdout and "workers alive: 0" in out.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/healthz", timeout=10) as r:
            assert r.status == 200
        redis.kill()
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/healthz", timeout=10)
        assert down.value.code == 503 and b"queue unreachable" in down.value.read()


def test_job_whose_workers_keep_dying_is_answered_with_a_sentence(slack, env, tmp_path, models, redis):
    # Held forever: every worker that takes it is SIGKILLed mid-read; after the first try and both
    # retries, the reaper hands it to RQ one last time, which fails it, and the person is told.
    slack.hold("doomed.h5")
    url = slack.publish("doomed.h5", (models / ADAM_H5).read_bytes())
    with BotProcess(slack, tmp_path, **env) as bot:
        bot.sender.event(_mention("90.1", f"<{url}>"), event_id="EvDOOM")
        for attempt in range(1, 4):  # the first try and RQ's two retries
            before = slack.held_gets.get("doomed.h5", 0)
            worker = WorkerProcess(slack, tmp_path, **env).start()
            wait_until(lambda w=worker, b=before: "doomed.h5" in w.log() and slack.held_gets.get("doomed.h5", 0) > b,
                       LONG, f"try {attempt} to read")
            worker.kill()
            worker.__exit__()
        with WorkerProcess(slack, tmp_path, **env):  # its reaper finds the last try abandoned
            wait_until(lambda: answers(slack), LONG, "the failure sentence")
            wait_until(lambda: queue_idle(redis.url), LONG, "the queue to drain")
    (answer,) = answers(slack)
    assert "doomed.h5" in text_of(answer) and "Try again" in text_of(answer)
