"""A model in an S3 bucket is read by range, like one on a web server.

moto's S3 API runs in server mode on 127.0.0.1; the bot finds it through the standard
`AWS_ENDPOINT_URL`, with credentials from the usual AWS environment variables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.analysis import read_report  # noqa: E402
from bot.analysis.io.artifact import PathArtifact  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.isolation import analyze_isolated  # noqa: E402
from bot.sources import resolve  # noqa: E402
from bot.sources.base import Forbidden, NotFound  # noqa: E402
from bot.sources.s3 import make_s3_client  # noqa: E402
from tests.servers import moto_s3_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "keras"
BUCKET = "team-models"
FILES = {
    "runs/seq.keras": FIXTURES / "k3__seq__save.keras",
    "runs/seq.h5": FIXTURES / "k3__seq__save.h5",
    "ckpt/m.index": FIXTURES / "tfk__toy__save_weights_ckpt" / "m.index",
    "ckpt/m.data-00000-of-00001": FIXTURES / "tfk__toy__save_weights_ckpt" / "m.data-00000-of-00001",
}


@pytest.fixture(scope="module")
def bucket():
    with moto_s3_server() as endpoint:
        patch = pytest.MonkeyPatch()
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        client = make_s3_client()
        client.create_bucket(Bucket=BUCKET)
        for key, path in FILES.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        try:
            yield client
        finally:
            patch.undo()


def _comparable(report) -> dict:
    d = report.to_dict()
    d.pop("source")
    d.pop("reload")
    return d


@pytest.mark.parametrize("key", ["runs/seq.keras", "runs/seq.h5", "ckpt/m.index"])
def test_an_s3_object_gives_the_same_report_as_the_local_file(bucket, key):
    remote = read_report(resolve(f"s3://{BUCKET}/{key}", Settings()).artifact())
    assert remote.error is None
    assert _comparable(remote) == _comparable(read_report(PathArtifact(FILES[key])))


def test_the_isolated_parser_reads_s3_too(bucket):
    report = analyze_isolated(f"s3://{BUCKET}/runs/seq.keras", Settings())
    assert report.error is None and report.format == "keras-v3-archive"


def test_identity_carries_the_etag_and_changes_with_the_object(bucket):
    source = resolve(f"s3://{BUCKET}/runs/seq.h5", Settings())
    first = dict(source.identity().validators)
    assert first["size"] == str(FILES["runs/seq.h5"].stat().st_size) and first["etag"]
    bucket.put_object(Bucket=BUCKET, Key="runs/seq.h5", Body=b"replaced")
    try:
        assert dict(source.identity().validators)["etag"] != first["etag"]
    finally:
        bucket.put_object(Bucket=BUCKET, Key="runs/seq.h5", Body=FILES["runs/seq.h5"].read_bytes())


def test_a_missing_key_or_bucket_says_not_found(bucket):
    with pytest.raises(NotFound):
        resolve(f"s3://{BUCKET}/nothing.h5", Settings()).identity()
    report = analyze_isolated("s3://no-such-bucket-here/m.h5", Settings())
    assert report.error.code == ErrorCode.NOT_FOUND.value


def test_a_request_limit_holds_for_s3(bucket):
    report = analyze_isolated(f"s3://{BUCKET}/ckpt/m.index", Settings(CKPTBOT_MAX_REQUESTS="1"))
    assert report.error.code == ErrorCode.LIMIT.value


def test_wrong_credentials_are_a_clear_refusal(bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(Forbidden, match="credentials"):
        resolve(f"s3://{BUCKET}/runs/seq.h5", Settings()).identity()
