"""The analysis core: bytes in, Report out.

`read_report(artifact)` sniffs the content, picks the reader and always returns a Report:
for anything that is not a model the Report's `format` is "not-a-model" and `error` says
what it is instead.  Imports only h5py, numpy and the standard library; never TensorFlow,
Keras or pickle, and never code from the file.
"""

from __future__ import annotations

import json

from bot.analysis.io.artifact import Artifact, FileObjArtifact, PathArtifact
from bot.errors import AnalysisError, ErrorCode
from bot.report import Report, ReportError, SourceInfo

# Bump when a reader changes what it reports, so caches never serve an older analysis.
ANALYZER_VERSION = "2026.12.02-merge2"

__all__ = ["ANALYZER_VERSION", "Artifact", "FileObjArtifact", "PathArtifact", "read_report"]


def read_report(artifact: Artifact) -> Report:
    """Everything the bytes say about one artifact. Never raises for bad input."""
    from bot.analysis.advice import advisor as advice

    size = None if artifact.is_dir() else artifact.size()
    report = Report(source=SourceInfo(artifact.name, artifact.uri, size), format="not-a-model")
    try:
        report = _read(artifact, report)
    except AnalysisError as exc:
        report = Report(source=report.source, format="not-a-model",
                        error=ReportError(exc.code.value, exc.message))
    advice.add_reload(report)
    if report.graph is None and report.layers and not report.contents.architecture:
        from bot.analysis.keras.graph import order_only_graph

        report.graph = order_only_graph(report.layers)
    _add_security(report)
    return report


def _add_security(report: Report) -> None:
    from bot.analysis import security

    # Config findings were gathered by the readers (`report.security` set early); add what the file showed.
    early = report.security.findings if report.security else []
    security.attach(report, early + security.file_findings(report))


def _read(artifact: Artifact, report: Report) -> Report:
    from bot.analysis import sniff

    if artifact.is_dir():
        return _read_dir(artifact, report)
    size = report.source.size_bytes
    with artifact.open() as f:
        head = f.read(sniff.HEAD_BYTES)
        tail = b""
        if size and size >= 8:
            f.seek(size - 8)
            tail = f.read(8)
        kind, _ = sniff.sniff_file(artifact.name, size, head, tail)
        return _read_file(kind, artifact, f, head, report)


def _read_file(kind, artifact: Artifact, f, head: bytes, report: Report) -> Report:
    from bot.analysis import not_a_model
    from bot.analysis.keras import keras_v3
    from bot.analysis.sniff import Kind

    if artifact.name == "config.json" and head.lstrip().startswith(b"{"):
        preset = _preset_beside(artifact, report)
        if preset is not None:
            return preset

    if kind is Kind.EMPTY:
        raise AnalysisError(ErrorCode.EMPTY)
    if kind is Kind.HDF5:
        return _read_hdf5(f, report, artifact)
    if kind is Kind.ZIP:
        return _read_zip(f, artifact, report)
    if kind is Kind.GIT_LFS:
        raise not_a_model.git_lfs_error(head)
    if kind is Kind.HTML:
        raise not_a_model.html_error(head)
    if kind is Kind.SHARDED_INDEX:
        f.seek(0)
        data = f.read(keras_v3.MAX_JSON_MEMBER_BYTES + 1)
        try:
            index = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalysisError(ErrorCode.CORRUPT, "The sharded-weights index is not valid JSON.") from exc
        if not isinstance(index, dict) or "weight_map" not in index:
            raise not_a_model.unknown_error(artifact.name, head)
        return keras_v3.report_from_sharded_index(index, artifact, report)
    if kind in (Kind.BUNDLE_INDEX, Kind.DATA_SHARD, Kind.CHECKPOINT_STATE, Kind.SAVED_MODEL_PB):
        return _tf_bundle_report(kind, artifact, report)
    if kind in (Kind.SAFETENSORS, Kind.ONNX, Kind.TFLITE, Kind.PICKLE, Kind.NUMPY):
        return _other_format_report(kind, artifact, report)
    raise not_a_model.unknown_error(artifact.name, head)


def _read_hdf5(f, report: Report, artifact: Artifact | None = None) -> Report:
    from bot.analysis.io import h5safe

    return h5safe.guarded(_read_hdf5_unguarded)(f, report, artifact)


def _read_hdf5_unguarded(f, report: Report, artifact: Artifact | None = None) -> Report:
    from bot.analysis.io import h5safe
    from bot.analysis.keras import keras_v3, legacy_h5, v3_weights

    f.seek(0)
    with h5safe.open_h5(f) as h5:
        from bot.analysis.security import h5_links, verdict

        verdict.attach(report, h5_links.link_findings(h5))  # before any reader can stop at one
        attrs = set(h5.attrs.keys())
        if "model_config" in attrs or "layer_names" in attrs or "layer_names0" in attrs:
            return legacy_h5.report_from_legacy_h5(h5, report)
        if "nb_layers" in attrs:
            return legacy_h5.report_from_keras0_h5(h5, report)
        if set(h5.keys()) == {"lora"}:
            from bot.analysis.keras import hub_preset

            return hub_preset.report_from_hub_lora(h5, report, _preset_beside(artifact, Report(
                source=report.source, format="not-a-model")) if artifact is not None else None)
        if v3_weights.looks_like_v3_weights(h5):
            return keras_v3.report_from_v3_weights(h5, report)
        if "model_weights" in h5 and "layer_names" in h5["model_weights"].attrs:
            return legacy_h5.report_from_legacy_h5(h5, report)
        top = ", ".join(sorted(h5.keys())[:6]) or "nothing"
        raise AnalysisError(ErrorCode.NOT_KERAS_HDF5, f"This is a valid HDF5 file, but Keras did not write it: "
                            f"no model_config, layer_names or Keras weight groups (top level holds: {top}).")


