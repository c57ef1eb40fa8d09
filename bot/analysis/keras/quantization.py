"""Keras 3 quantized layers: which mode a layer is in and what each positional `vars/N` holds.

Facts (keras/src/layers/core/dense.py, einsum_dense.py, embedding.py `variable_serialization_spec`,
keras/src/dtype_policies/dtype_policy.py; observed with Keras 3.15.1, tests/fixtures/keras2026):
variable names are not stored, so the order of the spec for the layer's mode names them; entries
the layer lacks (no bias, per-channel int4 without zero point / g_idx) are skipped.  After
`load_model`, live Keras counts every stored element; int8/int4/GPTQ/AWQ kernels, scales and zero
points are non-trainable (only the bias trains), float8 scales and amax histories are trainable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.analysis.json_fields import sub_dict

# dtype-policy classes whose config `mode` names a quantization ("int8", "int4/128", "gptq/4/128").
QUANTIZED_POLICIES = frozenset({"QuantizedDTypePolicy", "Int4DTypePolicy", "QuantizedFloat8DTypePolicy",
                                "GPTQDTypePolicy", "AWQDTypePolicy"})
MODES = ("int8", "int4", "float8", "gptq", "awq")

_DENSE_SPEC = {
    "int8": ("kernel", "bias", "kernel_scale"),
    "int4": ("kernel", "bias", "kernel_scale", "kernel_zero", "g_idx"),
    "float8": ("kernel", "bias", "inputs_scale", "inputs_amax_history", "kernel_scale", "kernel_amax_history",
               "outputs_grad_scale", "outputs_grad_amax_history"),
    "gptq": ("bias", "quantized_kernel", "kernel_scale", "kernel_zero", "g_idx"),
    "awq": ("bias", "quantized_kernel", "kernel_scale", "kernel_zero", "awq_scales", "g_idx"),
}
_EMBEDDING_SPEC = {
    "int8": ("embeddings", "embeddings_scale"),
    "int4": ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx"),
}
# float8 keeps training its scaling state (observed: every float8 variable is trainable after load).
_TRAINABLE = {"int8": {"bias"}, "int4": {"bias"}, "gptq": {"bias"}, "awq": {"bias"}, "float8": None}


@dataclass
class VarMeta:
    shape: list[int]
    dtype: str


def policy_mode(dtype: Any) -> str | None:
    """'int8', 'int4/128', 'gptq/4/128', 'float8' from a layer's serialized `dtype`, else None."""
    if isinstance(dtype, dict) and dtype.get("class_name") in QUANTIZED_POLICIES:
        cfg = sub_dict(dtype, "config")
        mode = cfg.get("mode")
        if isinstance(mode, str) and mode.split("/", 1)[0] in MODES:
            return mode
        return {"QuantizedFloat8DTypePolicy": "float8", "Int4DTypePolicy": "int4"}.get(dtype["class_name"], "int8")
    if isinstance(dtype, str) and dtype.split("_from_", 1)[0].split("/", 1)[0] in MODES and "_from_" in dtype:
        return dtype.split("_from_", 1)[0]  # policy names such as "int8_from_float32"
    return None


