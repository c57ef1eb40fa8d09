"""Story: "is it safe to load?" — each known Keras loading exploit gets a named finding, its CVE, the
path where it sits and the loaders it hits; real Keras files without custom code stay `clean`.

Each hostile file is a real Keras fixture edited the way the published proofs of concept do it (a node
of config.json or the H5 `model_config` replaced), written under tmp_path and never loaded.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from bot.analysis import PathArtifact, read_report

FIXTURES = Path(__file__).parent / "fixtures" / "keras"
TOY = FIXTURES / "k3__toy__save.keras"
TOY_H5 = FIXTURES / "k3__toy__save.h5"


def _config(path: Path = TOY) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def _rezip(tmp_path: Path, config: dict, name: str = "crafted.keras") -> Path:
    out = tmp_path / name
    with zipfile.ZipFile(TOY) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = json.dumps(config).encode() if info.filename == "config.json" else src.read(info)
            dst.writestr(info, data)
    return out


def _with_layer(layer: dict, nested: bool = False) -> dict:
    """The toy model with `layer` as layer 2 — or inside a nested Functional, to test depth."""
    cfg = _config()
    if nested:
        inner = copy.deepcopy(cfg)
        inner["config"]["name"] = "inner"
        inner["config"]["layers"][1] = layer
        layer = {"module": "keras.src.models.functional", "class_name": "Functional",
                 "config": inner["config"], "registered_name": None, "name": "inner", "inbound_nodes": []}
    cfg["config"]["layers"][1] = layer
    return cfg


def _security(path: Path) -> dict:
    return read_report(PathArtifact(path)).to_dict()["security"]


def _codes(sec: dict) -> set[str]:
    return {f["code"] for f in sec["findings"]}


def _lambda_layer() -> dict:
    # keras/src/utils/python_utils.func_dump output shape: base64 of marshalled code (bytes here are junk
    # on purpose: nothing may unmarshal them).
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": "dense",
            "config": {"name": "dense", "function": {"class_name": "__lambda__", "config": {
                "code": base64.b64encode(b"\xe3not really bytecode").decode(), "defaults": None, "closure": None}}}}


def _function_ref(module: str, name: str) -> dict:
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": "dense",
            "config": {"name": "dense", "function": {"module": module, "class_name": "function",
                                                      "config": name, "registered_name": name}}}


@pytest.mark.parametrize("nested", [False, True])
def test_a_lambda_with_bytecode_is_dangerous_at_any_depth(tmp_path, nested):
    sec = _security(_rezip(tmp_path, _with_layer(_lambda_layer(), nested)))
    assert sec["verdict"] == "dangerous"
    f = next(f for f in sec["findings"] if f["code"] == "lambda-bytecode")
    assert f["cve"] == ["CVE-2024-3660"]
    assert f["where"] == ("config.layers[1].config.layers[1].config.function" if nested
                          else "config.layers[1].config.function")
    assert "Keras >= 2.13 refuses it by default" in f["exposed"]


def test_a_lambda_in_a_legacy_h5_names_the_safe_mode_bypass(tmp_path):
    out = tmp_path / "lambda.h5"
    out.write_bytes(TOY_H5.read_bytes())
    with h5py.File(out, "r+") as h5:
        cfg = json.loads(h5.attrs["model_config"])
        cfg["config"]["layers"][1] = _lambda_layer()
        h5.attrs["model_config"] = json.dumps(cfg)
    f = next(f for f in _security(out)["findings"] if f["code"] == "lambda-bytecode")
    assert f["cve"] == ["CVE-2024-3660", "CVE-2025-9905"]
    assert "tf-keras (safe_mode ignored for .h5)" in f["exposed"]


def test_a_module_outside_keras_in_an_initializer_is_dangerous(tmp_path):
    cfg = _config()
    # CVE-2025-1550 PoC: a nested object whose module is a system module.
    cfg["config"]["layers"][1]["config"]["kernel_initializer"] = {
        "module": "subprocess", "class_name": "Popen", "config": {"args": ["id"]}, "registered_name": None}
    sec = _security(_rezip(tmp_path, cfg))
    f = next(f for f in sec["findings"] if f["code"] == "foreign-module")
    assert (sec["verdict"], f["cve"], f["where"]) == (
        "dangerous", ["CVE-2025-1550"], "config.layers[1].config.kernel_initializer")


@pytest.mark.parametrize("module,name", [
    ("keras.utils", "get_file"),
    ("keras.models", "load_model"),
    ("keras.config", "enable_unsafe_deserialization"),
    ("keras.utils", "load_img"),
    ("keras.utils", "image_dataset_from_directory"),
    ("keras.src.backend.common.global_state", "set_global_attribute"),
])
def test_function_objects_on_the_non_modeling_denylist_are_dangerous(tmp_path, module, name):
    sec = _security(_rezip(tmp_path, _with_layer(_function_ref(module, name), nested=True)))
    f = next(f for f in sec["findings"] if f["code"] == "denylisted-api")
    assert sec["verdict"] == "dangerous"
    assert "CVE-2025-8747" in f["cve"] and "Keras >= 3.11 refuses it" in f["exposed"]
    assert f["where"].endswith("config.function")


def test_a_nested_load_with_safe_mode_false_is_named(tmp_path):
    layer = _function_ref("keras.models", "load_model")
    layer["config"]["arguments"] = {"filepath": "/tmp/evil.keras", "safe_mode": False}
    sec = _security(_rezip(tmp_path, _with_layer(layer)))
    assert {"denylisted-api", "safe-mode-off"} <= _codes(sec)


def test_torch_module_wrapper_with_a_serialized_module_is_dangerous(tmp_path):
    layer = {"module": "keras.layers", "class_name": "TorchModuleWrapper", "registered_name": None,
             "name": "dense", "config": {"name": "dense", "module": base64.b64encode(b"PK\x03\x04torch").decode()}}
    sec = _security(_rezip(tmp_path, _with_layer(layer)))
    f = next(f for f in sec["findings"] if f["code"] == "torch-module-wrapper")
    assert f["cve"] == ["CVE-2025-49655"] and sec["verdict"] == "dangerous"


@pytest.mark.parametrize("cls", ["StringLookup", "IntegerLookup", "TextVectorization"])
def test_a_vocabulary_path_is_dangerous(tmp_path, cls):
    layer = {"module": "keras.layers", "class_name": cls, "registered_name": None, "name": "dense",
             "config": {"name": "dense", "vocabulary": "/etc/passwd"}}
    sec = _security(_rezip(tmp_path, _with_layer(layer)))
    f = next(f for f in sec["findings"] if f["code"] == "vocabulary-path")
    assert f["cve"] == ["CVE-2025-12058"] and "/etc/passwd" in f["message"]


def test_a_keras_hub_tokenizer_with_a_path_is_dangerous(tmp_path):
    layer = {"module": "keras_hub.src.tokenizers.byte_pair_tokenizer", "class_name": "BytePairTokenizer",
             "registered_name": "keras_hub>BytePairTokenizer", "name": "dense",
             "config": {"name": "dense", "vocabulary": "/home/u/.ssh/id_rsa", "merges": None}}
    sec = _security(_rezip(tmp_path, _with_layer(layer)))
    f = next(f for f in sec["findings"] if f["code"] == "tokenizer-path")
    assert f["where"] == "config.layers[1].config.vocabulary"


def test_tfsm_layer_is_dangerous(tmp_path):
    layer = {"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None, "name": "dense",
             "config": {"name": "dense", "filepath": "/srv/other_model", "call_endpoint": "serve"}}
    sec = _security(_rezip(tmp_path, _with_layer(layer)))
    f = next(f for f in sec["findings"] if f["code"] == "tfsm-layer")
    assert f["cve"] == ["CVE-2026-1462"] and "/srv/other_model" in f["message"]


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_hdf5_links_are_findings_with_their_path(tmp_path, kind):
    out = tmp_path / "links.h5"
    out.write_bytes(TOY_H5.read_bytes())
    with h5py.File(out, "r+") as h5:
        grp = h5["model_weights"]
        grp["leak"] = h5py.ExternalLink("/etc/passwd", "/") if kind == "external" else h5py.SoftLink("/nowhere")
    sec = _security(out)
    f = next(f for f in sec["findings"] if f["code"] == "hdf5-link")
    assert (sec["verdict"], f["cve"], f["where"]) == ("dangerous", ["CVE-2026-1669"], "/model_weights/leak")


def test_a_shape_bomb_is_a_finding(tmp_path):
    out = tmp_path / "bomb.h5"
    out.write_bytes(TOY_H5.read_bytes())
    with h5py.File(out, "r+") as h5:
        h5["model_weights"].create_dataset("bomb", shape=(2**40,), chunks=(1024,), dtype="f4",
                                           compression="gzip", fillvalue=0.0)
    f = next(f for f in _security(out)["findings"] if f["code"] == "size-bomb")
    assert f["cve"] == ["CVE-2026-0897"]


def _os_system_pickle() -> bytes:
    # Protocol-2 opcodes for `os.system("id")` built by hand, the way pickle PoCs are written; never loaded.
    return b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."


def test_a_pytorch_zip_whose_pickle_imports_os_is_dangerous(tmp_path):
    out = tmp_path / "evil.pt"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", _os_system_pickle())
        zf.writestr("archive/version", "3\n")
    sec = _security(out)
    f = next(f for f in sec["findings"] if f["code"] == "pickle-code")
    assert sec["verdict"] == "dangerous" and "os.system" in f["message"]


def test_an_npy_object_array_needs_trust(tmp_path):
    out = tmp_path / "objects.npy"
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    sec = _security(out)
    assert sec["verdict"] == "needs-trust" and "pickle" in _codes(sec)


def test_a_plain_pickle_of_keras_saveable_is_dangerous(tmp_path):
    out = tmp_path / "model.pkl"
    # What pickle.dumps(keras_model) references: keras.src.saving.keras_saveable._unpickle_model.
    out.write_bytes(b"\x80\x02ckeras.src.saving.keras_saveable\n_unpickle_model\nq\x00)Rq\x01.")
    sec = _security(out)
    assert sec["verdict"] == "dangerous"
    assert any("_unpickle_model" in f["message"] for f in sec["findings"])


CLEAN = sorted(p for p in FIXTURES.iterdir()
               if p.suffix in (".keras", ".h5") and "lambda" not in p.name and "custom" not in p.name)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_real_keras_files_without_custom_code_are_clean(path):
    assert _security(path) == {"verdict": "clean", "findings": []}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*custom*save.*")), ids=lambda p: p.name)
def test_a_real_custom_class_needs_trust_not_alarm(path):
    # Decision: a custom class is code the user must import themselves; we say so, we do not cry wolf.
    sec = _security(path)
    assert sec["verdict"] == "needs-trust" and _codes(sec) == {"custom-class"}


def test_the_pickle_is_never_unpickled(tmp_path, monkeypatch):
    out = tmp_path / "evil.pt"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", _os_system_pickle())
    def refuse(*a, **k):
        raise AssertionError("unpickled")
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    assert _security(out)["verdict"] == "dangerous"


def test_an_hdf5_hard_link_cycle_is_detected_not_walked(tmp_path):
    out = tmp_path / "cycle.h5"
    out.write_bytes(TOY_H5.read_bytes())
    with h5py.File(out, "r+") as h5:
        h5["model_weights/loop"] = h5["model_weights"]  # a hard link from a group to itself
    sec = _security(out)
    f = next(f for f in sec["findings"] if f["code"] == "hdf5-link-cycle")
    assert f["where"] == "/model_weights/loop" and sec["verdict"] == "dangerous"
