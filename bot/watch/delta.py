"""What changed between two checkpoints of the same run, from their Reports alone.

The watcher keeps a small `Snapshot` of the last checkpoint it announced per run (in Redis, so
replicas and restarts share it) and compares the next one with it: steps trained since (the
optimizer's `iterations` counter), parameter count, file size, layers added, removed or
reshaped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from bot.messages import human_bytes, human_int
from bot.report import Report

# Layer names listed in a "layers changed" phrase before it says "and N more".
MAX_LAYERS_NAMED = 5


@dataclass(frozen=True)
class Snapshot:
    name: str
    iterations: int | None
    params: int | None
    size_bytes: int | None
    layers: dict[str, str] = field(default_factory=dict)  # layer name -> "Class:params"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        d = json.loads(text)
        return cls(name=d["name"], iterations=d.get("iterations"), params=d.get("params"),
                   size_bytes=d.get("size_bytes"), layers=dict(d.get("layers") or {}))


def snapshot_of(report: Report, name: str) -> Snapshot:
    opt = report.optimizer
    return Snapshot(
        name=name,
        iterations=opt.iterations if opt is not None else None,
        params=report.params.total if report.params is not None else None,
        size_bytes=report.source.size_bytes,
        layers={layer.name: f"{layer.class_name}:{layer.params}" for layer in report.layers},
    )


@dataclass(frozen=True)
class Delta:
    previous: str                 # the earlier checkpoint's file name
    steps_since: int | None       # None when either file has no optimizer step counter
    params_before: int | None
    params_after: int | None
    size_change: int | None
    layers_added: list[str]
    layers_removed: list[str]
    layers_changed: list[str]

    @property
    def params_changed(self) -> bool:
        return self.params_before != self.params_after

    def sentence(self) -> str:
        """One line for the announcement, e.g.
        "Since ckpt-0003.keras: 4 steps trained · parameters unchanged (58) · size +0 B · same layers"."""
        parts = [self._steps_phrase(), self._params_phrase()]
        if self.size_change is not None:
            sign = "+" if self.size_change >= 0 else "−"
            parts.append(f"size {sign}{human_bytes(abs(self.size_change))}")
        parts.append(self._layers_phrase())
        return f"Since {self.previous}: " + " · ".join(parts)

    def _steps_phrase(self) -> str:
        if self.steps_since is None:
            return "steps unknown (no optimizer state in one of them)"
        if self.steps_since < 0:
            return f"optimizer step went back by {human_int(-self.steps_since)} (restarted from an earlier checkpoint?)"
        return f"{human_int(self.steps_since)} steps trained"

    def _params_phrase(self) -> str:
        if not self.params_changed:
            return f"parameters unchanged ({human_int(self.params_after)})"
        return f"parameters changed {human_int(self.params_before)} → {human_int(self.params_after)}"

    def _layers_phrase(self) -> str:
        if not (self.layers_added or self.layers_removed or self.layers_changed):
            return "same layers"
        parts = []
        for label, names in (("added", self.layers_added), ("removed", self.layers_removed),
                             ("reshaped", self.layers_changed)):
            if names:
                shown = ", ".join(names[:MAX_LAYERS_NAMED])
                more = f" and {len(names) - MAX_LAYERS_NAMED} more" if len(names) > MAX_LAYERS_NAMED else ""
                parts.append(f"layers {label}: {shown}{more}")
        return "; ".join(parts)


def delta_between(previous: Snapshot, current: Snapshot) -> Delta:
    steps = None
    if previous.iterations is not None and current.iterations is not None:
        steps = current.iterations - previous.iterations
    size = None
    if previous.size_bytes is not None and current.size_bytes is not None:
        size = current.size_bytes - previous.size_bytes
    before, after = previous.layers, current.layers
    return Delta(
        previous=previous.name,
        steps_since=steps,
        params_before=previous.params,
        params_after=current.params,
        size_change=size,
        layers_added=[n for n in after if n not in before],
        layers_removed=[n for n in before if n not in after],
        layers_changed=[n for n in after if n in before and before[n] != after[n]],
    )