def _read_zip(f, artifact: Artifact, report: Report) -> Report:
    import zipfile

    from bot.analysis.keras import keras_v3

    f.seek(0)
    try:
        names = zipfile.ZipFile(f).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    f.seek(0)
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        from bot.analysis.others import torch_files

        return _with_source(torch_files.report_from_pytorch_zip(artifact), report)
    preset = _preset_zip(f, names, report)
    if preset is not None:
        return preset
    if names and all(n.endswith(".npy") for n in names):
        from bot.analysis.sniff import Kind

        return _other_format_report(Kind.NUMPY, artifact, report)
    return keras_v3.report_from_keras_zip(f, report)


def _read_dir(d: Artifact, report: Report) -> Report:
    from bot.analysis import sniff
    from bot.analysis.keras import keras_v3

    entries = d.listdir()
    if "config.json" in entries:
        from bot.analysis.keras import hub_files, hub_preset

        files = hub_files.FolderFiles(d)
        if hub_files.is_hub_metadata(files.json("metadata.json"), files.json("config.json")):
            return hub_preset.report_from_preset(files, report)
    from bot.analysis.others import orbax

    if orbax.looks_like_run(d, entries):
        return orbax.report_from_orbax(d, entries, report)
    kind = sniff.sniff_dir(entries)
    if kind is sniff.Kind.KERAS_DIR:
        return keras_v3.report_from_keras_dir(d, report)
    if kind in (sniff.Kind.SAVED_MODEL_DIR, sniff.Kind.CHECKPOINT_DIR):
        return _tf_bundle_report(kind, d, report)
    if kind is sniff.Kind.ORBAX_DIR:
        raise AnalysisError(ErrorCode.UNKNOWN, "This is a Keras 3 Orbax checkpoint folder (OrbaxCheckpoint "
                            "callback, Keras >= 3.13). I cannot describe Orbax checkpoints yet; Keras >= 3.14 "
                            "loads it with `keras.saving.load_model(folder)` when it holds a model config.")
    shown = ", ".join(d.listdir()[:8])
    raise AnalysisError(ErrorCode.UNKNOWN, f"This folder is not a SavedModel, an unzipped .keras model or a "
                        f"checkpoint folder (it holds: {shown or 'nothing'}). Point me at the model file inside.")


def _preset_beside(artifact: Artifact, report: Report) -> Report | None:
    """The KerasHub preset whose config.json (or adapter file) the user pointed at, read from its folder."""
    from bot.analysis.keras import hub_files, hub_preset

    files = hub_files.FolderFiles(artifact, via_sibling=True)
    if not files.exists("config.json"):
        return None
    if not hub_files.is_hub_metadata(files.json("metadata.json"), files.json("config.json")):
        return None
    return hub_preset.report_from_preset(files, report)


def _preset_zip(f, names: list[str], report: Report) -> Report | None:
    import zipfile

    from bot.analysis.keras import hub_files, hub_preset

    prefix = hub_files.zip_prefix(names)
    if prefix is None:
        return None
    f.seek(0)
    files = hub_files.ZipFiles(f, zipfile.ZipFile(f), prefix)
    if not hub_files.is_hub_metadata(files.json("metadata.json"), files.json("config.json")):
        f.seek(0)
        return None
    return hub_preset.report_from_preset(files, report)


def _tf_bundle_report(kind, artifact: Artifact, report: Report) -> Report:
    from bot.analysis.sniff import Kind
    from bot.analysis.tf import tf_checkpoint, tf_savedmodel

    if kind in (Kind.SAVED_MODEL_DIR,):
        return _with_source(tf_savedmodel.report_from_savedmodel(artifact), report)
    if kind is Kind.SAVED_MODEL_PB:
        raise AnalysisError(ErrorCode.UNKNOWN, "This is the saved_model.pb of a TensorFlow SavedModel; point me at "
                            "the SavedModel folder (the one holding saved_model.pb and variables/) instead.")
    return _with_source(tf_checkpoint.report_from_checkpoint(artifact), report)


def _other_format_report(kind, artifact: Artifact, report: Report) -> Report:
    from bot.analysis.others import numpy_files, onnx_files, safetensors_files, tflite_files, torch_files
    from bot.analysis.sniff import Kind

    reader = {
        Kind.SAFETENSORS: safetensors_files.report_from_safetensors,
        Kind.ONNX: onnx_files.report_from_onnx,
        Kind.TFLITE: tflite_files.report_from_tflite,
        Kind.PICKLE: torch_files.report_from_pytorch_pickle,
        Kind.NUMPY: numpy_files.report_from_numpy,
    }[kind]
    return _with_source(reader(artifact), report)


def _with_source(new: Report, old: Report) -> Report:
    # Readers that follow siblings (checkpoint state → index) may describe another file; keep what the
    # user asked about as the source unless the reader chose a more precise one.
    if not new.source.uri:
        new.source = old.source
    return new

