"""What the reload advice needs to know about a file, read from its Report only."""

from __future__ import annotations

import re

from bot.report import Report


def writer_version(report: Report) -> tuple[int, ...]:
    parts = re.findall(r"\d+", report.keras_version or "")[:3]
    return tuple(int(p) for p in parts)


def writer_of(report: Report) -> str:
    """'k3', 'k213' (2.13/2.14 v3 layout), 'k2', 'k1' or 'unknown'."""
    v = writer_version(report)
    if v[:1] == (3,):
        return "k3"
    if "_layer_checkpoint_dependencies" in (report.format_detail or "") or v[:2] in ((2, 13), (2, 14)) \
            and report.format.startswith("keras-v3"):
        return "k213"
    if v[:1] == (2,) or "Keras 2" in (report.format_detail or ""):
        return "k2"
    if v[:1] in ((0,), (1,)):
        return "k1"
    return "unknown"


def custom_names(report: Report) -> list[str]:
    names: list[str] = []
    for w in report.warnings:
        if w.code == "custom-object" and w.message.count("`") >= 2:
            name = w.message.split("`", 2)[1]
            if name not in names:
                names.append(name)
    return names


def has_finding(report: Report, code: str) -> bool:
    return any(w.code == code for w in report.warnings)


def string_losses(report: Report) -> list[str]:
    loss = report.training.loss if report.training else None
    items = loss.values() if isinstance(loss, dict) else loss if isinstance(loss, list) else [loss]
    return [x for x in items if isinstance(x, str)]


def layer_classes(report: Report) -> set[str]:
    return {l.class_name for l in report.layers}


def has_bfloat16(report: Report) -> bool:
    return any(w.dtype == "bfloat16" for l in report.layers for w in l.weights)


def is_keras0_layout(report: Report) -> bool:
    return any(w.code == "trainable-inferred" and "Keras 0.x" in w.message for w in report.warnings)


def is_keras_checkpoint(report: Report) -> bool:
    return "Keras model" in (report.format_detail or "") and report.source.uri.endswith(".index")
