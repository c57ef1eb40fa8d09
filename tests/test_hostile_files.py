"""Files built to hurt the reader get an error or a warning, and nothing else happens.

Each hostile file goes through the whole path a user's file takes (source → isolated child
→ analysis).  HDF5 features that read other local files (external links, external raw
storage, virtual datasets) point at a secret file beside the model; the secret's bytes must
appear nowhere in the Report.  Shape bombs, zip bombs, traversal and duplicate member names
must be answered from metadata.  The byte-flipped file that makes h5py spin inside
`attrs.get("model_config")` ends as `timeout`; the one that segfaults it as `corrupt`.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.isolation import analyze_isolated  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
SEED = HOSTILE / "byteflip_seed.h5"  # a small legacy Keras-layout .h5 (Sequential, one Dense)
KERAS_ARCHIVE = ROOT / "tests" / "fixtures" / "keras" / "k3__seq__save.keras"
SECRET = b"TOP-SECRET-4242-do-not-leak"
WALL = {"CKPTBOT_MAX_WALL_SECONDS": "3"}


@pytest.fixture
def workdir(tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f.create_dataset("s", data=np.frombuffer(SECRET * 4, dtype="u1"))
        f.attrs["model_config"] = SECRET.decode()
    (tmp_path / "secret.bin").write_bytes(SECRET * 64)
    return tmp_path


def _inspect(path: Path, **settings) -> dict:
    settings = {**WALL, "CKPTBOT_LOCAL_ROOTS": str(path.parent), **settings}
    report = analyze_isolated(str(path), Settings(**settings))
    text = report.to_json()
    assert SECRET.decode() not in text and SECRET.hex() not in text
    return report.to_dict()


def _refused(report: dict, *codes: ErrorCode) -> bool:
    """Answered with one of these error codes (not merely some warning the seed file already has)."""
    return report["error"] is not None and report["error"]["code"] in {c.value for c in codes}


def _legacy_with(path: Path, add) -> Path:
    """The seed model with one more weight of the Dense layer, listed where Keras looks."""
    shutil.copy(SEED, path)
    with h5py.File(path, "a") as f:
        layer = f["model_weights"]["dense"]
        before = set(layer["dense"].keys())
        add(layer["dense"])
        (new,) = set(layer["dense"].keys()) - before
        names = [bytes(n) for n in layer.attrs["weight_names"]] + [f"dense/{new}".encode()]
        layer.attrs["weight_names"] = np.array(names)
    return path


def test_an_external_link_to_a_local_file_is_refused(workdir):
    model = _legacy_with(workdir / "m.h5", lambda g: g.__setitem__(
        "stolen", h5py.ExternalLink(str(workdir / "secret.h5"), "/s")))
    assert _refused(_inspect(model), ErrorCode.UNSAFE)


def test_external_raw_storage_is_refused(workdir):
    model = _legacy_with(workdir / "m.h5", lambda g: g.create_dataset(
        "stolen", shape=(len(SECRET) * 4,), dtype="u1", external=[(str(workdir / "secret.bin"), 0, 256)]))
    report = _inspect(model)
    assert _refused(report, ErrorCode.UNSAFE)


def test_a_virtual_dataset_over_a_local_file_is_refused(workdir):
    def add(group):
        layout = h5py.VirtualLayout(shape=(len(SECRET) * 4,), dtype="u1")
        layout[:] = h5py.VirtualSource(str(workdir / "secret.h5"), "s", shape=(len(SECRET) * 4,))
        group.create_virtual_dataset("stolen", layout)

    assert _refused(_inspect(_legacy_with(workdir / "m.h5", add)), ErrorCode.UNSAFE)


def test_a_shape_bomb_is_refused_from_metadata(workdir):
    model = _legacy_with(workdir / "m.h5", lambda g: g.create_dataset(
        "bomb", shape=(2**50,), dtype="f4", chunks=(1024,), compression="gzip", fillvalue=0.0))
    assert model.stat().st_size < 64 * 1024
    assert _refused(_inspect(model), ErrorCode.LIMIT)


def test_the_same_tricks_inside_a_keras_archive_are_refused(workdir):
    with zipfile.ZipFile(KERAS_ARCHIVE) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    weights = io.BytesIO(members["model.weights.h5"])
    with h5py.File(weights, "a") as f:
        f["layers"].create_dataset("bomb", shape=(2**50,), dtype="f4", chunks=(1024,), compression="gzip")
        f["layers"]["stolen"] = h5py.ExternalLink(str(workdir / "secret.h5"), "/s")
    members["model.weights.h5"] = weights.getvalue()
    model = workdir / "m.keras"
    with zipfile.ZipFile(model, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert _refused(_inspect(model), ErrorCode.UNSAFE, ErrorCode.LIMIT)


def _archive_with(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(KERAS_ARCHIVE) as zf:
        originals = {name: zf.read(name) for name in zf.namelist()}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name on purpose
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in originals.items():
                zf.writestr(name, data)
            for name, data, method in entries:
                zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def test_a_deflate_bomb_config_is_refused_before_inflating(workdir):
    model = workdir / "m.keras"
    with zipfile.ZipFile(model, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr(zipfile.ZipInfo("config.json"), b" " * (300 * 1024**2), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("model.weights.h5", b"")
    assert model.stat().st_size < 1024**2
    report = _inspect(model, CKPTBOT_PARSER_MEMORY_BYTES=str(1024**3))
    assert _refused(report, ErrorCode.LIMIT)


@pytest.mark.parametrize("name", ["../../evil.json", "/abs/evil.json", "a/../../evil.json",
                                  "..\\..\\evil.json"])
def test_member_names_that_climb_out_are_reported(workdir, name):
    model = _archive_with(workdir / "m.keras", [(name, b"{}", zipfile.ZIP_STORED)])
    report = _inspect(model)
    assert "unsafe-member-name" in {w["code"] for w in report["warnings"]}
    assert report["params"]["total"] > 0  # the model itself is still described
    assert not (workdir.parent / "evil.json").exists()


def test_a_duplicate_config_member_is_refused(workdir):
    evil = json.dumps({"class_name": "Lambda", "config": {"function": "exec"}}).encode()
    model = _archive_with(workdir / "m.keras", [("config.json", evil, zipfile.ZIP_STORED)])
    assert _refused(_inspect(model), ErrorCode.UNSAFE)


def test_the_file_that_makes_h5py_spin_ends_as_a_timeout(tmp_path):
    model = tmp_path / "m.h5"
    shutil.copy(HOSTILE / "spins_in_model_config_attr.h5", model)
    report = _inspect(model)
    if h5py.version.hdf5_version == "1.14.6":  # the hang is version-specific (security.md §3.1)
        assert report["error"]["code"] == ErrorCode.TIMEOUT.value
    else:
        assert report["error"] is not None


def test_the_file_that_crashes_h5py_ends_as_corrupt(tmp_path):
    model = tmp_path / "m.h5"
    shutil.copy(HOSTILE / "segfaults_in_model_config_attr.h5", model)
    report = _inspect(model)
    assert report["format"] == "not-a-model"
    if h5py.version.hdf5_version == "1.14.6":
        assert report["error"]["code"] == ErrorCode.CORRUPT.value


def test_the_unmodified_seed_is_a_model_so_the_mutants_mean_something(tmp_path):
    model = tmp_path / "m.h5"
    shutil.copy(SEED, model)
    report = _inspect(model)
    assert report["error"] is None and report["format"] == "keras-h5-model"


def test_external_storage_in_a_remote_file_does_not_read_the_bots_disk(workdir):
    """HDF5 resolves external raw storage even for in-memory files (security.md §3.3)."""
    from tests.servers import range_server

    served = workdir / "served"
    served.mkdir()
    _legacy_with(served / "m.h5", lambda g: g.create_dataset(
        "stolen", shape=(256,), dtype="u1", external=[(str(workdir / "secret.bin"), 0, 256)]))
    with range_server(str(served)) as server:
        report = analyze_isolated(server.url("m.h5"), Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1", **WALL))
    assert SECRET.decode() not in report.to_json()
    assert report.error is not None or report.warnings
