"""A parser that hangs, spins, eats memory or crashes costs one child, never the bot.

Stand-in readers (tests/servers/parser_standins.py) misbehave on purpose; each ends as a
not-a-model Report with code timeout / limit / corrupt, the test process carries on, and
the pool replaces the worker so the next file is read normally.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.isolation import ParserPool, analyze_isolated  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = str(ROOT / "tests" / "fixtures" / "keras" / "k3__seq__save.keras")
STANDINS = "tests.servers.parser_standins"
# Short enough to keep the suite quick; the default is 60 s.
FAST = {"CKPTBOT_MAX_WALL_SECONDS": "2", "CKPTBOT_PARSER_MEMORY_BYTES": str(1024**3)}


@pytest.mark.parametrize("standin, code", [
    ("blocks_forever", ErrorCode.TIMEOUT),
    ("spins_forever", ErrorCode.TIMEOUT),
    ("eats_memory", ErrorCode.LIMIT),
    ("crashes", ErrorCode.CORRUPT),
])
def test_a_misbehaving_parser_becomes_an_error_report(standin, code):
    report = analyze_isolated(HEALTHY, Settings(**FAST), allow_any_local=True,
                              reader=f"{STANDINS}:{standin}")
    assert report.format == "not-a-model"
    assert report.error.code == code.value
    assert report.error.message
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no zombie left behind


def test_a_healthy_file_is_read_in_the_child():
    report = analyze_isolated(HEALTHY, Settings(**FAST), allow_any_local=True)
    assert report.error is None and report.format == "keras-v3-archive"


def test_the_child_cannot_write_files_when_reading_local_ones(tmp_path):
    target = tmp_path / "written"

    def writes(artifact):
        target.write_bytes(b"x" * 10)

    report = analyze_isolated(HEALTHY, Settings(**FAST), allow_any_local=True, reader=writes)
    assert report.error is not None
    assert not target.exists() or target.stat().st_size == 0


def test_source_errors_in_the_child_become_reports():
    report = analyze_isolated(str(ROOT / "no" / "such.h5"), Settings(**FAST), allow_any_local=True)
    assert report.error.code == ErrorCode.NOT_FOUND.value


def test_the_pool_replaces_a_worker_after_any_failure_and_keeps_serving():
    with ParserPool(1, Settings(**FAST), reader=f"{STANDINS}:crashes") as crashing:
        assert crashing.submit(HEALTHY, allow_any_local=True).error.code == ErrorCode.CORRUPT.value
        assert crashing.submit(HEALTHY, allow_any_local=True).error.code == ErrorCode.CORRUPT.value
        assert crashing.replaced == 2
    with ParserPool(1, Settings(**FAST)) as pool:
        hang = str(ROOT / "tests" / "fixtures" / "hostile" / "spins_in_model_config_attr.h5")
        first = pool.submit(HEALTHY, allow_any_local=True)
        second = pool.submit(hang, allow_any_local=True)
        third = pool.submit(HEALTHY, allow_any_local=True)
        assert first.error is None and third.error is None
        assert second.error.code in (ErrorCode.TIMEOUT.value, ErrorCode.CORRUPT.value)
        assert pool.replaced == 1


def test_a_hanging_file_does_not_hold_up_a_healthy_one_in_the_pool():
    with ParserPool(2, Settings(**FAST), reader=None) as pool:
        results: dict[str, object] = {}
        hang_done = threading.Event()

        def hang() -> None:
            results["hang"] = pool.submit(str(ROOT / "tests" / "fixtures" / "hostile" /
                                              "spins_in_model_config_attr.h5"), allow_any_local=True)
            hang_done.set()

        thread = threading.Thread(target=hang)
        thread.start()
        healthy = pool.submit(HEALTHY, allow_any_local=True)
        healthy_before_hang = not hang_done.is_set()
        thread.join()
        assert healthy.error is None
        assert healthy_before_hang


def test_a_parent_with_a_large_address_space_does_not_starve_the_child():
    """A forked child inherits its parent's mappings (TensorFlow's are gigabytes): the memory
    limit is what the parser may add, so a healthy file still reads."""
    import mmap

    reserved = mmap.mmap(-1, 3 * 1024**3)  # address space only; no page is touched
    try:
        report = analyze_isolated(HEALTHY, Settings(**FAST), allow_any_local=True)
    finally:
        reserved.close()
    assert report.error is None
