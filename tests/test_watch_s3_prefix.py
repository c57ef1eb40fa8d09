"""Story: training uploads checkpoints to S3; `ckptbot watch s3://bucket/prefix --once` runs from
cron.  moto's S3 in server mode on loopback, real Redis, the Slack stand-in."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis_server import redis_server  # noqa: F401  (fixture)
from watch_slack_standin import SlackStandin
from watch_stories import BOT_TOKEN, FIXTURES, ROOT, clean_env, names_posted

from tests.servers import moto_s3_server

BUCKET = "team-ckpts"
CHANNEL = "C0S3"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


@pytest.fixture(scope="module")
def s3():
    import botocore.session

    with moto_s3_server() as endpoint:
        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client


def _watch_once(endpoint: str, slack: SlackStandin, redis_url: str, target: str) -> subprocess.CompletedProcess:
    env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url, REDIS_URL=redis_url,
                    AWS_ENDPOINT_URL=endpoint, **AWS_ENV)
    env.pop("AWS_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", "watch", target, "--channel", CHANNEL,
                           "--once", "--interval", "0.5"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_uploaded_checkpoints_are_announced_once_across_cron_runs(s3, redis_server):  # noqa: F811
    endpoint, client = s3
    for key, fixture in (("exp1/ckpt-1.keras", "k3__toy__save.keras"), ("exp1/ckpt-2.h5", "k3__toy__save.h5"),
                         ("exp1/ckpt-3.keras.tmp", "k3__toy__save.keras"), ("exp1/notes.txt", "expected.json")):
        client.put_object(Bucket=BUCKET, Key=key, Body=(FIXTURES / fixture).read_bytes())
    with SlackStandin() as slack:
        first = _watch_once(endpoint, slack, redis_server.url, f"s3://{BUCKET}/exp1/")
        assert first.returncode == 0, first.stderr
        posts = slack.snapshot()
        assert sorted(names_posted(posts)) == ["ckpt-1.keras", "ckpt-2.h5"]
        assert posts[1]["thread_ts"] == posts[0]["ts"], "one thread for the run"
        assert f"in {BUCKET}/exp1" in posts[0]["text"]

        again = _watch_once(endpoint, slack, redis_server.url, f"s3://{BUCKET}/exp1/")
        assert again.returncode == 0, again.stderr
        assert len(slack.snapshot()) == 2, "a second cron run posts nothing already announced"

        client.put_object(Bucket=BUCKET, Key="exp1/ckpt-2.h5", Body=(FIXTURES / "k3__seq__save.h5").read_bytes())
        third = _watch_once(endpoint, slack, redis_server.url, f"s3://{BUCKET}/exp1/")
        assert third.returncode == 0, third.stderr
        posts = slack.snapshot()
        assert names_posted(posts)[2:] == ["ckpt-2.h5"], "an overwritten object (new ETag) is a new version"
        assert posts[2]["thread_ts"] == posts[0]["ts"]


def test_a_missing_folder_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "watch", str(tmp_path / "nope"), "--channel", "C1"],
                          cwd=ROOT, env=clean_env(SLACK_BOT_TOKEN=BOT_TOKEN), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 64 and "is not a folder" in proc.stderr


def test_without_a_bot_token_the_watcher_names_the_variable(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "watch", str(tmp_path), "--channel", "C1", "--once"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4 and "SLACK_BOT_TOKEN" in proc.stderr
