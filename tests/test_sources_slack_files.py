"""Slack uploads: the bot token reaches Slack's file host and nothing else.

A stand-in for files.slack.com runs on 127.0.0.1: with `Authorization: Bearer <token>` it
serves the file, without it a 200 HTML login page (what Slack does when the app lacks
files:read).  A second server on 127.0.0.2 plays any other host; its request log proves
whether a token was ever sent there.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.analysis import read_report  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.sources import resolve, slack_file_source  # noqa: E402
from bot.sources.base import Forbidden  # noqa: E402
from tests.servers import range_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "keras" / "k3__seq__save.keras"
TOKEN = "xoxb-test-token-1234"


@pytest.fixture(scope="module")
def slack(tmp_path_factory):
    root = tmp_path_factory.mktemp("slack")
    (root / "files-pri" / "T1-F123").mkdir(parents=True)
    shutil.copy(MODEL, root / "files-pri" / "T1-F123" / "seq.keras")
    other_root = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(MODEL, other_root / "seq.keras")
    with range_server(str(other_root), "--host", "127.0.0.2") as other:
        with range_server(str(root), "--slack-token", TOKEN, "--redirect",
                          f"/files-pri/T1-F999/seq.keras={other.url('seq.keras')}") as files:
            (root / "api").mkdir()
            (root / "api" / "files.info").write_text(json.dumps({"ok": True, "file": {
                "id": "F0123456", "size": MODEL.stat().st_size,
                "url_private_download": files.url("files-pri/T1-F123/seq.keras")}}))
            yield files, other


def _settings(files, token: str = TOKEN) -> Settings:
    return Settings(SLACK_BOT_TOKEN=token, SLACK_FILE_HOSTS="127.0.0.1",
                    CKPTBOT_ALLOWED_HOSTS="127.0.0.1,127.0.0.2", SLACK_API_URL=files.url("api/"))


def test_an_upload_is_read_with_the_token_sent_to_the_file_host(slack):
    files, _ = slack
    files.reset()
    report = read_report(slack_file_source(files.url("files-pri/T1-F123/seq.keras"),
                                           _settings(files)).artifact())
    assert report.error is None and report.format == "keras-v3-archive"
    log = files.stats()["log"]
    assert log and all(entry["authorization"] == f"Bearer {TOKEN}" for entry in log)


def test_a_file_id_is_looked_up_with_files_info(slack):
    files, _ = slack
    report = read_report(slack_file_source("F0123456", _settings(files)).artifact())
    assert report.error is None and report.format == "keras-v3-archive"


def test_without_files_read_slack_answers_html_and_the_message_names_the_scope(slack):
    files, _ = slack
    source = slack_file_source(files.url("files-pri/T1-F123/seq.keras"), _settings(files, "xoxb-no-scope"))
    with pytest.raises(Forbidden, match="files:read"):
        source.artifact().open()


def test_the_token_never_goes_to_another_host(slack):
    files, other = slack
    other.reset()
    report = read_report(slack_file_source(other.url("seq.keras"), _settings(files)).artifact())
    assert report.error is None
    log = other.stats()["log"]
    assert log and all(entry["authorization"] is None for entry in log)


def test_the_token_never_follows_a_redirect(slack):
    files, other = slack
    other.reset()
    report = read_report(slack_file_source(files.url("files-pri/T1-F999/seq.keras"),
                                           _settings(files)).artifact())
    assert report.error is None  # read from the other host, without the token
    log = other.stats()["log"]
    assert log and all(entry["authorization"] is None for entry in log)


def test_a_slack_link_typed_in_a_message_is_fetched_without_the_token(slack):
    """resolve() serves typed links: a token there would read other people's private files."""
    files, _ = slack
    files.reset()
    report = read_report(resolve(files.url("files-pri/T1-F123/seq.keras"), _settings(files)).artifact())
    assert report.format == "not-a-model" and report.error.code == "html"  # the login page
    assert all(entry["authorization"] is None for entry in files.stats()["log"])


def test_an_upload_is_read_in_the_isolated_parser_by_file_id(slack):
    from bot.isolation import analyze_isolated

    files, _ = slack
    report = analyze_isolated("F0123456", _settings(files), slack_file=True)
    assert report.error is None and report.format == "keras-v3-archive"
    source = slack_file_source("F0123456", _settings(files))
    assert source.kind == "slack" and source.identity().kind == "slack"
