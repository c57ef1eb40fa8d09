"""Legacy HDF5: `model.save('x.h5')` and `save_weights('x.h5')` from Keras 1.x, 2.x, 3.x and tf-keras.

Layout facts: keras-formats.md §2.  The logical layer order is `layer_names` (chunk-aware);
each layer's variables are listed by `weight_names` (trainable first, then non-trainable, at
save time); dataset paths are the weight names inside the layer group.
"""

from __future__ import annotations

import h5py

from bot.analysis.io import h5safe
from bot.analysis.keras import assemble
from bot.analysis.keras.assemble import WeightRecord
from bot.analysis.keras.config_walk import LayerSpec, ModelSpec, describe_model
from bot.analysis.keras.graph import graph_from_config
from bot.analysis.keras.keras_classes import (
    BUILTIN_LAYERS,
    is_state_weight,
    strip_registered_prefix,
    weight_basename,
)
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Report

_ITERATION_NAMES = {"iteration", "iterations", "iter"}


@h5safe.guarded
def report_from_legacy_h5(f: h5py.File, report: Report) -> Report:
    model_config = h5safe.attr_json(f, "model_config")
    training_config = h5safe.attr_json(f, "training_config") if model_config else None
    weights_group = h5safe.child(f, "model_weights") if model_config is not None else f
    if model_config is not None and weights_group is None:
        weights_group = f  # Keras 1 full models without model_weights are not known; be lenient
    report.format = "keras-h5-model" if model_config is not None else "keras-h5-weights"
    report.keras_version = h5safe.attr_str(f, "keras_version") or h5safe.attr_str(weights_group, "keras_version")
    report.backend = h5safe.attr_str(f, "backend") or h5safe.attr_str(weights_group, "backend")

    spec: ModelSpec | None = None
    if model_config is not None:
        try:
            spec = describe_model(model_config)
        except ValueError as exc:
            raise AnalysisError(ErrorCode.CORRUPT, f"The file's model_config is not a Keras model config "
                                f"({exc}).") from exc

    layer_names = h5safe.attr_list(weights_group, "layer_names")
    if layer_names is None:
        raise AnalysisError(ErrorCode.CORRUPT, "The file has a Keras model config but no `layer_names` "
                            "in its weights group; it is damaged or was not finished.")
    records = _layer_records(weights_group, layer_names, spec)
    opt_group = h5safe.child(f, "optimizer_weights") if model_config is not None else None
    opt_records, iterations = _optimizer_records(opt_group) if opt_group is not None else ([], None)

    order = []
    for name in layer_names:
        layer = spec.find(name) if spec else None
        if layer is None and spec is not None and name == "top_level_model_weights":
            continue
        order.append((name, strip_registered_prefix(layer.class_name) if layer else _guess_class(name),
                      layer.trainable if layer else None))
    report.layers = [l for l in assemble.layers_from_records(order, records)
                     if l.name != "top_level_model_weights" or l.params]
    report.params = assemble.params_from_records(records)
    report.contents = Contents(
        architecture=spec is not None,
        weights=bool(records) or bool(layer_names),
        optimizer_state=bool(opt_records),
        training_config=training_config is not None,
    )
    if spec is not None:
        report.model = assemble.model_info(spec)
        assemble.add_model_findings(report, spec)
        report.graph = graph_from_config(model_config, report.layers)
    # `optimizer_config` in every writer we know; `optimizer` (a name or an object) as a fallback.
    opt_cfg = (training_config.get("optimizer_config") or training_config.get("optimizer")) \
        if isinstance(training_config, dict) else None
    report.optimizer = assemble.optimizer_info(opt_cfg, opt_records, iterations)
    if training_config:
        report.training = assemble.training_info(training_config.get("loss"), training_config.get("metrics"))
        assemble.add_training_findings(report, training_config.get("loss"))
    report.size_breakdown = assemble.size_breakdown(report.source.size_bytes, records, opt_records)
    if spec is None and records:
        report.warn("trainable-inferred", "Weights-only file: no architecture is stored, so frozen layers "
                    "cannot be seen; the trainable split counts BatchNormalization-style statistics only.")
    return report


