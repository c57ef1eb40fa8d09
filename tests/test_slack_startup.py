"""`ckptbot serve` with missing or wrong Slack configuration stops at once with one line naming the variable."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.slack_bot_process import bot_env
from tests.slack_standin import SlackStandIn

EXIT_CONFIG = 4


@pytest.fixture(scope="module")
def slack():
    standin = SlackStandIn().start()
    yield standin
    standin.stop()


def _serve(env: dict[str, str], *args: str):
    return run_cli("serve", "--port", "1", *args, env=env, timeout=60)


def test_http_mode_without_a_signing_secret_names_it(slack):
    env = bot_env(slack)
    del env["SLACK_SIGNING_SECRET"]
    result = _serve(env)
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.strip().splitlines()[-1].startswith("ckptbot: configuration error: SLACK_SIGNING_SECRET is not set")


def test_socket_mode_without_an_app_token_names_it(slack):
    result = _serve(bot_env(slack), "--socket")
    assert result.returncode == EXIT_CONFIG and "SLACK_APP_TOKEN is not set" in result.stderr


def test_a_user_token_in_place_of_the_bot_token_is_refused(slack):
    result = _serve(bot_env(slack, SLACK_BOT_TOKEN="xoxp-1-2-3"))
    assert result.returncode == EXIT_CONFIG and "SLACK_BOT_TOKEN must be a bot token" in result.stderr


def test_a_token_slack_refuses_stops_the_bot_before_it_listens(slack):
    result = _serve(bot_env(slack, SLACK_BOT_TOKEN="xoxb-revoked"))
    assert result.returncode == EXIT_CONFIG
    assert "Slack refused SLACK_BOT_TOKEN" in result.stderr and "invalid_auth" in result.stderr
    assert "xoxb-revoked" not in result.stderr + result.stdout  # tokens never reach the logs
    assert [c.method for c in slack.calls] [-1:] == ["auth.test"]


def test_a_bad_api_url_names_slack_api_url(slack):
    result = _serve(bot_env(slack, SLACK_API_URL="slack.com/api"))
    assert result.returncode == EXIT_CONFIG and "SLACK_API_URL" in result.stderr


def test_slack_unreachable_at_start_says_where_it_looked(slack):
    from tests.slack_bot_process import free_port

    api_url = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    result = _serve(bot_env(slack, SLACK_API_URL=api_url))
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.strip().splitlines()[-1].startswith(f"ckptbot: cannot start: Slack refused SLACK_BOT_TOKEN "
                                                             f"or could not be reached at SLACK_API_URL ({api_url})")
