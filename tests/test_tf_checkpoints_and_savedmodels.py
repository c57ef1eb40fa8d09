"""TF checkpoints and SavedModels, read from their bytes, agree with the Keras that wrote them.

Two layers of stories:
* the committed fixtures (tests/fixtures/keras, figures from live Keras in expected.json): fast;
* artifacts written in this session by real tf_keras and Keras 3 (one subprocess per stack,
  `@pytest.mark.keras`), covering what the committed set lacks: frozen layers, a
  `tf.train.Checkpoint`, an optimizer without slots, a TF1 Saver, Keras 3 `export()` of a frozen model.
And damaged indexes: every one gives a clean error, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.analysis import read_report
from bot.analysis.io.artifact import FileObjArtifact, PathArtifact
from bot.analysis.tf.tf_bundle import looks_like_bundle_index, read_bundle_index
from bot.analysis.tf.tf_checkpoint import report_from_checkpoint
from bot.analysis.wire import protobuf as pb
from bot.errors import AnalysisError, ErrorCode

FIXTURE_CKPT = "tfk__toy__save_weights_ckpt/m.index"


def _committed(expected, fmt):
    return sorted(k for k, e in expected["artifacts"].items() if e["expect_format"] == fmt)


def _report(path):
    """What users get (the reader, then the advisor); errors raise, as the readers do."""
    report = read_report(PathArtifact(str(path)))
    if report.error is not None:
        raise AnalysisError(ErrorCode(report.error.code), report.error.message)
    return report


def _weighted_layers(entry):
    return [(l["name"], l["params"]) for l in entry["layers"] if l["params"]]


# --- committed fixtures ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["tf-checkpoint", "tf-savedmodel"])
def test_committed_tf_artifacts_count_what_live_keras_counted(fixtures_dir, expected, fmt):
    keys = _committed(expected, fmt)
    assert keys, f"no committed {fmt} fixtures"
    for key in keys:
        entry = expected["artifacts"][key]
        r = _report(fixtures_dir / key)
        assert r.format == fmt, key
        assert (r.params.total, r.params.trainable, r.params.non_trainable) == (
            entry["count_params"], entry["trainable"], entry["non_trainable"]), key
        assert [(l.name, l.params) for l in r.layers if l.params] == _weighted_layers(entry), key
        assert r.contents.optimizer_state == entry["optimizer_in_file"], key
        if entry["optimizer_in_file"]:
            live = entry["optimizer"]
            assert r.optimizer.iterations == live["iterations"], key
            assert r.optimizer.learning_rate == pytest.approx(live["learning_rate"]), key
            assert r.optimizer.class_name == live["class_name"], key


def test_a_tf_keras_savedmodel_reads_its_keras_metadata(fixtures_dir, expected):
    key = "tfk__nested__save_savedmodel"
    entry = expected["artifacts"][key]
    r = _report(fixtures_dir / key)
    assert r.keras_version == entry["keras_version"]
    assert r.backend == entry["backend"]
    assert (r.model.class_name, r.model.name) == (entry["model_class"], entry["model_name"])
    assert [(l.name, l.class_name, l.trainable) for l in r.layers] == [
        (l["name"], l["class_name"], l["trainable"]) for l in entry["layers"]]
    assert r.contents.architecture and r.contents.training_config
    assert r.training.loss == entry["loss"]
    assert "tf_keras.models.load_model" in r.reload.python
    assert "TensorFlow 2.21" in r.format_detail


def test_a_keras3_export_counts_each_doubly_stored_variable_once(fixtures_dir, expected):
    key = "k3__toy__export"
    r = _report(fixtures_dir / key)
    assert r.params.total == expected["artifacts"][key]["count_params"]
    assert any(w.code == "export-duplicates" for w in r.warnings)
    assert r.model is None and not r.contents.architecture
    assert "serving_default inp (None, 4) float32" in r.format_detail
    assert "TFSMLayer" in " ".join(o.python for o in r.reload.options)


def test_the_checkpoint_state_file_and_a_data_shard_lead_to_the_index(fixtures_dir, expected):
    folder = fixtures_dir / "tfk__toy__save_weights_ckpt"
    live = expected["artifacts"][FIXTURE_CKPT]["count_params"]
    via_state = report_from_checkpoint(PathArtifact(str(folder / "checkpoint")))
    assert via_state.params.total == live
    assert "from the `checkpoint` file" in via_state.format_detail
    via_shard = report_from_checkpoint(PathArtifact(str(folder / "m.data-00000-of-00001")))
    assert via_shard.params.total == live
    assert any(w.code == "data-shard-given" for w in via_shard.warnings)
    via_folder = report_from_checkpoint(PathArtifact(str(folder)))
    assert via_folder.params.total == live


def test_a_data_shard_alone_asks_for_its_index(tmp_path, fixtures_dir):
    shutil.copy(fixtures_dir / "tfk__toy__save_weights_ckpt" / "m.data-00000-of-00001", tmp_path)
    with pytest.raises(AnalysisError) as err:
        report_from_checkpoint(PathArtifact(str(tmp_path / "m.data-00000-of-00001")))
    assert err.value.code is ErrorCode.DATA_SHARD


def test_a_missing_or_cut_data_shard_is_reported_but_the_index_still_reads(tmp_path, fixtures_dir):
    src = fixtures_dir / "tfk__toy__save_weights_ckpt"
    shutil.copy(src / "m.index", tmp_path)
    r = report_from_checkpoint(PathArtifact(str(tmp_path / "m.index")))
    assert r.params.total == 35 and any(w.code == "missing-shard" for w in r.warnings)
    data = (src / "m.data-00000-of-00001").read_bytes()
    (tmp_path / "m.data-00000-of-00001").write_bytes(data[: len(data) // 2])
    r = report_from_checkpoint(PathArtifact(str(tmp_path / "m.index")))
    assert any(w.code == "truncated-shard" for w in r.warnings)


def test_size_breakdown_adds_up_to_the_files_on_disk(fixtures_dir, expected):
    r = _report(fixtures_dir / FIXTURE_CKPT)
    on_disk = expected["artifacts"][FIXTURE_CKPT]["size_bytes"]
    files = sum(p.stat().st_size for p in (fixtures_dir / "tfk__toy__save_weights_ckpt").iterdir()
                if p.name != "checkpoint")
    sb = r.size_breakdown
    assert sb.weights_bytes == 35 * 4
    assert sb.weights_bytes + sb.optimizer_bytes + sb.other_bytes == files <= on_disk


# --- damaged indexes ---------------------------------------------------------------------------

def _index_bytes(fixtures_dir):
    return (fixtures_dir / FIXTURE_CKPT).read_bytes()


def _read(data: bytes):
    import io
    return read_bundle_index(io.BytesIO(data), len(data))


def test_the_index_is_recognised_by_its_last_eight_bytes(fixtures_dir):
    data = _index_bytes(fixtures_dir)
    assert looks_like_bundle_index(data[-8:])
    assert not looks_like_bundle_index(data[-9:-1])


def test_a_truncated_index_is_called_truncated(fixtures_dir):
    data = _index_bytes(fixtures_dir)
    for cut in (len(data) - 1, len(data) // 2, 30, 0):
        with pytest.raises(AnalysisError) as err:
            _read(data[:cut])
        assert err.value.code is ErrorCode.TRUNCATED


def test_a_flipped_byte_inside_a_block_fails_its_checksum(fixtures_dir):
    data = bytearray(_index_bytes(fixtures_dir))
    data[20] ^= 0x40
    with pytest.raises(AnalysisError) as err:
        _read(bytes(data))
    assert err.value.code is ErrorCode.CORRUPT and "checksum" in err.value.message


def test_the_block_checksum_is_crc32c_as_leveldb_masks_it():
    from bot.analysis.tf.tf_bundle import _masked_crc32c, crc32c

    assert crc32c(b"123456789") == 0xE3069283  # the Castagnoli check value (RFC 3720 B.4)
    assert crc32c(memoryview(bytes(32))) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    # leveldb/util/crc32c_test.cc: Mask(crc) != crc and Unmask(Mask(crc)) == crc; masking rotates
    # right by 15 and adds kMaskDelta.
    crc = crc32c(b"foo")
    masked = _masked_crc32c(b"foo")
    unmasked = (masked - 0xA282EAD8) & 0xFFFFFFFF
    assert masked != crc and ((unmasked >> 17) | (unmasked << 15)) & 0xFFFFFFFF == crc


def test_a_compressed_block_is_refused_with_a_reason(fixtures_dir):
    data = bytearray(_index_bytes(fixtures_dir))
    footer = data[-48:]
    _meta, pos = pb.read_varint(footer, 0)
    _meta_size, pos = pb.read_varint(footer, pos)
    index_offset, pos = pb.read_varint(footer, pos)
    index_size, _ = pb.read_varint(footer, pos)
    data[index_offset + index_size] = 1  # snappy
    with pytest.raises(AnalysisError) as err:
        _read(bytes(data))
    assert err.value.code is ErrorCode.CORRUPT and "compression" in err.value.message


def test_a_footer_pointing_past_the_file_is_corrupt_not_a_crash():
    footer = bytes([0x80, 0x80, 0x80, 0x80, 0x08, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x10])
    data = b"\0" * 100 + footer.ljust(40, b"\0") + bytes.fromhex("57fb808b247547db")
    with pytest.raises(AnalysisError) as err:
        _read(data)
    assert err.value.code is ErrorCode.CORRUPT


def test_an_index_file_the_user_points_at_through_an_upload_reads_the_same(fixtures_dir):
    import io
    data = _index_bytes(fixtures_dir)
    r = report_from_checkpoint(FileObjArtifact(io.BytesIO(data), name="m.index"))
    assert r.params.total == 35
    assert any(w.code == "missing-shard" for w in r.warnings)  # an upload has no siblings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_damage_to_an_index_gives_an_analysis_error_or_a_result(fixtures_dir, data):
    original = _index_bytes(fixtures_dir)
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    try:
        index = _read(bytes(mutated))
    except AnalysisError as exc:
        assert exc.code in (ErrorCode.CORRUPT, ErrorCode.TRUNCATED, ErrorCode.LIMIT)
    else:
        assert index.entries


def test_protobuf_lengths_beyond_the_data_are_refused_before_allocating():
    huge = bytes([0x0A]) + bytes([0xFF] * 9) + b"\x01"  # field 1, length 2**64-1
    with pytest.raises(AnalysisError) as err:
        list(pb.iter_fields(huge))
    assert err.value.code is ErrorCode.CORRUPT
    with pytest.raises(AnalysisError):
        pb.read_varint(bytes([0x80] * 11), 0)
    assert list(pb.iter_fields(b"\x08\x96\x01\x12\x02hi\x1d\x01\x00\x00\x00")) == [
        (1, 0, 150), (2, 2, b"hi"), (3, 5, 1)]


# --- written live in this session --------------------------------------------------------------

TF_KERAS_STACK = r'''
import json, os, sys
import numpy as np
import tensorflow as tf
import tf_keras as K

out = sys.argv[1]
facts = {}
rng = np.random.default_rng(0)
x, y = rng.random((32, 4)).astype("float32"), rng.integers(0, 2, 32)

def live(model, iterations=None, lr=None):
    return {"count_params": model.count_params(),
            "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "non_trainable": int(sum(np.prod(w.shape) for w in model.non_trainable_weights)),
            "layers": [[l.name, l.count_params()] for l in model.layers if l.count_params()],
            "iterations": iterations, "learning_rate": lr}

def toy(frozen=False):
    inp = K.Input((4,), name="inp")
    h = K.layers.Dense(3, name="dense", trainable=not frozen)(inp)
    h = K.layers.BatchNormalization(name="bn")(h)
    return K.Model(inp, K.layers.Dense(2, activation="softmax", name="head")(h))

# frozen layer, Adam: the optimizer's slots tell trainable from frozen
m = toy(frozen=True)
m.compile(K.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
m.fit(x, y, epochs=1, batch_size=8, verbose=0)
m.save_weights(os.path.join(out, "frozen_ckpt", "ckpt"))
facts["frozen_ckpt/ckpt.index"] = live(m, int(m.optimizer.iterations.numpy()), 0.01)
m.save(os.path.join(out, "frozen_savedmodel"))
facts["frozen_savedmodel"] = live(m, int(m.optimizer.iterations.numpy()), 0.01)

# a tf.train.Checkpoint holding the model and its optimizer under other names
m = toy()
m.compile(K.optimizers.RMSprop(0.005), "sparse_categorical_crossentropy")
m.fit(x, y, epochs=2, batch_size=8, verbose=0)
ckpt = tf.train.Checkpoint(net=m, opt=m.optimizer)
path = ckpt.save(os.path.join(out, "train_ckpt", "tc"))
facts["train_ckpt/" + os.path.basename(path) + ".index"] = live(m, int(m.optimizer.iterations.numpy()), 0.005)

# plain SGD keeps no slots: the split falls back to variable names
m = toy()
m.compile(K.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
m.fit(x, y, epochs=1, batch_size=16, verbose=0)
m.save_weights(os.path.join(out, "sgd_ckpt", "w"))
facts["sgd_ckpt/w.index"] = live(m, int(m.optimizer.iterations.numpy()), 0.1)

# a checkpoint split into several shards, its big kernel sliced across them
m = K.Sequential([K.Input((4,)), K.layers.Dense(64, name="wide"), K.layers.Dense(2, name="out")])
policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=600)
path = tf.train.Checkpoint(model=m).save(os.path.join(out, "sharded", "ck"),
                                         options=tf.train.CheckpointOptions(experimental_sharding_callback=policy))
facts["sharded/" + os.path.basename(path) + ".index"] = live(m)

# TF1 name-based Saver with AdamOptimizer and a global step
g = tf.Graph()
with g.as_default():
    xs = tf.compat.v1.placeholder(tf.float32, (None, 4))
    w = tf.compat.v1.get_variable("dense/kernel", (4, 3))
    b = tf.compat.v1.get_variable("dense/bias", (3,), initializer=tf.compat.v1.zeros_initializer())
    loss = tf.reduce_sum(tf.matmul(xs, w) + b)
    step = tf.compat.v1.train.get_or_create_global_step()
    train = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    with tf.compat.v1.Session() as s:
        s.run(tf.compat.v1.global_variables_initializer())
        for _ in range(3):
            s.run(train, {xs: x})
        tf.compat.v1.train.Saver().save(s, os.path.join(out, "tf1", "model"))
facts["tf1/model.index"] = {"count_params": 15, "trainable": 15, "non_trainable": 0, "layers": [["dense", 15]],
                            "iterations": 3, "learning_rate": None}
json.dump(facts, open(os.path.join(out, "facts.json"), "w"))
'''

KERAS3_STACK = r'''
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras

out = sys.argv[1]
rng = np.random.default_rng(0)
x, y = rng.random((32, 4)).astype("float32"), rng.integers(0, 2, 32)
inp = keras.Input((4,), name="inp")
h = keras.layers.Dense(3, name="dense", trainable=False)(inp)
h = keras.layers.BatchNormalization(name="bn")(h)
m = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="head")(h))
m.compile("adam", "sparse_categorical_crossentropy")
m.fit(x, y, epochs=1, batch_size=8, verbose=0)
m.export(os.path.join(out, "frozen_export"))
facts = {"frozen_export": {
    "count_params": m.count_params(),
    "trainable": int(sum(np.prod(w.shape) for w in m.trainable_weights)),
    "non_trainable": int(sum(np.prod(w.shape) for w in m.non_trainable_weights)),
    "layers": [[l.name, l.count_params()] for l in m.layers if l.count_params()],
    "iterations": None, "learning_rate": None}}
json.dump(facts, open(os.path.join(out, "facts.json"), "w"))
'''


def _run_stack(script: str, out) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(out)], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "facts.json").read_text())


@pytest.fixture(scope="module")
def tf_keras_written(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf_keras_stack")
    return out, _run_stack(TF_KERAS_STACK, out)


@pytest.fixture(scope="module")
def keras3_written(tmp_path_factory):
    out = tmp_path_factory.mktemp("keras3_stack")
    return out, _run_stack(KERAS3_STACK, out)


def _assert_matches_live(report, live, where):
    assert report.params.total == live["count_params"], where
    assert (report.params.trainable, report.params.non_trainable) == (live["trainable"], live["non_trainable"]), where
    assert [[l.name, l.params] for l in report.layers if l.params] == live["layers"], where
    if live["iterations"] is not None:
        assert report.optimizer.iterations == live["iterations"], where
    if live["learning_rate"] is not None:
        assert report.optimizer.learning_rate == pytest.approx(live["learning_rate"]), where


@pytest.mark.keras
def test_tf_keras_checkpoints_and_savedmodels_written_now_match_live_keras(tf_keras_written):
    out, facts = tf_keras_written
    for rel, live in facts.items():
        _assert_matches_live(_report(out / rel), live, rel)


@pytest.mark.keras
def test_a_frozen_layer_is_non_trainable_in_a_checkpoint_because_adam_kept_no_slots_for_it(tf_keras_written):
    out, _facts = tf_keras_written
    r = _report(out / "frozen_ckpt" / "ckpt.index")
    assert [l.trainable for l in r.layers] == [False, True, True]
    assert any("optimizer's slots" in w.message for w in r.warnings)


@pytest.mark.keras
def test_a_tf_train_checkpoint_names_its_objects_in_the_reload_advice(tf_keras_written):
    out, facts = tf_keras_written
    rel = next(k for k in facts if k.startswith("train_ckpt/"))
    r = _report(out / rel)
    assert "tf.train.Checkpoint(net=..., opt=...)" in r.reload.python
    assert r.optimizer.class_name == "RMSprop"
    assert r.contents.optimizer_state and not r.contents.architecture


@pytest.mark.keras
def test_a_checkpoint_sharded_and_sliced_across_data_files_adds_up(tf_keras_written):
    out, facts = tf_keras_written
    rel = next(k for k in facts if k.startswith("sharded/"))
    r = _report(out / rel)
    shards = sorted((out / "sharded").glob("*.data-*"))
    assert len(shards) > 1 and f"{len(shards)} data shards" in r.format_detail
    sb = r.size_breakdown
    assert sb.weights_bytes == facts[rel]["count_params"] * 4  # float32, slices included
    on_disk = sum(p.stat().st_size for p in shards) + (out / rel).stat().st_size
    assert sb.weights_bytes + sb.optimizer_bytes + sb.other_bytes == on_disk


@pytest.mark.keras
def test_a_tf1_saver_checkpoint_is_read_by_names(tf_keras_written):
    out, _facts = tf_keras_written
    r = _report(out / "tf1" / "model.index")
    assert "TF1 name-based" in r.format_detail
    assert r.optimizer.params == 15 * 2 + 2  # Adam m, v per variable + beta1_power, beta2_power
    assert "tf.train.load_checkpoint" in r.reload.python


@pytest.mark.keras
def test_a_keras3_export_of_a_frozen_model_splits_trainable_by_its_own_lists(keras3_written):
    out, facts = keras3_written
    r = _report(out / "frozen_export")
    _assert_matches_live(r, facts["frozen_export"], "frozen_export")
    assert not any(w.code == "trainable-inferred" for w in r.warnings)


@pytest.mark.keras
def test_reading_a_checkpoint_reads_no_weight_bytes_from_its_shard(tf_keras_written):
    out, _facts = tf_keras_written
    index_path = out / "frozen_ckpt" / "ckpt.index"
    ranges: list[tuple[int, int]] = []

    class RecordingFile:
        def __init__(self, path):
            self.f = open(path, "rb")

        def seek(self, pos, whence=0):
            return self.f.seek(pos, whence)

        def read(self, n=-1):
            start = self.f.tell()
            data = self.f.read(n)
            ranges.append((start, start + len(data)))
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    class Shard(PathArtifact):
        def open(self):
            return RecordingFile(self.path)

    class Index(PathArtifact):
        def sibling(self, name):
            found = super().sibling(name)
            return Shard(found.path) if found is not None and ".data-" in name else found

    report = report_from_checkpoint(Index(str(index_path)))
    assert report.optimizer.iterations is not None and ranges
    with open(index_path, "rb") as f:
        entries = read_bundle_index(f, index_path.stat().st_size).entries
    weights = [(e.offset, e.offset + e.size) for k, e in entries.items()
               if e.shape and not k.startswith("optimizer/")]
    assert weights
    for start, end in ranges:
        assert all(end <= w0 or start >= w1 for w0, w1 in weights), (start, end)
