"""The one-line verdict and the few phrases every renderer shares (terminal, Slack, JSON consumers).

"Full model · legacy HDF5 by Keras 2.0.5 · Adam state after 92,494 steps"
"""

from __future__ import annotations

from bot.messages import human_bytes, human_int
from bot.report import Report

FORMAT_NAMES = {
    "keras-h5-model": "legacy HDF5",
    "keras-h5-weights": "legacy HDF5 weights",
    "keras-v3-archive": ".keras archive",
    "keras-v3-weights": "Keras 3 .weights.h5",
    "keras-v3-sharded-weights": "sharded Keras 3 weights",
    "tf-savedmodel": "TensorFlow SavedModel",
    "tf-checkpoint": "TensorFlow checkpoint",
    "onnx": "ONNX model",
    "tflite": "TensorFlow Lite model",
    "safetensors": "safetensors file",
    "pytorch": "PyTorch file",
    "keras-hub-preset": "KerasHub preset",
    "keras-hub-lora": "KerasHub LoRA adapters",
    "orbax-checkpoint": "Orbax checkpoint",
}

KIND = {
    "keras-h5-model": "Full model (model.save)",
    "keras-v3-archive": "Full model (model.save)",
    "tf-savedmodel": "SavedModel",
    "keras-h5-weights": "Weights only (model.save_weights)",
    "keras-v3-weights": "Weights only (model.save_weights)",
    "keras-v3-sharded-weights": "Weights only (model.save_weights, sharded)",
    "tf-checkpoint": "Weights only (TF checkpoint)",
    "keras-hub-preset": "KerasHub preset (save_to_preset)",
    "keras-hub-lora": "LoRA adapters only (save_lora_weights)",
    "orbax-checkpoint": "Training checkpoint (OrbaxCheckpoint)",
}


def writer(report: Report) -> str | None:
    if report.keras_version:
        v = report.keras_version
        return f"Keras {v}" + (f" ({report.backend})" if report.backend and not v.startswith("2.") else "")
    return None


def verdict(report: Report) -> str:
    if report.error is not None:
        return f"Not a model: {report.error.message}"
    kind = KIND.get(report.format, "Model file")
    fmt = FORMAT_NAMES.get(report.format, report.format)
    who = writer(report)
    parts = [kind, f"{fmt} by {who}" if who else fmt]
    opt = report.optimizer
    if report.contents.optimizer_state and opt is not None:
        name = opt.class_name or "optimizer"
        steps = f" after {human_int(opt.iterations)} steps" if opt.iterations is not None else ""
        parts.append(f"{name} state{steps}")
    elif report.contents.weights and report.format.startswith(("keras", "tf-")):
        parts.append("no optimizer state")
    return " · ".join(parts)


def params_line(report: Report) -> str | None:
    p = report.params
    if p is None:
        return None
    if p.trainable is None:
        return f"{human_int(p.total)} parameters"
    return (f"{human_int(p.total)} parameters ({human_int(p.trainable)} trainable, "
            f"{human_int(p.non_trainable)} non-trainable)")


def size_line(report: Report) -> str | None:
    size = report.source.size_bytes
    sb = report.size_breakdown
    if size is None:
        return None
    if sb is None:
        return human_bytes(size)
    parts = [f"weights {human_bytes(sb.weights_bytes)}"]
    if sb.optimizer_bytes:
        parts.append(f"optimizer state {human_bytes(sb.optimizer_bytes)}")
    parts.append(f"config and overhead {human_bytes(sb.other_bytes)}")
    return f"{human_bytes(size)}: " + ", ".join(parts)


def layer_types_line(report: Report, limit: int = 8) -> str | None:
    from collections import Counter

    counts = Counter(l.class_name for l in report.layers)
    if not counts:
        return None
    items = [f"{n} {c}" for c, n in counts.most_common()]
    more = f", +{len(items) - limit} more types" if len(items) > limit else ""
    return f"{len(report.layers)} layers: " + ", ".join(items[:limit]) + more


def optimizer_line(report: Report) -> str | None:
    opt, tr = report.optimizer, report.training
    bits = []
    if opt is not None and opt.class_name:
        lr = f", learning rate {opt.learning_rate:g}" if opt.learning_rate is not None else ""
        bits.append(f"{opt.class_name}{lr}")
    if tr is not None and tr.loss is not None:
        bits.append(f"loss {tr.loss}")
    if tr is not None and tr.metrics:
        bits.append("metrics " + ", ".join(map(str, tr.metrics)))
    return " · ".join(bits) or None
