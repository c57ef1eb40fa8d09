"""TF SavedModel folders: tf.keras/tf_keras `model.save(dir)`, Keras 3 `export()`, `tf.saved_model.save`.

Three sources, all protobuf or bundle, none needing TensorFlow (keras-formats.md §6.1):
`saved_model.pb` (tags, TensorFlow version, signatures), `variables/variables.index` (the
weights, read like a checkpoint) and, for tf.keras saves only, `keras_metadata.pb`, whose root
node holds the same `model_config` / `training_config` JSON an H5 file has and whose every
node says whether that layer is trainable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.analysis.io.artifact import Artifact
from bot.analysis.keras.assemble import (
    WeightRecord,
    add_model_findings,
    layers_from_records,
    model_info,
    optimizer_info,
    params_from_records,
    size_breakdown,
    training_info,
)
from bot.analysis.tf.tf_bundle import DTYPES
from bot.analysis.tf.tf_checkpoint import (
    BundleVariables,
    Variable,
    is_state_variable,
    layer_group,
    layer_order,
    optimizer_class_from_slots,
    optimizer_records,
    read_bundle_variables,
    total_bytes,
    trainable_from_graph_or_slots,
    weight_records,
)
from bot.analysis.wire import protobuf as pb
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Report, SourceInfo

# saved_model.pb holds the whole graph; models with frozen constants reach hundreds of MB.
# We need only its small header fields, so past this size we skip it and say so.
MAX_SAVED_MODEL_PB_BYTES = 64 * 1024 * 1024
# keras_metadata.pb is one JSON per layer/metric: a few MB even for large models.
MAX_KERAS_METADATA_BYTES = 64 * 1024 * 1024


@dataclass
class GraphSummary:
    tags: list[str] = field(default_factory=list)
    tensorflow_version: str | None = None
    signatures: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = field(default_factory=dict)


@dataclass
class KerasMetadata:
    root: dict[str, Any]
    nodes: dict[str, dict[str, Any]]  # node_path ('root.layer_with_weights-0') → its JSON


def read_saved_model_pb(data: bytes) -> GraphSummary:
    """Tags, TF version and signature inputs/outputs of the first MetaGraphDef."""
    summary = GraphSummary()
    meta_graphs = pb.all_bytes(pb.fields_by_number(data), 2)
    if not meta_graphs:
        raise AnalysisError(ErrorCode.CORRUPT, "saved_model.pb holds no MetaGraphDef.")
    meta = pb.fields_by_number(meta_graphs[0])
    info = pb.fields_by_number(pb.first_bytes(meta, 1) or b"")
    summary.tags = [pb.text(t) or "" for t in pb.all_bytes(info, 4)]
    summary.tensorflow_version = pb.text(pb.first_bytes(info, 5))
    for item in pb.all_bytes(meta, 5):  # map<string, SignatureDef> entries: key 1, value 2
        entry = pb.fields_by_number(item)
        name = pb.text(pb.first_bytes(entry, 1)) or ""
        signature = pb.fields_by_number(pb.first_bytes(entry, 2) or b"")
        summary.signatures[name] = (_tensor_infos(signature, 1), _tensor_infos(signature, 2))
    return summary


def _tensor_infos(signature: dict[int, list[pb.Value]], number: int) -> list[dict[str, Any]]:
    """SignatureDef inputs (1) / outputs (2): map<string, TensorInfo{dtype 2, tensor_shape 3}>."""
    out = []
    for item in pb.all_bytes(signature, number):
        entry = pb.fields_by_number(item)
        info = pb.fields_by_number(pb.first_bytes(entry, 2) or b"")
        shape_msg = pb.fields_by_number(pb.first_bytes(info, 3) or b"")
        shape: list[int | None] | None = None
        if not pb.first_int(shape_msg, 3):  # unknown_rank
            shape = []
            for dim in pb.all_bytes(shape_msg, 2):
                size = pb.as_signed64(pb.first_int(pb.fields_by_number(dim), 1))
                shape.append(None if size < 0 else size)
        out.append({"name": pb.text(pb.first_bytes(entry, 1)) or "", "shape": shape,
                    "dtype": DTYPES.get(pb.first_int(info, 2), ("unknown", 0))[0]})
    return out


def read_keras_metadata(data: bytes) -> KerasMetadata | None:
    """`SavedMetadata { repeated SavedObject nodes = 1 }`, node_path 3, metadata JSON 5."""
    nodes: dict[str, dict[str, Any]] = {}
    for item in pb.all_bytes(pb.fields_by_number(data), 1):
        node = pb.fields_by_number(item)
        path = pb.text(pb.first_bytes(node, 3))
        raw = pb.first_bytes(node, 5)
        if not path or raw is None:
            continue
        try:
            meta = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict):
            nodes[path] = meta
    root = nodes.get("root")
    return KerasMetadata(root=root, nodes=nodes) if root is not None else None


def _read_small_child(folder: Artifact, name: str, limit: int, report: Report) -> bytes | None:
    child = folder.child(name)
    if child is None or child.is_dir():
        return None
    size = child.size()
    if size is not None and size > limit:
        report.warn("skipped-part", f"`{name}` is {size} bytes; I skip parts larger than {limit} bytes.")
        return None
    with child.open() as f:
        return f.read(limit + 1)[:limit]


def report_from_savedmodel(folder: Artifact) -> Report:
    """Describe a SavedModel folder: signatures, variables and (tf.keras saves) the Keras model."""
    report = Report(source=SourceInfo(folder.name, folder.uri, None), format="tf-savedmodel")
    pb_bytes = _read_small_child(folder, "saved_model.pb", MAX_SAVED_MODEL_PB_BYTES, report)
    graph = read_saved_model_pb(pb_bytes) if pb_bytes is not None else None
    if pb_bytes is None and folder.child("saved_model.pbtxt") is not None:
        report.warn("pbtxt", "This SavedModel stores its graph as text (saved_model.pbtxt); I read only "
                    "its variables.")
    meta_bytes = _read_small_child(folder, "keras_metadata.pb", MAX_KERAS_METADATA_BYTES, report)
    metadata = read_keras_metadata(meta_bytes) if meta_bytes else None
    index = folder.child("variables/variables.index")
    found = read_bundle_variables(index, report) if index is not None else None
    if index is None:
        report.warn("no-variables", "The SavedModel has no variables/variables.index: it holds no "
                    "weights (or the variables folder was not copied).")
    spec = _describe_keras_model(metadata, report) if metadata else None
    records = _records(found, metadata, report) if found else []
    opt_records = optimizer_records(found) if found else []
    order = (_keras_layer_order(spec, metadata) if spec is not None and metadata is not None
             else layer_order(records))
    report.layers = layers_from_records(order, records)
    if spec is not None and metadata is not None:
        from bot.analysis.keras.graph import graph_from_config

        report.graph = graph_from_config(metadata.root.get("model_config"), report.layers)
    report.params = params_from_records(records) if found else None
    training = metadata.root.get("training_config") if metadata else None
    training = training if isinstance(training, dict) else None
    if found and (found.optimizer or training):
        report.optimizer = optimizer_info(training.get("optimizer_config") if training else None,
                                          opt_records, found.iterations)
        if report.optimizer is not None:
            report.optimizer.class_name = report.optimizer.class_name or optimizer_class_from_slots(found)
            if report.optimizer.learning_rate is None:
                report.optimizer.learning_rate = found.learning_rate
    if training:
        report.training = training_info(training.get("loss"), training.get("metrics"))
    report.contents = Contents(architecture=spec is not None, weights=bool(records),
                               optimizer_state=bool(found and found.optimizer),
                               training_config=training is not None)
    if found:
        extra = sum(len(b) for b in (pb_bytes or b"", meta_bytes or b""))
        total = total_bytes(found)
        report.size_breakdown = size_breakdown(None if total is None else total + extra, records, opt_records)
        if found.duplicates_dropped:
            report.warn("export-duplicates", f"Keras 3 export() stores every variable twice "
                        f"(`variables/` and `_all_variables/`); I counted each once "
                        f"({found.duplicates_dropped} duplicates skipped).")
    report.format_detail = _detail(graph, metadata)
    return report  # the reload advice is the advisor's (bot/analysis/advice), from format_detail


def _describe_keras_model(metadata: KerasMetadata, report: Report):  # type: ignore[no-untyped-def]
    from bot.analysis.keras.config_walk import describe_model

    root = metadata.root
    report.keras_version = str(root["keras_version"]) if root.get("keras_version") else None
    report.backend = str(root["backend"]) if root.get("backend") else None
    config = root.get("model_config")
    if not isinstance(config, dict):
        return None
    try:
        spec = describe_model(config)
    except ValueError:
        return None
    report.model = model_info(spec)
    add_model_findings(report, spec)
    return spec


def _records(found: BundleVariables, metadata: KerasMetadata | None, report: Report) -> list[WeightRecord]:
    """Weights grouped by layer name, trainable from keras_metadata, the export, slots or names."""
    if metadata is None:
        decided = trainable_from_graph_or_slots(found)
        if decided is not None:
            return weight_records(found, dict(decided[0]))
        report.warn("trainable-inferred", "This SavedModel stores no trainable flags: the trainable "
                    "split comes from variable names (BatchNormalization statistics and similar state).")
        return weight_records(found, {v.key: not is_state_variable(v) for v in found.weights})
    names: dict[str, str] = {}
    trainable: dict[str, bool | None] = {}
    for var in found.weights:
        group = layer_group(var)
        node = metadata.nodes.get("root." + group.replace("/", "."), {})
        if isinstance(node.get("name"), str):
            names[group] = node["name"]
        trainable[var.key] = _node_trainable(metadata, var) and not is_state_variable(var)
    return weight_records(found, trainable, names)


def _keras_layer_order(spec: Any, metadata: KerasMetadata) -> list[tuple[str, str, bool | None]]:
    """model.layers order from the config; trainable from the layer's own metadata node when present.

    The node JSON carries the live `layer.trainable`; a config may omit it for nested models.
    """
    live = {node.get("name"): node.get("trainable") for path, node in metadata.nodes.items()
            if path.count(".") == 1 and isinstance(node.get("trainable"), bool)}
    return [(l.name, l.class_name, live.get(l.name, l.trainable)) for l in spec.layers]


def _node_trainable(metadata: KerasMetadata, var: Variable) -> bool:
    """False when the variable's layer or any enclosing model node says `trainable: false`."""
    parts = var.object_path.split("/")
    for depth in range(len(parts) + 1):
        node = metadata.nodes.get(".".join(["root", *parts[:depth]]))
        if node is not None and node.get("trainable") is False:
            return False
    return True


def _detail(graph: GraphSummary | None, metadata: KerasMetadata | None) -> str:
    writer = ("tf.keras/tf_keras model.save() (keras_metadata.pb)" if metadata is not None
              else "no keras_metadata.pb: Keras 3 export(), tf.saved_model.save or tf.keras < 2.5")
    parts = [writer]
    if graph is not None:
        if graph.tensorflow_version:
            parts.append(f"TensorFlow {graph.tensorflow_version}")
        if graph.tags:
            parts.append("tags " + ", ".join(graph.tags))
        serving = [n for n in graph.signatures if not n.startswith("__")]
        if serving:
            parts.append("signatures " + ", ".join(serving))
        default = graph.signatures.get("serving_default")
        if default:
            parts.append("serving_default " + _io_text(default[0]) + " → " + _io_text(default[1]))
    return "; ".join(parts)


def _io_text(items: list[dict[str, Any]]) -> str:
    def one(i: dict[str, Any]) -> str:
        shape = "?" if i["shape"] is None else "(" + ", ".join("None" if d is None else str(d)
                                                              for d in i["shape"]) + ")"
        return f"{i['name']} {shape} {i['dtype']}"
    return ", ".join(one(i) for i in items) or "nothing"
