"""`.keras` archives (zip or unzipped folder), bare `*.weights.h5`, sharded `*.weights.json`.

Facts: keras-formats.md §3–§4.  Archives are read in place: the central directory, two
small JSON members, and `model.weights.h5` opened through a window onto the archive's
bytes (members are ZIP_STORED), so nothing is extracted and a remote archive is read by
range.  Hostile archives (bombs, duplicate names) are refused from the directory alone.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import zipfile
from typing import IO, TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import h5py

from bot.analysis.io import h5safe
from bot.analysis.io.artifact import Artifact
from bot.analysis.io.windows import OffsetWindow
from bot.analysis.json_fields import sub_dict
from bot.analysis.keras import assemble, layer_variables, quantization, v3_weights
from bot.analysis.keras.config_walk import ModelSpec, describe_model
from bot.analysis.keras.graph import graph_from_config
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Report

# config.json of a 1,000-layer model is ~2 MB; 64 MB is generous and still bounds memory.
MAX_JSON_MEMBER_BYTES = 64 * 1024**2
# Keras archives hold 3 members plus assets; tens of thousands means a hostile archive.
MAX_MEMBERS = 10_000
# Re-zipped (DEFLATE) weights must be inflated to a temp file; Keras' own bomb floor is similar.
MAX_INFLATED_BYTES = 8 * 1024**3
MAX_INFLATE_RATIO = 200
# Index files of sharded weights are small JSON; shards are limited to what an index can list.
MAX_SHARDS = 10_000

# h5py reads metadata in small scattered pieces; 16 KiB buffering halves the calls without reading
# much beyond what it asks for (64 KiB moved 0.65 % of a 1.6 GB archive, 16 KiB far less).
WINDOW_BUFFER_BYTES = 16 * 1024

WEIGHTS_H5 = "model.weights.h5"
WEIGHTS_NPZ = "model.weights.npz"


@h5safe.guarded
def report_from_keras_zip(f: BinaryIO, report: Report) -> Report:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise AnalysisError(ErrorCode.TRUNCATED if "end of central directory" in str(exc).lower() else
                            ErrorCode.CORRUPT, f"The zip archive is damaged ({exc}).") from exc
    infos = zf.infolist()
    names = [i.filename for i in infos]
    _check_members(infos, names)
    if "config.json" not in names or "metadata.json" not in names:
        raise AnalysisError(ErrorCode.NOT_KERAS_ZIP, _not_keras_zip_message(names))
    climbing = _climbing_members(names)
    if climbing:
        report.warn("unsafe-member-name", f"The archive holds member(s) named to escape the folder they are "
                    f"unzipped into ({', '.join(repr(c) for c in climbing[:3])}). I read nothing from them and "
                    "Keras ignores them, but do not unzip this file by hand; ask who made it.")
    config = _json_member(zf, "config.json")
    metadata = _json_member(zf, "metadata.json")
    report.format = "keras-v3-archive"
    if WEIGHTS_H5 in names:
        info = zf.getinfo(WEIGHTS_H5)
        with _member_file(f, zf, info, report) as wf, h5safe.open_h5(wf) as h5:
            tree = v3_weights.flatten(h5)
    elif WEIGHTS_NPZ in names:
        tree = None
        report.warn("pickle-npz-weights", "The weights are in `model.weights.npz`, whose entries are pickled "
                    "Python objects: loading them can run code, Keras >= 3.15 refuses them, and I did not read "
                    "them. Re-save the model with a current Keras (`model.save('x.keras')`).")
    else:
        raise AnalysisError(ErrorCode.CORRUPT, "The archive has config.json and metadata.json but no "
                            "model.weights.h5: Keras cannot load it (\"Expected a model.weights.h5 or "
                            "model.weights.npz file.\").")
    assets = [n for n in names if n.startswith("assets/") and not n.endswith("/")]
    if assets:
        report.format_detail = f"{len(assets)} asset file(s)"
    return _fill_from_config(report, config, metadata, tree)


@h5safe.guarded
def report_from_keras_dir(d: Artifact, report: Report) -> Report:
    """`model.save(dir, zipped=False)` (Keras >= 3.4) and the Hugging Face Hub layout."""
    config = _json_artifact(d.child("config.json"))
    metadata = _json_artifact(d.child("metadata.json"))
    report.format = "keras-v3-archive"
    report.format_detail = "unzipped folder (save(..., zipped=False))"
    weights = d.child(WEIGHTS_H5)
    tree = None
    if weights is not None:
        with weights.open() as wf, h5safe.open_h5(wf) as h5:
            tree = v3_weights.flatten(h5)
    elif d.child(WEIGHTS_NPZ) is not None:
        report.warn("pickle-npz-weights", "The weights are pickled `model.weights.npz`; not read.")
    return _fill_from_config(report, config, metadata, tree)


@h5safe.guarded
def report_from_v3_weights(h5: "h5py.File", report: Report) -> Report:
    return _fill_weights_only(report, v3_weights.flatten(h5), detail=None)


@h5safe.guarded
def report_from_sharded_index(index: dict[str, Any], artifact: Artifact, report: Report) -> Report:
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict):
        raise AnalysisError(ErrorCode.CORRUPT, "The sharded-weights index has no `weight_map`.")
    shard_names: list[str] = []
    for v in weight_map.values():
        for name in v if isinstance(v, list) else [v]:
            if isinstance(name, str) and name not in shard_names:
                shard_names.append(name)
    if len(shard_names) > MAX_SHARDS:
        raise AnalysisError(ErrorCode.LIMIT, f"The index lists {len(shard_names):,} shards (limit {MAX_SHARDS:,}).")
    tree = v3_weights.V3Tree()
    missing = []
    shard_bytes = 0
    for name in shard_names:
        if "/" in name or "\\" in name or name.startswith("."):
            raise AnalysisError(ErrorCode.UNSAFE, f"The index names shard {name!r} outside its folder; refused.")
        shard = artifact.sibling(name)
        if shard is None:
            missing.append(name)
            continue
        shard_bytes += shard.size() or 0
        with shard.open() as sf, h5safe.open_h5(sf) as h5:
            v3_weights.flatten(h5, tree)
    report.format = "keras-v3-sharded-weights"
    detail = f"{len(shard_names)} shard(s), {len(shard_names) - len(missing)} found beside the index"
    if missing:
        report.warn("missing-shards", f"{len(missing)} shard(s) listed in the index are not beside it "
                    f"({', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}); figures cover the rest, "
                    "and load_weights will fail until they are there.")
    report.source.size_bytes = (report.source.size_bytes or 0) + shard_bytes
    return _fill_weights_only(report, tree, detail)


def _fill_weights_only(report: Report, tree: v3_weights.V3Tree, detail: str | None) -> Report:
    if report.format != "keras-v3-sharded-weights":
        report.format = "keras-v3-weights"
    res = v3_weights.read_tree(tree, None)
    _fill_weights(report, res)
    report.contents = Contents(architecture=False, weights=bool(res.records) or bool(res.order),
                               optimizer_state=bool(res.optimizer_records), training_config=False)
    report.format_detail = detail or _layout_detail(tree, res)
    _writer_from_tree(report, tree, res, spec=None, module=None)
    if res.records:
        report.warn("trainable-inferred", "Weights-only file: no architecture is stored, so frozen layers cannot "
                    "be seen; the trainable split counts BatchNormalization-style statistics only.")
    return report


def _fill_from_config(report: Report, config: dict[str, Any], metadata: dict[str, Any],
                      tree: v3_weights.V3Tree | None) -> Report:
    report.keras_version = str(metadata.get("keras_version")) if metadata.get("keras_version") else None
    try:
        spec: ModelSpec = describe_model(config)
    except ValueError as exc:
        raise AnalysisError(ErrorCode.CORRUPT, f"config.json is not a Keras model config ({exc}).") from exc
    compile_config = sub_dict(config, "compile_config")
    report.model = assemble.model_info(spec)
    assemble.add_model_findings(report, spec)
    if tree is not None:
        tree.writer_version = report.keras_version
        inner = sub_dict(config, "config")
        tree.policy_map = quantization.policy_map(inner.get("dtype"))
    res = v3_weights.read_tree(tree, spec.layers, spec.trainable) if tree else None
    if res:
        _fill_weights(report, res)
    report.contents = Contents(
        architecture=True,
        weights=bool(res and (res.records or res.order)),
        optimizer_state=bool(res and res.optimizer_records),
        training_config=bool(compile_config),
    )
    if compile_config:
        # Keras 3 writes `optimizer`; a legacy-style `optimizer_config` is read the same way.
        opt_cfg = compile_config.get("optimizer") or compile_config.get("optimizer_config")
        report.optimizer = assemble.optimizer_info(opt_cfg if isinstance(opt_cfg, (dict, str)) else None,
                                                   res.optimizer_records if res else [],
                                                   res.iterations if res else None)
        report.training = assemble.training_info(compile_config.get("loss"), compile_config.get("metrics"))
        assemble.add_training_findings(report, compile_config.get("loss"))
        if res and res.optimizer_records and not isinstance(opt_cfg, (dict, str)):
            report.warn("optimizer-config-missing", "The archive holds optimizer state but its compile config "
                        "names no optimizer (Keras 3 bug: the model was saved as .h5 before this .keras save). "
                        "Loading compiles the default RMSprop and skips the saved state; recompile with the "
                        "original optimizer before resuming.")
    if res and report.optimizer and report.optimizer.learning_rate is None and res.learning_rate is not None:
        report.optimizer.learning_rate = res.learning_rate
    assemble.add_version_findings(report)
    if any(w.code == "keras-hub-classes" for w in report.warnings):
        from bot.analysis.keras.keras_classes import name_hub_layer

        for layer in report.layers:  # KerasHub tasks nest their backbone outside `layers`: name it from its group
            name_hub_layer(layer)
    if tree is not None and res is not None:
        report.format_detail = report.format_detail or _layout_detail(tree, res)
        _writer_from_tree(report, tree, res, spec, config.get("module"))
    report.graph = graph_from_config(config, report.layers)
    return report


def _fill_weights(report: Report, res: v3_weights.V3Result) -> None:
    report.layers = assemble.layers_from_records(res.order, res.records)
    for layer in report.layers:
        layer.path = res.paths.get(layer.name)
    report.params = assemble.params_from_records(res.records)
    if res.optimizer_records and report.optimizer is None:
        report.optimizer = assemble.optimizer_info(None, res.optimizer_records, res.iterations)
        if report.optimizer:
            report.optimizer.learning_rate = res.learning_rate
    report.size_breakdown = assemble.size_breakdown(report.source.size_bytes, res.records, res.optimizer_records)
    layer_variables.summarize(report, res.records)


def _layout_detail(tree: v3_weights.V3Tree, res: v3_weights.V3Result) -> str | None:
    if res.container == "_layer_checkpoint_dependencies":
        return "Keras 2.13/2.14 layout (_layer_checkpoint_dependencies)"
    return None


def _writer_from_tree(report: Report, tree: v3_weights.V3Tree, res: v3_weights.V3Result,
                      spec: ModelSpec | None, module: Any) -> None:
    """What wrote the file when metadata.json does not say (bare weights) — from fingerprints (§1)."""
    tf_keras_markers = any(g.startswith("metrics/") for g in tree.groups) or res.container == \
        "_layer_checkpoint_dependencies"
    if isinstance(module, str) and module.startswith("tf_keras"):
        writer = "tf-keras"
    elif isinstance(module, str) and module.startswith("keras.src.engine"):
        writer = "Keras 2.13–2.15"
    elif tf_keras_markers:
        writer = "Keras 2 (tf-keras or 2.13–2.15)"
    else:
        writer = None
    if writer and report.keras_version is None:
        report.format_detail = "; ".join(x for x in (report.format_detail, f"written by {writer}") if x)
    opt = tree.own_vars("optimizer")
    if opt and report.backend is None and opt[0][1].dtype in ("int64", "int32") and not tf_keras_markers:
        # Keras 3 keeps the step counter as int64 on TensorFlow and int32 on JAX (keras-formats.md §1).
        report.backend = "tensorflow" if opt[0][1].dtype == "int64" else "jax"


def _check_members(infos: list[zipfile.ZipInfo], names: list[str]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise AnalysisError(ErrorCode.LIMIT, f"The archive has {len(infos):,} members (limit {MAX_MEMBERS:,}); "
                            "a Keras archive has a handful.")
    dupes = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) != len(names) else []
    if dupes:
        raise AnalysisError(ErrorCode.UNSAFE, f"The archive lists {dupes[0]!r} more than once, so different "
                            "tools would read different bytes; refused.")


def _climbing_members(names: list[str]) -> list[str]:
    """Member names that would land outside the folder if someone unzipped the archive (zip slip)."""
    out = []
    for n in names:
        parts = n.replace("\\", "/").split("/")
        if n.startswith(("/", "\\")) or ".." in parts or (len(n) > 1 and n[1] == ":"):
            out.append(n)
    return out


def _not_keras_zip_message(names: list[str]) -> str:
    shown = ", ".join(names[:6]) + ("…" if len(names) > 6 else "")
    return (f"This zip archive is not a Keras `.keras` file: it has no config.json and metadata.json "
            f"(members: {shown or 'none'}). If it wraps a model, unzip it and point me at the model file.")


def _json_member(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    info = zf.getinfo(name)
    if info.file_size > MAX_JSON_MEMBER_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"`{name}` is {info.file_size:,} bytes (limit "
                            f"{MAX_JSON_MEMBER_BYTES:,}).")
    try:
        with zf.open(info) as m:
            data = m.read(MAX_JSON_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` cannot be read from the archive ({exc}).") from exc
    return _parse_json(data, name)


def _json_artifact(a: Artifact | None) -> dict[str, Any]:
    if a is None:
        return {}
    size = a.size() or 0
    if size > MAX_JSON_MEMBER_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"`{a.name}` is {size:,} bytes (limit {MAX_JSON_MEMBER_BYTES:,}).")
    with a.open() as f:
        return _parse_json(f.read(MAX_JSON_MEMBER_BYTES + 1), a.name)


def _parse_json(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` is not valid JSON; the archive is damaged.") from exc
    if not isinstance(value, dict):
        raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` is not a JSON object.")
    return value


class _member_file:
    """A file object over one archive member: a window when STORED, else a bounded inflated temp copy."""

    def __init__(self, f: BinaryIO, zf: zipfile.ZipFile, info: zipfile.ZipInfo, report: Report) -> None:
        self._f, self._zf, self._info, self._report = f, zf, info, report
        self._tmp: Any = None

    def __enter__(self) -> BinaryIO:
        info = self._info
        if info.compress_type == zipfile.ZIP_STORED:
            self._f.seek(info.header_offset)
            header = self._f.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise AnalysisError(ErrorCode.CORRUPT, "The archive's local header for model.weights.h5 is "
                                    "damaged.")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            return io.BufferedReader(OffsetWindow(self._f, start, info.file_size, info.filename),
                                    buffer_size=WINDOW_BUFFER_BYTES)
        if info.file_size > MAX_INFLATED_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_INFLATE_RATIO):
            raise AnalysisError(ErrorCode.LIMIT, f"model.weights.h5 inflates from {info.compress_size:,} to "
                                f"{info.file_size:,} bytes: refusing a possible zip bomb.")
        self._report.warn("recompressed-archive", "The archive was re-compressed (Keras stores members "
                          "uncompressed), so I had to inflate the weights to read them; Keras loads it anyway.")
        self._tmp = tempfile.TemporaryFile()
        with self._zf.open(info) as src:
            copied = _bounded_copy(src, self._tmp, info.file_size)
        if copied != info.file_size:
            raise AnalysisError(ErrorCode.CORRUPT, "model.weights.h5 inflated to a different size than the "
                                "archive declares.")
        self._tmp.seek(0)
        return self._tmp

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.close()


def _bounded_copy(src: IO[bytes], dst: IO[bytes], limit: int) -> int:
    total = 0
    while True:
        chunk = src.read(min(1024 * 1024, limit + 1 - total))
        if not chunk:
            return total
        total += len(chunk)
        if total > limit:
            return total
        dst.write(chunk)
