"""What `ckptbot diff` and `ckptbot check` answer: the JSON contract of both commands.

`DiffReport.to_dict()` / `CheckReport.to_dict()` are what `--json` prints; README.md ("`diff`, `check` and the reload advice")
describes every field.  Like the Report, a result never raises for bad input: `error` says
what went wrong with either file (then the comparison fields stay empty).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bot.report import ReportError

DIFF_SCHEMA_VERSION = 1
CHECK_SCHEMA_VERSION = 1
VERDICTS = ("loads", "loads-with-skips", "fails")


@dataclass
class FileRef:
    """One side of a comparison, as the Report described it."""

    name: str
    uri: str
    format: str
    keras_version: str | None = None
    params: int | None = None
    steps_trained: int | None = None


# --- diff ----------------------------------------------------------------------------------------------

@dataclass
class WeightChange:
    """One weight present on both sides whose shape or dtype differs, or that exists on one side only."""

    layer: str
    weight: str
    change: str  # "added" | "removed" | "reshaped" | "dtype-changed"
    shape_a: list[int] | None = None
    shape_b: list[int] | None = None
    dtype_a: str | None = None
    dtype_b: str | None = None


@dataclass
class LayerChange:
    change: str  # "added" | "removed" | "renamed" | "class-changed"
    name_a: str | None = None
    name_b: str | None = None
    class_a: str | None = None
    class_b: str | None = None
    params_a: int | None = None
    params_b: int | None = None


@dataclass
class ValueDelta:
    """`--values`: how far one weight moved between A and B (compared chunk by chunk)."""

    layer: str
    weight: str
    max_abs_diff: float | None
    mean_abs_diff: float | None
    equal: bool
    elements: int
    note: str | None = None


@dataclass
class DiffReport:
    a: FileRef | None = None
    b: FileRef | None = None
    same_architecture: bool | None = None
    changes: list[str] = field(default_factory=list)  # one human sentence per headline change
    layers: list[LayerChange] = field(default_factory=list)
    weights: list[WeightChange] = field(default_factory=list)
    params_delta: int | None = None
    steps_delta: int | None = None
    values: list[ValueDelta] | None = None  # only with --values
    values_note: str | None = None
    error: ReportError | None = None
    schema_version: int = DIFF_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}


# --- check ---------------------------------------------------------------------------------------------

@dataclass
class LayerCheck:
    """One layer of the target model (or one unused group of the file) and what loading does to it."""

    layer: str  # model layer name, or the file's layer for "ignored"
    status: str  # "loads" | "missing" | "ignored" | "count-mismatch" | "shape-mismatch"
    saved_as: str | None = None  # the file's layer/group it pairs with
    detail: str = ""


@dataclass
class CheckReport:
    weights: FileRef | None = None
    against: FileRef | None = None
    keras: str = ""  # whose loading rules were applied ("Keras 3", "tf-keras")
    rule: str = ""  # "by-path", "topological", "object-graph"
    call: str = ""  # the call those rules describe, e.g. "model.load_weights('w.weights.h5')"
    verdict: str | None = None  # one of VERDICTS; None with an error
    reason: str = ""
    keras_error: str | None = None  # for "fails": the message Keras raises (its words)
    layers: list[LayerCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: ReportError | None = None
    schema_version: int = CHECK_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}
