"""Operators see and clear the shared cache from the CLI; `inspect` of a remote file uses it when
REDIS_URL is set (a local file is read faster than Redis is asked, so it is not cached)."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES, run_cli
from tests.redis_server import RedisServer
from tests.servers import range_server


def test_inspect_fills_the_redis_cache_and_operators_can_see_and_clear_it(tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        env = {"REDIS_URL": server.url, "CKPTBOT_ALLOWED_HOSTS": "127.0.0.1"}
        local = run_cli("inspect", str(FIXTURES / "tfk__toy__save.h5"), "--json", env=env)
        assert local.returncode == 0
        assert "entries: 0 for this version" in run_cli("cache", "stats", env=env).stdout
        with range_server(str(FIXTURES)) as files:
            first = run_cli("inspect", files.url("tfk__toy__save.h5"), "--json", env=env)
            second = run_cli("inspect", files.url("tfk__toy__save.h5"), "--json", env=env)
        assert first.returncode == second.returncode == 0
        assert json.loads(first.stdout) == json.loads(second.stdout)
        assert json.loads(first.stdout)["params"]["total"] == 35

        stats = run_cli("cache", "stats", env=env)
        assert stats.returncode == 0, stats.stderr
        assert "entries: 1 for this version" in stats.stdout
        assert "1 hits" in stats.stdout and "1 inspections" in stats.stdout

        cleared = run_cli("cache", "clear", env=env)
        assert cleared.returncode == 0
        assert "removed 1 cached reports" in cleared.stdout
        assert "entries: 0 for this version" in run_cli("cache", "stats", env=env).stdout
    finally:
        server.kill()


def test_cache_commands_without_redis_url_say_so_and_exit_4():
    res = run_cli("cache", "stats")
    assert res.returncode == 4
    assert "REDIS_URL is not set" in res.stderr


def test_cache_commands_with_a_dead_redis_say_so_and_exit_4(tmp_path):
    server = RedisServer(tmp_path).start()
    url = server.url
    server.kill()
    res = run_cli("cache", "clear", env={"REDIS_URL": url})
    assert res.returncode == 4
    assert "does not answer" in res.stderr


def test_inspect_still_answers_when_redis_is_down(tmp_path):
    server = RedisServer(tmp_path).start()
    url = server.url
    server.kill()
    with range_server(str(FIXTURES)) as files:
        res = run_cli("inspect", files.url("tfk__toy__save.h5"), "--json",
                      env={"REDIS_URL": url, "CKPTBOT_ALLOWED_HOSTS": "127.0.0.1"})
    assert res.returncode == 0
    assert json.loads(res.stdout)["params"]["total"] == 35


def test_a_bad_setting_is_one_clear_error_naming_the_variable():
    res = run_cli("inspect", str(FIXTURES / "tfk__toy__save.h5"), env={"CKPTBOT_MAX_WALL_SECONDS": "soon"})
    assert res.returncode == 4
    assert "CKPTBOT_MAX_WALL_SECONDS" in res.stderr
