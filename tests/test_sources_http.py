"""A model on a web server is read where it lives: a few ranges, not a download.

Models are saved by real Keras (numpy backend, in a subprocess) and served from 127.0.0.1
by a Range-capable server with counters.  The remote Report must equal the local one, the
server must have sent a small part of the file, and servers that ignore Range or refuse HEAD
must still give the same answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.analysis import read_report  # noqa: E402
from bot.analysis.io.artifact import PathArtifact  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.isolation import analyze_isolated  # noqa: E402
from bot.sources import resolve  # noqa: E402
from bot.sources.base import Forbidden, NotFound, SourceError, SourceTimeout  # noqa: E402
from tests.servers import range_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KERAS_FIXTURES = ROOT / "tests" / "fixtures" / "keras"
LOOPBACK = {"CKPTBOT_ALLOWED_HOSTS": "127.0.0.1"}

MAKE_MODELS = """
import sys, keras
m = keras.Sequential([keras.Input((512,))] + [keras.layers.Dense(1024, name=f"d{i}") for i in range(4)])
m.compile(optimizer="adam", loss="mse")
m.save(sys.argv[1] + "/four_dense.keras"); m.save(sys.argv[1] + "/four_dense.h5")
print(m.count_params())
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """15 MB Keras 3 files (4 x Dense(1024)) and small fixtures, on one loopback server."""
    root = tmp_path_factory.mktemp("models")
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    out = subprocess.run([sys.executable, "-c", MAKE_MODELS, str(root)], env=env, capture_output=True,
                         text=True, timeout=240, check=True)
    params = int(out.stdout.strip().splitlines()[-1])
    shutil.copytree(KERAS_FIXTURES / "tfk__toy__save_weights_ckpt", root / "ckpt")
    with range_server(str(root)) as server:
        yield root, server, params


def _comparable(report) -> dict:
    d = report.to_dict()
    d.pop("source")
    d.pop("reload")  # the advice names the file's location
    return d


@pytest.mark.parametrize("name", ["four_dense.h5", "four_dense.keras"])
def test_remote_model_reads_a_small_part_and_matches_the_local_report(served, name):
    root, server, params = served
    server.reset()
    remote = read_report(resolve(server.url(name), Settings(**LOOPBACK)).artifact())
    stats = server.stats()
    local = read_report(PathArtifact(root / name))
    assert remote.error is None and remote.params.total == params  # what live Keras counted
    assert _comparable(remote) == _comparable(local)
    size = (root / name).stat().st_size
    assert stats["bytes_sent"] < size / 4, stats
    assert stats["requests"] <= 40


def test_the_keras_zip_directory_costs_nothing_beyond_head_and_tail(served):
    _, server, _ = served
    server.reset()
    artifact = resolve(server.url("four_dense.keras"), Settings(**LOOPBACK)).artifact()
    with zipfile.ZipFile(artifact.open()) as zf:
        names = zf.namelist()
        config = zf.read("config.json")
    assert "model.weights.h5" in names and b"Sequential" in config
    assert server.stats()["requests"] == 2  # the 1 MiB head and the 256 KiB tail


def test_a_server_that_ignores_range_gives_the_same_report_by_download(served, tmp_path):
    root, _, _ = served
    shutil.copy(root / "four_dense.h5", tmp_path / "four_dense.h5")
    with range_server(str(tmp_path), "--no-range") as plain:
        remote = read_report(resolve(plain.url("four_dense.h5"), Settings(**LOOPBACK)).artifact())
        stats = plain.stats()
    assert _comparable(remote) == _comparable(read_report(PathArtifact(root / "four_dense.h5")))
    size = (root / "four_dense.h5").stat().st_size
    # The tail request, sent alongside, got a 200 too and was hung up on after its headers.
    assert stats["requests"] == 2 and size <= stats["bytes_sent"] < size + 8 * 1024 * 1024, stats


def test_a_download_larger_than_the_byte_limit_is_refused_unread(served, tmp_path):
    root, _, _ = served
    shutil.copy(root / "four_dense.h5", tmp_path / "four_dense.h5")
    settings = Settings(CKPTBOT_MAX_READ_BYTES=str(4 * 1024 * 1024), **LOOPBACK)
    with range_server(str(tmp_path), "--no-range") as plain:
        report = analyze_isolated(plain.url("four_dense.h5"), settings)
        sent = plain.stats()["bytes_sent"]
    assert report.error.code == ErrorCode.LIMIT.value
    assert "CKPTBOT_MAX_READ_BYTES" in report.error.message
    assert sent < (root / "four_dense.h5").stat().st_size


