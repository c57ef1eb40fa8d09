"""Shared-disk paths: only under the configured roots, however the path is spelled.

`..`, symlinks (to the file or inside a root pointing out), file:// URLs, devices and pipes
are the ways out; each is refused with a message that says why.  The CLI reads its user's
own disk (`allow_any_local`); the bot never does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.sources import resolve  # noqa: E402
from bot.sources.base import Forbidden, NotFound  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CKPT = ROOT / "tests" / "fixtures" / "keras" / "tfk__toy__save_weights_ckpt"


@pytest.fixture
def shared(tmp_path):
    root = tmp_path / "shared"
    (root / "team").mkdir(parents=True)
    (root / "team" / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n model")
    (tmp_path / "secret.h5").write_bytes(b"outside the root")
    return root, Settings(CKPTBOT_LOCAL_ROOTS=str(root))


def test_a_file_under_a_root_is_read(shared):
    root, settings = shared
    source = resolve(str(root / "team" / "model.h5"), settings)
    with source.artifact().open() as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    assert dict(source.identity().validators)["size"] == str(len(b"\x89HDF\r\n\x1a\n model"))


def test_a_file_url_is_the_same_path(shared):
    root, settings = shared
    source = resolve((root / "team" / "model.h5").as_uri(), settings)
    assert source.display_name == "model.h5"


@pytest.mark.parametrize("spelling", ["{root}/../secret.h5", "{root}/team/../../secret.h5",
                                      "file://{root}/../secret.h5", "/etc/passwd", "/proc/self/environ"])
def test_paths_leading_out_of_the_root_are_refused(shared, spelling):
    root, settings = shared
    with pytest.raises(Forbidden, match="outside the folders"):
        resolve(spelling.format(root=root), settings)


def test_a_symlink_inside_the_root_pointing_out_is_refused(shared):
    root, settings = shared
    os.symlink(root.parent / "secret.h5", root / "team" / "innocent.h5")
    with pytest.raises(Forbidden, match="outside the folders"):
        resolve(str(root / "team" / "innocent.h5"), settings)


def test_a_sibling_symlink_pointing_out_is_not_reachable(shared):
    root, settings = shared
    os.symlink(root.parent / "secret.h5", root / "team" / "model.data-00000-of-00001")
    artifact = resolve(str(root / "team" / "model.h5"), settings).artifact()
    assert artifact.sibling("model.data-00000-of-00001") is None


def test_devices_and_pipes_are_refused(shared, tmp_path):
    root, settings = shared
    os.mkfifo(root / "team" / "pipe.h5")
    with pytest.raises(Forbidden, match="not a regular file"):
        resolve(str(root / "team" / "pipe.h5"), settings)
    with pytest.raises(Forbidden):
        resolve("/dev/zero", Settings(CKPTBOT_LOCAL_ROOTS="/dev"))


def test_without_roots_the_bot_reads_no_local_path_but_the_cli_does(shared):
    root, _ = shared
    path = str(root / "team" / "model.h5")
    with pytest.raises(Forbidden, match="CKPTBOT_LOCAL_ROOTS"):
        resolve(path, Settings())
    assert resolve(path, Settings(), allow_any_local=True).display_name == "model.h5"


def test_a_checkpoint_prefix_means_its_index_file():
    source = resolve(str(CKPT / "m"), Settings(), allow_any_local=True)
    artifact = source.artifact()
    assert artifact.name == "m.index"
    assert artifact.sibling("m.data-00000-of-00001") is not None


def test_a_missing_file_says_so(shared):
    root, settings = shared
    with pytest.raises(NotFound):
        resolve(str(root / "team" / "nothing.h5"), settings)