def _layer_records(group: h5py.Group, layer_names: list[str], spec: ModelSpec | None) -> list[WeightRecord]:
    records = []
    for lname in layer_names:
        lgroup = h5safe.child(group, lname)
        if lgroup is None:
            raise AnalysisError(ErrorCode.CORRUPT, f"Layer `{lname}` is listed in layer_names but its group is "
                                "missing; the file is damaged.")
        layer = spec.find(lname) if spec else None
        for wname in h5safe.attr_list(lgroup, "weight_names") or []:
            ds = h5safe.child(lgroup, wname)
            if not isinstance(ds, h5py.Dataset):
                raise AnalysisError(ErrorCode.CORRUPT, f"Weight `{wname}` of layer `{lname}` is listed but "
                                    "missing; the file is damaged.")
            shape, dtype, nbytes = h5safe.dataset_meta(ds)
            records.append(WeightRecord(lname, wname, shape, dtype, nbytes, _trainable(layer, wname)))
    return records


def _trainable(layer: LayerSpec | None, weight_name: str) -> bool:
    """Live Keras' split: state variables are never trainable; frozen layers (or enclosing models) make all
    of theirs non-trainable."""
    owner = _owner(layer, weight_name) if layer else None
    class_name = owner.class_name if owner else (layer.class_name if layer else "")
    if is_state_weight(class_name, weight_name):
        return False
    if layer is None:
        return True
    return owner.trainable if owner else layer.trainable


def _owner(layer: LayerSpec, weight_name: str) -> LayerSpec | None:
    """The innermost layer of a nested model that a weight belongs to ('inner/in_d/kernel:0' → in_d)."""
    if not layer.children:
        return layer
    parts = weight_name.split("/")[:-1]
    node = layer
    for part in parts:
        nxt = next((c for c in node.children if c.name == part), None)
        if nxt is not None:
            node = nxt
    if node is layer:
        # tf-keras names nested weights by the inner layer only ('in_d/kernel:0'): search the subtree.
        for part in reversed(parts):
            found = next((l for l in layer.walk() if l.name == part), None)
            if found is not None:
                return found
    return node


def _optimizer_records(group: h5py.Group) -> tuple[list[WeightRecord], int | None]:
    records, iterations = [], None
    for wname in h5safe.attr_list(group, "weight_names") or []:
        ds = h5safe.child(group, wname)
        if not isinstance(ds, h5py.Dataset):
            continue
        shape, dtype, nbytes = h5safe.dataset_meta(ds)
        records.append(WeightRecord("optimizer", wname, shape, dtype, nbytes, None))
        # The last counter wins: Keras 3's LossScaleOptimizer saves its own (always 0) before the inner
        # optimizer's, and `optimizer.iterations` reports the inner one.
        if not shape and weight_basename(wname) in _ITERATION_NAMES:
            value = h5safe.read_scalar(ds)
            iterations = int(value) if value is not None else iterations
    if iterations is None and records and not records[0].shape:
        # Keras 1 left the iteration counter unnamed ('Variable:0'), but always created it first.
        value = h5safe.read_scalar(group[records[0].name])
        iterations = int(value) if value is not None else None
    return records, iterations


def _guess_class(group_name: str) -> str:
    """'dense_3' → 'Dense' for weights-only files, when the name is Keras' default."""
    base = group_name.rstrip("0123456789").rstrip("_")
    camel = "".join(p.capitalize() for p in base.split("_"))
    known = {n.lower(): n for n in BUILTIN_LAYERS}
    return known.get(camel.lower(), "unknown")


@h5safe.guarded
def report_from_keras0_h5(f: h5py.File, report: Report) -> Report:
    """Keras 0.x weights: root `nb_layers`, groups `layer_{k}` with `nb_params` and `param_{p}` datasets."""
    n = h5safe.read_scalar_attr(f, "nb_layers")
    records = []
    order = []
    for k in range(int(n or 0)):
        g = h5safe.child(f, f"layer_{k}")
        if g is None:
            raise AnalysisError(ErrorCode.CORRUPT, f"layer_{k} is missing; the file is damaged.")
        order.append((f"layer_{k}", "unknown", None))
        for p in range(int(h5safe.read_scalar_attr(g, "nb_params") or 0)):
            ds = h5safe.child(g, f"param_{p}")
            if isinstance(ds, h5py.Dataset):
                shape, dtype, nbytes = h5safe.dataset_meta(ds)
                records.append(WeightRecord(f"layer_{k}", f"param_{p}", shape, dtype, nbytes, True))
    report.format = "keras-h5-weights"
    report.format_detail = "Keras 0.x weights layout (nb_layers / layer_k / param_p)"
    report.layers = assemble.layers_from_records(order, records)
    report.params = assemble.params_from_records(records)
    report.contents = Contents(weights=bool(records))
    report.size_breakdown = assemble.size_breakdown(report.source.size_bytes, records, [])
    report.warn("trainable-inferred", "Keras 0.x weights: no architecture or trainable flags are stored; "
                "all parameters are counted as trainable.")
    return report