def test_a_server_refusing_head_still_gives_an_identity(served, tmp_path):
    root, _, _ = served
    shutil.copy(root / "four_dense.keras", tmp_path / "four_dense.keras")
    with range_server(str(tmp_path), "--no-head") as server:
        identity = resolve(server.url("four_dense.keras"), Settings(**LOOPBACK)).identity()
        log = server.stats()["log"]
    fields = dict(identity.validators)
    assert fields["size"] == str((tmp_path / "four_dense.keras").stat().st_size)
    assert "etag" in fields and "last-modified" in fields
    assert [entry["method"] for entry in log] == ["HEAD", "GET"]
    assert log[1]["range"] == "bytes=0-0"


def test_identity_changes_when_the_file_changes(served, tmp_path):
    (tmp_path / "m.h5").write_bytes(b"one version")
    with range_server(str(tmp_path)) as server:
        source = resolve(server.url("m.h5"), Settings(**LOOPBACK))
        first = source.identity()
        (tmp_path / "m.h5").write_bytes(b"another version!")
        assert source.identity().cache_key() != first.cache_key()


def test_a_file_replaced_while_being_read_fails_instead_of_mixing_versions(tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))
    with range_server(str(tmp_path)) as server:
        f = resolve(server.url("big.bin"), Settings(**LOOPBACK)).artifact().open()
        (tmp_path / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))
        f.seek(4 * 1024 * 1024)
        with pytest.raises(SourceError, match="changed") as err:
            f.read(100)
    assert err.value.code is ErrorCode.CHANGED


def test_too_many_requests_end_in_a_limit_report(served):
    _, server, _ = served
    settings = Settings(CKPTBOT_MAX_REQUESTS="3", **LOOPBACK)
    report = analyze_isolated(server.url("four_dense.h5"), settings)
    assert report.format == "not-a-model" and report.error.code == ErrorCode.LIMIT.value
    assert "CKPTBOT_MAX_REQUESTS" in report.error.message


def test_a_slow_server_ends_in_a_timeout(served, tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    settings = Settings(CKPTBOT_MAX_WALL_SECONDS="1", **LOOPBACK)
    with range_server(str(tmp_path), "--latency-ms", "1500") as slow:
        with pytest.raises(SourceTimeout):
            resolve(slow.url("m.h5"), settings).artifact().open()


def test_a_checkpoint_index_reaches_its_data_shard_over_http(served):
    root, server, _ = served
    remote = read_report(resolve(server.url("ckpt/m.index"), Settings(**LOOPBACK)).artifact())
    local = read_report(PathArtifact(root / "ckpt" / "m.index"))
    assert remote.error is None
    assert _comparable(remote) == _comparable(local)


def test_missing_files_and_folders_say_so(served):
    _, server, _ = served
    with pytest.raises(NotFound):
        resolve(server.url("nothing-here.h5"), Settings(**LOOPBACK)).artifact().open()
    with pytest.raises(Forbidden, match="directory"):
        resolve(server.url("ckpt/"), Settings(**LOOPBACK))
    artifact = resolve(server.url("ckpt/m.index"), Settings(**LOOPBACK)).artifact()
    assert artifact.sibling("m.data-99999-of-99999") is None


def test_a_transfer_cut_short_is_truncated_and_never_remembered(served):
    """The server promises a range and closes early: `truncated`, and the next ask reads again."""
    from bot import service
    from bot.cache.memory import MemoryCache

    root, _, _ = served
    cache = MemoryCache()
    with range_server(str(root), "--cut-ranges-by", "100") as cut:
        first = service.inspect(cut.url("four_dense.h5"), Settings(**LOOPBACK), cache=cache)
        asked = cut.stats()["get"]
        second = service.inspect(cut.url("four_dense.h5"), Settings(**LOOPBACK), cache=cache)
        assert cut.stats()["get"] > asked  # read again, not answered from the cache
    for report in (first, second):
        assert report.error is not None and report.error.code == ErrorCode.TRUNCATED.value
        assert "cut short" in report.error.message


def test_a_redirect_loop_ends_in_a_limit(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with range_server(str(tmp_path), "--redirect", "/loop.h5=/loop.h5") as server:
        with pytest.raises(SourceError, match="redirected more than") as err:
            resolve(server.url("loop.h5"), Settings(**LOOPBACK)).artifact().open()
    assert err.value.code is ErrorCode.LIMIT
