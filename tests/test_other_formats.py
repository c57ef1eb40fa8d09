"""Not Keras, but pasted into the same channel: ONNX, TFLite, safetensors, PyTorch, NumPy.

Each is named, counted from shapes (compared with the owning library's own reading of the same
file) and sent to its own loader.  Pickles are listed, never unpickled: a booby-trapped one
leaves no trace.  Test-only packages: onnx, safetensors, torch (in `.[test]`; a test fails when one is missing).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.analysis.io.artifact import PathArtifact
from bot.analysis.others import numpy_files, onnx_files, safetensors_files, tflite_files, torch_files
from bot.analysis.wire.flatbuffer import read_tflite_summary
from bot.analysis.wire.pickle_scan import pickle_storages, split_pickles
from bot.errors import AnalysisError, ErrorCode


def _art(path):
    return PathArtifact(str(path))


def _head(path, n=4096):
    with open(path, "rb") as f:
        return f.read(n)


# --- safetensors -------------------------------------------------------------------------------

def _safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], metadata=None, pad=True) -> bytes:
    """The format by hand (8-byte LE header length, JSON header, contiguous data)."""
    sizes = {"F32": 4, "I64": 8, "BF16": 2}
    header, offset, data = {}, 0, b""
    for name, (dtype, shape) in tensors.items():
        n = int(np.prod(shape)) * sizes[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        data += bytes(range(256)) * (n // 256) + bytes(n % 256)
        offset += n
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def test_a_hand_written_safetensors_file_is_counted_from_its_header(tmp_path):
    p = tmp_path / "model.safetensors"
    p.write_bytes(_safetensors_bytes({"w": ("F32", [4, 3]), "b": ("BF16", [3]), "step": ("I64", [])},
                                     metadata={"format": "pt"}))
    assert safetensors_files.looks_like_safetensors(_head(p), p.stat().st_size)
    r = safetensors_files.report_from_safetensors(_art(p))
    assert r.format == "safetensors"
    assert (r.params.total, r.params.trainable) == (12 + 3 + 1, None)
    assert "BF16 ×1" in r.format_detail and '"format": "pt"' in r.format_detail
    assert "safetensors.numpy import load_file" in r.reload.python and "not a Keras file" in r.reload.summary


def test_safetensors_counts_agree_with_the_safetensors_library(tmp_path):
    import safetensors.numpy as st  # imported here: only these tests need it
    p = tmp_path / "lib.safetensors"
    tensors = {"emb": np.zeros((10, 8), np.float32), "ids": np.arange(7, dtype=np.int64),
               "scale": np.ones((), np.float16)}
    st.save_file(tensors, str(p))
    loaded = st.load_file(str(p))
    assert safetensors_files.report_from_safetensors(_art(p)).params.total == sum(v.size for v in loaded.values())


@pytest.mark.parametrize("damage, code", [
    ("cut", ErrorCode.TRUNCATED), ("gap", ErrorCode.CORRUPT), ("overlap", ErrorCode.CORRUPT),
    ("shape", ErrorCode.CORRUPT), ("json", ErrorCode.CORRUPT), ("huge", ErrorCode.CORRUPT),
])
def test_damaged_safetensors_headers_are_refused_like_safetensors_refuses_them(tmp_path, damage, code):
    good = _safetensors_bytes({"a": ("F32", [2, 2]), "b": ("F32", [3])})
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + n])
    if damage == "cut":
        data = good[:-4]
    elif damage == "json":
        data = good[:8] + b"{not json" + good[17:]
    elif damage == "huge":
        data = struct.pack("<Q", 2**40) + good[8:]
    else:
        if damage == "gap":
            header["b"]["data_offsets"] = [20, 32]
        elif damage == "overlap":
            header["b"]["data_offsets"] = [8, 20]
        else:
            header["a"]["shape"] = [2, 3]
        raw = json.dumps(header).encode()
        data = struct.pack("<Q", len(raw)) + raw + good[8 + n:]
    p = tmp_path / "bad.safetensors"
    p.write_bytes(data)
    with pytest.raises(AnalysisError) as err:
        safetensors_files.report_from_safetensors(_art(p))
    assert err.value.code is code


# --- ONNX --------------------------------------------------------------------------------------

def _onnx_model(external_dir=None):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.random((4, 3)).astype(np.float32), "W1"),
             numpy_helper.from_array(np.zeros(3, np.float32), "B1"),
             numpy_helper.from_array(rng.random((3, 2)).astype(np.float32), "W2"),
             numpy_helper.from_array(np.zeros(2, np.float32), "B2")]
    nodes = [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "B2"], ["y"])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, producer_name="ckptbot-tests", producer_version="1.0",
                              opset_imports=[helper.make_opsetid("", 17)])
    return onnx, model


def test_an_onnx_model_reports_its_producer_opset_and_initializer_sizes(tmp_path):
    onnx, model = _onnx_model()
    p = tmp_path / "mlp.onnx"
    onnx.save(model, str(p))
    assert onnx_files.looks_like_onnx(_head(p))
    r = onnx_files.report_from_onnx(_art(p))
    live = sum(int(np.prod(t.dims)) for t in onnx.load(str(p)).graph.initializer)
    assert r.format == "onnx" and r.params.total == live == 12 + 3 + 6 + 2
    assert f"ONNX IR {model.ir_version}" in r.format_detail and "ckptbot-tests 1.0" in r.format_detail
    assert "opset ai.onnx 17" in r.format_detail and "4 initializers" in r.format_detail
    assert "onnxruntime" in r.reload.python


def test_onnx_with_external_data_is_counted_and_says_the_data_files_must_travel_with_it(tmp_path):
    onnx, model = _onnx_model()
    p = tmp_path / "ext.onnx"
    onnx.save_model(model, str(p), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    r = onnx_files.report_from_onnx(_art(p))
    assert r.params.total == 23
    assert any(w.code == "onnx-external-data" for w in r.warnings)


def test_a_truncated_onnx_file_is_called_truncated(tmp_path):
    onnx, model = _onnx_model()
    data = model.SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) - 10])
    with pytest.raises(AnalysisError) as err:
        onnx_files.report_from_onnx(_art(p))
    assert err.value.code in (ErrorCode.TRUNCATED, ErrorCode.CORRUPT)


# --- PyTorch -----------------------------------------------------------------------------------

def test_a_torch_state_dict_lists_its_storages_without_unpickling(tmp_path):
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    state = model.state_dict()
    live = sum(v.numel() for v in state.values())
    zipped, legacy = tmp_path / "sd.pt", tmp_path / "legacy.pt"
    torch.save(state, zipped)
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    r = torch_files.report_from_pytorch_zip(_art(zipped))
    assert (r.format, r.params.total) == ("pytorch", live)
    assert "never unpickled" in r.format_detail and "float32, int64" in r.format_detail
    assert "weights_only=True" in r.reload.python
    assert torch_files.looks_like_pytorch_pickle(_head(legacy))
    assert torch_files.report_from_pytorch_pickle(_art(legacy)).params.total == live


class FloatStorage:  # stands in for torch.FloatStorage in a hand-built torch-style archive
    pass


class _TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, tuple) and obj and obj[0] == "tensor":
            return ("storage", FloatStorage, obj[1], "cpu", obj[2])
        return None


def test_a_hand_built_torch_zip_layout_is_read_without_torch(tmp_path):
    buf = io.BytesIO()
    _TorchLikePickler(buf, protocol=2).dump({"fc.weight": ("tensor", "0", 12), "fc.bias": ("tensor", "1", 3)})
    p = tmp_path / "handmade.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/0", bytes(48))
        z.writestr("archive/data/1", bytes(12))
        z.writestr("archive/version", "3\n")
    r = torch_files.report_from_pytorch_zip(_art(p))
    assert r.params.total == 15 and "2 tensor storages (float32)" in r.format_detail


class _Trap:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ.get("CKPTBOT_TRAP_PATH", "/nonexistent/trap"),))


def test_a_booby_trapped_pickle_is_named_and_never_run(tmp_path):
    trap = tmp_path / "pwned"
    os.environ["CKPTBOT_TRAP_PATH"] = str(trap)
    try:
        payload = pickle.dumps({"weights": _Trap()}, protocol=2)
    finally:
        del os.environ["CKPTBOT_TRAP_PATH"]
    p = tmp_path / "model.pkl"
    p.write_bytes(payload)
    with pytest.raises(AnalysisError) as err:
        torch_files.report_from_pytorch_pickle(_art(p))
    assert err.value.code is ErrorCode.UNKNOWN
    assert "posix.system" in err.value.message or "os.system" in err.value.message
    assert "never unpickle" in err.value.message
    assert not trap.exists()


def test_a_torch_zip_whose_pickle_imports_other_code_warns(tmp_path):
    trap = tmp_path / "pwned"
    buf = io.BytesIO()
    pickle.Pickler(buf, protocol=2).dump({"x": (os.system, "touch " + str(trap))})
    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
    r = torch_files.report_from_pytorch_zip(_art(p))
    assert any(w.code == "pickle-imports" and "system" in w.message for w in r.warnings)
    assert not trap.exists()


# --- NumPy -------------------------------------------------------------------------------------

def test_npy_and_npz_are_counted_from_their_headers(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4), np.float32))
    np.savez(tmp_path / "b.npz", w=np.zeros((2, 5)), b=np.ones(5))
    assert numpy_files.report_from_numpy(_art(tmp_path / "a.npy")).params.total == 12
    r = numpy_files.report_from_numpy(_art(tmp_path / "b.npz"))
    assert (r.format, r.params.total) == ("numpy", 15)
    assert "allow_pickle=False" in r.reload.python


def test_an_object_array_is_flagged_as_pickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    r = numpy_files.report_from_numpy(_art(tmp_path / "o.npy"))
    assert any(w.code == "pickled-arrays" for w in r.warnings)


# --- TFLite (written by TensorFlow in a subprocess) ---------------------------------------------

TFLITE_STACK = r'''
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras, tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

out = sys.argv[1]
inp = keras.Input((8,), name="inp")
# non-zero biases: the converter drops all-zero bias tensors
h = keras.layers.Dense(16, activation="relu", name="d1", bias_initializer="ones")(inp)
m = keras.Model(inp, keras.layers.Dense(3, name="d2", bias_initializer="ones")(h))
blob = tf.lite.TFLiteConverter.from_keras_model(m).convert()
open(os.path.join(out, "m.tflite"), "wb").write(blob)
model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
constants = sum(int(np.prod(t.shape)) for g in model.subgraphs for t in g.tensors
                if t.buffer and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data))
json.dump({"version": model.version, "tensors": sum(len(g.tensors) for g in model.subgraphs),
           "buffers": len(model.buffers), "constants": constants,
           "signatures": [s.signatureKey.decode() for s in (model.signatureDefs or [])]},
          open(os.path.join(out, "facts.json"), "w"))
'''


@pytest.fixture(scope="module")
def tflite_written(tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(TFLITE_STACK), str(out)], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "m.tflite", json.loads((out / "facts.json").read_text())


@pytest.mark.keras
def test_a_tflite_model_agrees_with_tensorflows_own_flatbuffer_reader(tflite_written):
    path, live = tflite_written
    assert tflite_files.looks_like_tflite(_head(path))
    r = tflite_files.report_from_tflite(_art(path))
    assert r.format == "tflite" and r.params.total == live["constants"] == 8 * 16 + 16 + 16 * 3 + 3
    assert f"schema v{live['version']}" in r.format_detail
    assert f"{live['tensors']} tensors, {live['buffers']} buffers" in r.format_detail
    assert all(s in r.format_detail for s in live["signatures"])
    assert "tf.lite.Interpreter" in r.reload.python


@pytest.mark.keras
def test_a_damaged_tflite_file_gives_a_clean_error(tflite_written, tmp_path):
    path, _live = tflite_written
    data = bytearray(path.read_bytes())
    data[0:4] = struct.pack("<I", len(data) + 100)  # root offset past the end
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(bytes(data))
    with pytest.raises(AnalysisError) as err:
        tflite_files.report_from_tflite(_art(bad))
    assert err.value.code in (ErrorCode.CORRUPT, ErrorCode.TRUNCATED)
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(AnalysisError):
        tflite_files.report_from_tflite(_art(bad))


@pytest.mark.keras
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_damage_to_a_tflite_file_gives_an_analysis_error_or_a_summary(tflite_written, data):
    path, _live = tflite_written
    blob = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        blob[data.draw(st.integers(0, 400))] = data.draw(st.integers(0, 255))
    try:
        summary = read_tflite_summary(io.BytesIO(bytes(blob)), len(blob))
    except AnalysisError as exc:
        assert exc.code in (ErrorCode.CORRUPT, ErrorCode.TRUNCATED, ErrorCode.LIMIT)
    else:
        assert summary.tensors >= 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_the_pickle_scanner_never_fails_on_arbitrary_bytes(blob):
    storages, globals_ = pickle_storages(split_pickles(b"\x80\x02" + blob) or [b"\x80\x02" + blob])
    assert isinstance(storages, dict) and isinstance(globals_, set)


def test_a_checkpoint_state_file_pointing_at_nothing_says_what_is_missing(tmp_path):
    from bot.analysis.tf.tf_checkpoint import report_from_checkpoint

    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/data/run7/ckpt-42"\n'
                                         'all_model_checkpoint_paths: "/data/run7/ckpt-42"\n')
    with pytest.raises(AnalysisError) as err:
        report_from_checkpoint(_art(tmp_path / "checkpoint"))
    assert err.value.code is ErrorCode.NOT_FOUND and "ckpt-42.index" in err.value.message


# --- sniffers ----------------------------------------------------------------------------------

def test_each_sniffer_claims_only_its_own_format(tmp_path):
    files = {"safetensors": tmp_path / "s.safetensors", "npy": tmp_path / "a.npy", "h5ish": tmp_path / "x.h5"}
    files["safetensors"].write_bytes(_safetensors_bytes({"a": ("F32", [2])}))
    np.save(files["npy"], np.zeros(3))
    files["h5ish"].write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    for kind, p in files.items():
        head, size = _head(p), p.stat().st_size
        assert safetensors_files.looks_like_safetensors(head, size) == (kind == "safetensors"), kind
        assert not onnx_files.looks_like_onnx(head), kind
        assert not tflite_files.looks_like_tflite(head), kind
        assert not torch_files.looks_like_pytorch_pickle(head), kind
    assert not onnx_files.looks_like_onnx(b"\x08\x07" + bytes(200))  # ir_version then zeros: field 0 is not ONNX
