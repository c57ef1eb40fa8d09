"""The Report: the one contract between analysis, cache, and every renderer.

`schema_version` changes whenever a field changes meaning or disappears; new optional
fields may be added without a bump.  `Report.to_dict()` is the JSON that `ckptbot inspect
--json` prints and that the cache stores, and `Report.from_dict()` reads it back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from bot.error_codes import ErrorCode

SCHEMA_VERSION = 1

FORMATS = (
    "keras-h5-model",
    "keras-h5-weights",
    "keras-v3-archive",
    "keras-v3-weights",
    "keras-v3-sharded-weights",
    "keras-hub-preset",
    "keras-hub-lora",
    "orbax-checkpoint",
    "tf-savedmodel",
    "tf-checkpoint",
    "onnx",
    "tflite",
    "safetensors",
    "pytorch",
    "numpy",
    "not-a-model",
)


@dataclass
class SourceInfo:
    name: str
    uri: str
    size_bytes: int | None = None


@dataclass
class Contents:
    architecture: bool = False
    weights: bool = False
    optimizer_state: bool = False
    training_config: bool = False


@dataclass
class ModelInfo:
    class_name: str
    name: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Params:
    total: int
    trainable: int | None = None
    non_trainable: int | None = None


@dataclass
class WeightInfo:
    name: str
    shape: list[int]
    dtype: str


@dataclass
class LayerInfo:
    name: str
    class_name: str
    params: int
    weights: list[WeightInfo] = field(default_factory=list)
    trainable: bool | None = None
    # v3 files only: the layer's group in the weights file ("layers/dense_1"); Keras 3 loads by it.
    path: str | None = None
    # Keras 3 quantization mode ("int8", "int4/128", "float8", "gptq/4/128", "awq/…", "mixed"), or None.
    quantization: str | None = None
    # LoRA rank from the layer config (`enable_lora(rank)`), or None.
    lora_rank: int | None = None


@dataclass
class QuantizationInfo:
    """Model-level summary of Keras 3 quantization: one mode, or "mixed", and how many layers use it."""

    mode: str  # "int8" | "int4" | "float8" | "gptq" | "awq" | "mixed"
    layers: int


@dataclass
class TokenizerInfo:
    class_name: str
    vocabulary_size: int | None = None


@dataclass
class PresetInfo:
    """A KerasHub preset (keras_hub/src/utils/preset_utils.py): what `from_preset` builds from it."""

    backbone: str
    tasks: list[str] = field(default_factory=list)
    keras_hub_version: str | None = None
    tokenizer: TokenizerInfo | None = None
    metadata_parameter_count: int | None = None


@dataclass
class OptimizerInfo:
    class_name: str | None
    iterations: int | None
    learning_rate: float | None
    state_bytes: int
    # Number of scalar values in the optimizer's variables: what Keras 3's summary()
    # adds to "Total params" as "Optimizer params".
    variables: int = 0
    params: int = 0


@dataclass
class TrainingInfo:
    loss: Any = None
    metrics: list[Any] = field(default_factory=list)


@dataclass
class SizeBreakdown:
    weights_bytes: int
    optimizer_bytes: int
    other_bytes: int


@dataclass
class Finding:
    code: str
    message: str


@dataclass
class ReloadOption:
    """One way to load the file in one Keras, with the reason it works and its caveats."""

    keras: str
    python: str
    works: bool
    purpose: str = ""
    caveats: list[str] = field(default_factory=list)
    # works=False: the text the Keras named in `keras` raises (a verbatim part of its message).
    error: str | None = None
    # Machine-readable loader: "keras3", "tf_keras", "tensorflow" or "tf2.13" (TensorFlow 2.13/2.14).
    loader: str = ""
    # The lines of `python` that do the loading, runnable as they are once `model` is built
    # (build_first) and the custom classes named in the caveats are imported.
    load: str = ""
    # The user must build the architecture (`model = build_model()`) before `load` runs.
    build_first: bool = False
    # Whether the optimizer state in the file ends up in `model.optimizer` (resume training).
    restores_optimizer: bool = False


@dataclass
class Reload:
    summary: str
    python: str
    options: list[ReloadOption] = field(default_factory=list)


@dataclass
class GraphNode:
    """One layer of the architecture graph (bot/analysis/keras/graph.py builds them from the config)."""

    id: str  # unique within the graph: the layer's path ("inner/in_d" inside nested model "inner")
    name: str  # the layer's name as Keras reports it
    class_name: str
    parent: str | None = None  # id of the nested model node this layer sits in (None: top level)
    output_shape: list[Any] | None = None  # None: the file does not say and it cannot be derived
    params: int | None = None
    is_group: bool = False  # a nested model: drawn as a collapsible group around its own layers


@dataclass
class GraphEdge:
    source: str  # GraphNode.id
    target: str


@dataclass
class Graph:
    # "functional" / "sequential": connections from the config; "order-only": a weights-only file,
    # the layers in stored order with no connections (the file does not record any).
    kind: str
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)


@dataclass
class SecurityFinding:
    """One reason the file is not clean: `where` is the config path or HDF5 path, `exposed` the loaders hit."""

    code: str
    cve: list[str]
    where: str
    message: str
    exposed: list[str] = field(default_factory=list)


@dataclass
class Security:
    """The verdict on loading the file: "clean", "needs-trust" or "dangerous", with its reasons."""

    verdict: str = "clean"
    findings: list[SecurityFinding] = field(default_factory=list)


@dataclass
class ReportError:
    code: str
    message: str


@dataclass
class Report:
    source: SourceInfo
    format: str
    contents: Contents = field(default_factory=Contents)
    keras_version: str | None = None
    backend: str | None = None
    model: ModelInfo | None = None
    params: Params | None = None
    layers: list[LayerInfo] = field(default_factory=list)
    optimizer: OptimizerInfo | None = None
    training: TrainingInfo | None = None
    size_breakdown: SizeBreakdown | None = None
    warnings: list[Finding] = field(default_factory=list)
    reload: Reload = field(default_factory=lambda: Reload(summary="", python=""))
    error: ReportError | None = None
    # Short human description of the format variant ("Keras 2.13/2.14 layout", "sharded in 3 files").
    format_detail: str | None = None
    quantization: QuantizationInfo | None = None
    preset: PresetInfo | None = None
    # The architecture graph (layers and connections); None for formats without layers.
    graph: Graph | None = None
    security: Security | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def is_model(self) -> bool:
        return self.format != "not-a-model"

    @classmethod
    def for_error(cls, reference: str, code: ErrorCode | str, message: str | None = None) -> "Report":
        """The answer when there is no model to describe: the code and its sentence (bot.messages)."""
        from bot import messages

        code = ErrorCode(code)
        name = reference.rstrip("/").rsplit("/", 1)[-1] or reference
        return cls(source=SourceInfo(name=name, uri=reference), format="not-a-model",
                   error=ReportError(code.value, message or messages.error_message(code)))

    def warn(self, code: str, message: str) -> None:
        if not any(w.code == code and w.message == message for w in self.warnings):
            self.warnings.append(Finding(code, message))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # schema_version first: it is the first thing a reader of the JSON needs.
        return {"schema_version": d.pop("schema_version"), **d}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        def opt(klass, v):
            return None if v is None else klass(**v)

        reload = d.get("reload") or {"summary": "", "python": ""}
        return cls(
            schema_version=d.get("schema_version", SCHEMA_VERSION),
            source=SourceInfo(**d["source"]),
            format=d["format"],
            contents=Contents(**d.get("contents", {})),
            keras_version=d.get("keras_version"),
            backend=d.get("backend"),
            model=opt(ModelInfo, d.get("model")),
            params=opt(Params, d.get("params")),
            layers=[
                LayerInfo(**{**l, "weights": [WeightInfo(**w) for w in l.get("weights", [])]})
                for l in d.get("layers", [])
            ],
            quantization=opt(QuantizationInfo, d.get("quantization")),
            preset=_preset_from_dict(d.get("preset")),
            optimizer=opt(OptimizerInfo, d.get("optimizer")),
            training=opt(TrainingInfo, d.get("training")),
            size_breakdown=opt(SizeBreakdown, d.get("size_breakdown")),
            warnings=[Finding(**w) for w in d.get("warnings", [])],
            reload=Reload(
                summary=reload["summary"],
                python=reload["python"],
                options=[ReloadOption(**o) for o in reload.get("options", [])],
            ),
            error=opt(ReportError, d.get("error")),
            format_detail=d.get("format_detail"),
            graph=_graph_from_dict(d.get("graph")),
            security=_security_from_dict(d.get("security")),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "Report":
        return cls.from_dict(json.loads(text))


def _preset_from_dict(d: dict[str, Any] | None) -> PresetInfo | None:
    if d is None:
        return None
    tok = d.get("tokenizer")
    return PresetInfo(**{**d, "tokenizer": TokenizerInfo(**tok) if tok else None})


def _graph_from_dict(d: dict[str, Any] | None) -> Graph | None:
    if not d:
        return None
    return Graph(kind=d["kind"], nodes=[GraphNode(**n) for n in d.get("nodes", [])],
                 edges=[GraphEdge(**e) for e in d.get("edges", [])])


def _security_from_dict(d: dict[str, Any] | None) -> Security | None:
    if d is None:
        return None
    return Security(verdict=d.get("verdict", "clean"),
                    findings=[SecurityFinding(**f) for f in d.get("findings", [])])