def policy_map(dtype: Any) -> dict[str, str]:
    """A model-level `DTypePolicyMap` (KerasHub): {layer path: mode} for its quantized entries."""
    if not (isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicyMap"):
        return {}
    entries = sub_dict(sub_dict(dtype, "config"), "policy_map")
    out = {}
    for path, pol in entries.items():
        mode = policy_mode(pol)
        if mode:
            out[str(path)] = mode
    return out


def base_mode(mode: str | None) -> str | None:
    return mode.split("/", 1)[0] if mode else None


def layout_mode(cls: str, own: list[VarMeta]) -> str | None:
    """The mode a weights group's layout gives away when no config says it (weights-only files)."""
    n = len(own)
    dtypes = [v.dtype for v in own]
    if "uint8" in dtypes[:2]:
        return "awq" if n == 6 or (n == 5 and dtypes[0] == "uint8") else "gptq"
    one_d = [v for v in own if len(v.shape) == 1]
    if n in (7, 8) and sum(1 for v in own if not v.shape) == 3 and len(one_d) >= 3:
        return "float8"
    if not own or dtypes[0] != "int8" or len(own[0].shape) < 2:
        return None
    if "int8" in dtypes[1:] or n >= 4:
        return "int4"
    scale = own[-1]
    if scale.shape and own[0].shape[-1] * 2 in (scale.shape[-1], scale.shape[-1] + 1) and cls != "Embedding":
        return "int4"  # per-channel int4 from Keras >= 3.14: columns packed two per byte
    return "int8"


def var_names(cls: str, mode: str, own: list[VarMeta]) -> list[str] | None:
    """Names for `vars/0..n` of a layer in `mode`, or None when the count fits no known layout."""
    b = base_mode(mode) or ""
    n = len(own)
    if cls == "Embedding" or (cls == "unknown" and b in ("int8", "int4") and _looks_embedding(own)):
        spec = _EMBEDDING_SPEC.get(b)
        if spec is None:
            return None
        return list(spec[:n]) if n in (2, len(spec)) else None
    spec = _DENSE_SPEC.get(b)
    if spec is None:
        return None
    without_bias = [s for s in spec if s != "bias"]
    bases = [list(spec), without_bias]
    if b in ("gptq", "awq") and n > 1:  # the bias leads; the packed kernel is the first uint8 variable
        bases = [without_bias] if own[0].dtype == "uint8" else [list(spec)]
    candidates = list(bases)
    for base in bases:  # optional parts absent (per-channel int4)
        candidates.append([s for s in base if s not in ("kernel_zero", "g_idx")])
        # Keras 3.15.1 GPTQ saves skip kernel_zero (its save branch reads a merged value that is None for gptq).
        candidates.append([s for s in base if s != "kernel_zero"])
    for names in candidates:
        if len(names) == n:
            return names
    return None


def _looks_embedding(own: list[VarMeta]) -> bool:
    return len(own) >= 2 and len(own[1].shape) >= 1 and own[1].shape[0] == own[0].shape[0] and \
        (len(own[1].shape) == 1 or own[1].shape[-1] == 1)


def trainable_names(mode: str) -> set[str] | None:
    """Names live Keras keeps trainable in a quantized layer; None means all of them."""
    return _TRAINABLE.get(base_mode(mode) or "", {"bias"})


def float32_equivalent(mode: str, names: list[str], own: list[VarMeta], packed_rows: bool,
                       input_dim: int | None) -> int:
    """Bytes the same layer would take unquantized in float32 (kernel and bias at their logical size)."""
    shapes = dict(zip(names, (v.shape for v in own)))
    total = 0
    for name in ("kernel", "embeddings", "quantized_kernel"):
        shape = logical_shape(mode, name, shapes, packed_rows, input_dim)
        if shape is not None:
            total += _size(shape) * 4
    if "bias" in shapes:
        total += _size(shapes["bias"]) * 4
    return total


def logical_shape(mode: str, name: str, shapes: dict[str, list[int]], packed_rows: bool,
                  input_dim: int | None) -> list[int] | None:
    """The unpacked shape of an int4 / GPTQ kernel (two 4-bit values per byte).

    int4 packing changed in Keras 3.14: rows `(ceil(in/2), out)` up to 3.13, columns
    `(in, ceil(out/2))` from 3.14 (keras-2026.md).  GPTQ/AWQ store `(ceil(out/2), in)`.
    """
    shape = shapes.get(name)
    if shape is None:
        return None
    b = base_mode(mode)
    if b == "int4" and len(shape) >= 2 and name in ("kernel", "embeddings"):
        scale = shapes.get("kernel_scale") or shapes.get("embeddings_scale")
        if packed_rows:
            rows = input_dim if input_dim else shape[0] * 2
            return [rows, *shape[1:]]
        cols = shapes["bias"][-1] if "bias" in shapes else (scale[-1] if scale and name == "kernel" else None)
        if name == "embeddings" and "g_idx" in shapes:
            cols = shapes["g_idx"][0]
        return [*shape[:-1], cols if cols else shape[-1] * 2]
    if b in ("gptq", "awq") and name == "quantized_kernel" and len(shape) == 2:
        out = shapes["bias"][0] if "bias" in shapes else shape[0] * 2
        return [shape[1], out]
    return list(shape)


def packs_rows(keras_version: str | None) -> bool:
    """Whether the writer packed int4 kernels along rows (Keras <= 3.13)."""
    parts = (keras_version or "").split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (3, 14)
    except (ValueError, IndexError):
        return False


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
