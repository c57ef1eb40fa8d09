"""Names and trainability of the `vars/N` of quantized and LoRA layers in a v3 weights tree.

The plain case (a float Dense: kernel, bias) stays in v3_weights; this module answers only for
layers whose config or layout says quantized (quantization.py) or LoRA (lora.py), and returns
None otherwise so the caller falls back to the plain rules.
"""

from __future__ import annotations

from typing import Any

from bot.analysis.keras import lora, quantization
from bot.analysis.keras.assemble import WeightRecord
from bot.report import QuantizationInfo, Report

# Classes whose layout we read without a config (weights-only files, sub-layers of KerasHub blocks).
_LAYOUT_CLASSES = frozenset({"Dense", "EinsumDense", "Embedding", "unknown"})


def own_records(tree: Any, own: list[tuple[str, Any]], layer: Any, top: str, cls: str, trainable: bool,
                prefix: str) -> list[WeightRecord] | None:
    config: dict[str, Any] = layer.config if layer is not None else {}
    metas = [v for _, v in own]
    mode = quantization.policy_mode(config.get("dtype")) if layer is not None else None
    if mode is None and layer is not None:
        mode = tree.policy_map.get(layer.path) or tree.policy_map.get(layer.name)
    if mode is None and layer is None and cls in _LAYOUT_CLASSES and metas:
        mode = quantization.layout_mode(cls, metas)
    rank = lora.lora_rank(cls, config)
    if mode is not None:
        out = _quantized(own, mode, cls, top, trainable, prefix, tree.writer_version, rank)
        if out is not None and rank is not None:  # QLoRA: adapters on the unpacked kernel, re-created on load
            kernel = next((r for r in out if r.name.rsplit("/", 1)[-1] in ("kernel", "embeddings")), None)
            if kernel is not None:
                for name, shape in lora.adapter_shapes(cls, rank, kernel.logical_shape or kernel.shape):
                    out.append(WeightRecord(top, f"{prefix}/{name}", shape, "float32", 0, trainable,
                                            quantization=mode, lora_rank=rank, in_file=False))
        return out
    if rank is not None:
        return _lora(own, rank, cls, top, trainable, prefix)
    return None


def _quantized(own: list[tuple[str, Any]], mode: str, cls: str, top: str, trainable: bool, prefix: str,
               writer_version: str | None, rank: int | None) -> list[WeightRecord] | None:
    metas = [v for _, v in own]
    names = quantization.var_names(cls, mode, metas)
    if names is None:
        return None
    keep = quantization.trainable_names(mode)
    packed_rows = quantization.packs_rows(writer_version)
    shapes = {n: v.shape for n, v in zip(names, metas)}
    out = []
    for name, var in zip(names, metas):
        logical = quantization.logical_shape(mode, name, shapes, packed_rows, None)
        is_kernel = name in ("kernel", "embeddings", "quantized_kernel")
        out.append(WeightRecord(
            top, f"{prefix}/{name}", var.shape, var.dtype, var.nbytes,
            trainable and (keep is None or name in keep), quantization=mode,
            logical_shape=logical if logical is not None and logical != var.shape else None,
            float32_bytes=_f32(logical or var.shape) if is_kernel or name == "bias" else None,
        ))
    return out


def _lora(own: list[tuple[str, Any]], rank: int, cls: str, top: str, trainable: bool,
          prefix: str) -> list[WeightRecord]:
    out = []
    kernel_shape: list[int] = []
    base = ["embeddings"] if cls == "Embedding" else ["kernel", "bias"]
    for i, (_, var) in enumerate(own):
        name = base[i] if i < len(base) else f"vars/{i}"
        if i == 0:
            kernel_shape = var.shape
        out.append(WeightRecord(top, f"{prefix}/{name}", var.shape, var.dtype, var.nbytes,
                                trainable and name not in lora.FROZEN_WHEN_LORA, lora_rank=rank))
    dtype = own[0][1].dtype if own else "float32"
    for name, shape in lora.adapter_shapes(cls, rank, kernel_shape):
        out.append(WeightRecord(top, f"{prefix}/{name}", shape, dtype, 0, trainable, lora_rank=rank, in_file=False))
    return out


def _f32(shape: list[int]) -> int:
    n = 4
    for d in shape:
        n *= int(d)
    return n


def summarize(report: Report, records: list[WeightRecord]) -> None:
    """report.quantization and the sentences about quantized and LoRA layers."""
    quantized = [l for l in report.layers if l.quantization]
    if quantized:
        modes = {quantization.base_mode(l.quantization) for l in quantized}
        mode = modes.pop() if len(modes) == 1 and "mixed" not in modes else "mixed"
        report.quantization = QuantizationInfo(mode=mode or "mixed", layers=len(quantized))
        q_recs = [r for r in records if r.quantization]
        stored = sum(r.nbytes for r in q_recs)
        f32 = sum(r.float32_bytes or r.nbytes for r in q_recs)
        classes = sorted({l.class_name for l in quantized})
        candidates = [l for l in report.layers if l.class_name in classes]
        head = f"{mode}-quantized: {len(quantized)} of {len(candidates)} {'/'.join(classes)} layers"
        if mode == "float8":
            tail = ("float8 layers keep float32 kernels plus trainable scales and amax histories (quantized on "
                    f"the fly), so the file is larger than unquantized: {_kb(stored)}")
        else:
            tail = (f"their weights take {_kb(stored)} instead of ~{_kb(f32)} in float32; quantized kernels, "
                    "scales and zero points are non-trainable (only biases train)")
        report.warn("quantized", f"{head}; {tail}. Parameters count stored elements, as Keras does.")
        if mode == "gptq" and any(r.quantization and r.name.endswith("/g_idx") for r in q_recs) and not any(
                r.name.endswith("/kernel_zero") for r in q_recs):
            report.warn("gptq-missing-zero-point", "The GPTQ layers were saved without `kernel_zero` (a Keras "
                        "3.15.1 saving bug): Keras 3.15.1 itself refuses the file (\"expected 5 variables, but "
                        "received 4 variables during loading\"). Re-quantize from the float model, or save from "
                        "a Keras with the fix.")
    lora_layers = [l for l in report.layers if l.lora_rank]
    if lora_layers:
        ranks = ", ".join(f"{l.name} (rank {l.lora_rank})" for l in lora_layers[:6])
        report.warn("lora-merged", f"LoRA layers: {ranks}. The file holds the merged kernels, not the adapters: "
                    "Keras re-creates zero adapters on load and freezes the kernel, so the counts include "
                    "them (as live Keras reports) and fine-tuning starts from the merged weights.")


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MB"
