"""Things people paste that are not models: each is named, with a sentence saying what to do next,
and nothing crashes (library call and CLI alike)."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest

from bot.analysis import PathArtifact, read_report
from tests.conftest import run_cli

LFS = (b"version https://git-lfs.github.com/spec/v1\n"
       b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
       b"size 1645183232\n")
HTML = (b"<!DOCTYPE html>\n<html><head><title>Sign in &middot; GitLab</title></head>"
        b"<body><form action='/users/sign_in'></form></body></html>")


def _report(path):
    return read_report(PathArtifact(str(path)))


def test_an_empty_file_is_called_empty(tmp_path):
    p = tmp_path / "model.h5"
    p.write_bytes(b"")
    r = _report(p)
    assert (r.format, r.error.code) == ("not-a-model", "empty")
    assert "0 bytes" in r.error.message


def test_a_git_lfs_pointer_says_the_real_file_was_never_fetched(tmp_path):
    p = tmp_path / "model.h5"
    p.write_bytes(LFS)
    r = _report(p)
    assert r.error.code == "git-lfs-pointer"
    assert "git lfs pull" in r.error.message
    assert "1.6 GB" in r.error.message  # the size the pointer declares, for people


def test_an_html_login_page_is_recognised_with_its_title(tmp_path):
    p = tmp_path / "model.keras"
    p.write_bytes(HTML)
    r = _report(p)
    assert r.error.code == "html"
    assert "Sign in · GitLab" in r.error.message


def test_a_truncated_legacy_h5_is_called_truncated(tmp_path, fixtures_dir):
    src = (fixtures_dir / "k3__toy__save.h5").read_bytes()
    p = tmp_path / "cut.h5"
    p.write_bytes(src[: len(src) // 2])
    r = _report(p)
    assert r.error.code == "truncated"
    assert "cut short" in r.error.message


def test_a_truncated_keras_archive_is_called_truncated_or_corrupt(tmp_path, fixtures_dir):
    src = (fixtures_dir / "k3__toy__save.keras").read_bytes()
    p = tmp_path / "cut.keras"
    p.write_bytes(src[: len(src) - 200])
    r = _report(p)
    assert r.format == "not-a-model"
    assert r.error.code in ("truncated", "corrupt")


def test_a_damaged_hdf5_header_is_corrupt_not_a_crash(tmp_path, fixtures_dir):
    data = bytearray((fixtures_dir / "k3__toy__save.h5").read_bytes())
    for i in range(16, 64):  # superblock addresses
        data[i] ^= 0xFF
    p = tmp_path / "bad.h5"
    p.write_bytes(bytes(data))
    r = _report(p)
    assert r.error.code in ("corrupt", "truncated")


def test_hdf5_that_keras_did_not_write_is_named(tmp_path):
    p = tmp_path / "data.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("images", data=np.zeros((4, 4), dtype="uint8"))
        f.attrs["creator"] = "some pipeline"
    r = _report(p)
    assert r.error.code == "not-keras-hdf5"
    assert "images" in r.error.message


def test_a_zip_that_is_not_a_keras_archive_lists_what_it_holds(tmp_path):
    p = tmp_path / "bundle.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
        z.writestr("weights/part1.bin", b"\0" * 10)
    r = _report(p)
    assert r.error.code == "not-keras-zip"
    assert "readme.txt" in r.error.message


def test_random_bytes_are_unknown(tmp_path):
    p = tmp_path / "x.h5"
    p.write_bytes(bytes(range(256)) * 4)
    r = _report(p)
    assert r.error.code == "unknown"
    assert "binary data" in r.error.message


def test_a_text_file_is_unknown_and_quoted(tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("epoch 1 loss 0.3\nepoch 2 loss 0.2\n")
    r = _report(p)
    assert r.error.code == "unknown"
    assert "epoch 1 loss" in r.error.message


def test_a_folder_that_is_no_model_says_what_it_holds(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    r = _report(tmp_path)
    assert r.error.code == "unknown"
    assert "a.txt" in r.error.message


@pytest.mark.parametrize("content, code", [(b"", "empty"), (LFS, "git-lfs-pointer"), (HTML, "html")])
def test_cli_exits_2_with_the_error_in_json(tmp_path, content, code):
    p = tmp_path / "model.h5"
    p.write_bytes(content)
    res = run_cli("inspect", str(p), "--json")
    assert res.returncode == 2, res.stderr
    report = json.loads(res.stdout)
    assert report["format"] == "not-a-model"
    assert report["error"]["code"] == code
    assert "Traceback" not in res.stderr


def test_cli_says_not_found_for_a_missing_path(tmp_path):
    res = run_cli("inspect", str(tmp_path / "nope.h5"), "--json")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"]["code"] == "not-found"
