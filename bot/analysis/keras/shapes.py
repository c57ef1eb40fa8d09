"""Output shapes of common layers from their config and input shapes, for the graph labels.

Keras 3 configs record every consumed tensor's shape (graph.py uses that first); this fills
in the rest for layers whose rule is simple and certain.  Anything else is None ("not
stated") rather than a guess: a wrong shape on a diagram is worse than none.
Rules follow each layer's `compute_output_shape` in keras/src/layers/.
"""

from __future__ import annotations

from typing import Any

Shape = list[Any]

# Layers whose output has their input's shape (keras/src/layers/{regularization,normalization,activations}).
_SAME_SHAPE = {
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "RMSNormalization", "Normalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU",
    "Softmax", "ThresholdedReLU", "Rescaling", "Masking", "Identity",
}
_MERGE_SAME = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}


def _valid(shape: Any) -> bool:
    return isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape)


def infer_output_shape(cls: str, cfg: dict[str, Any], inputs: list[Shape | None]) -> Shape | None:
    if cls == "InputLayer":
        for key in ("batch_shape", "batch_input_shape"):
            if _valid(cfg.get(key)):
                return list(cfg[key])
        return [None, *cfg["input_shape"]] if _valid(cfg.get("input_shape")) else None
    first = inputs[0] if inputs and _valid(inputs[0]) else None
    if first is None:
        return None
    if cls in _SAME_SHAPE or (cls in _MERGE_SAME and all(i == first for i in inputs)):
        return list(first)
    if cls == "Dense" and isinstance(cfg.get("units"), int):
        return [*first[:-1], cfg["units"]]
    if cls == "Flatten":
        rest = first[1:]
        return [first[0], None if any(d is None for d in rest) else _prod(rest)]
    if cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
               "GlobalAveragePooling3D", "GlobalMaxPooling3D") and not cfg.get("keepdims"):
        channels_first = cfg.get("data_format") == "channels_first"
        return [first[0], first[1] if channels_first else first[-1]]
    if cls == "Embedding" and isinstance(cfg.get("output_dim"), int):
        return [*first, cfg["output_dim"]]
    if cls in ("LSTM", "GRU", "SimpleRNN") and isinstance(cfg.get("units"), int) and len(first) == 3:
        if cfg.get("return_state"):
            return None  # several outputs: not one shape
        return [first[0], first[1], cfg["units"]] if cfg.get("return_sequences") else [first[0], cfg["units"]]
    if cls == "Concatenate" and all(i is not None and _valid(i) and len(i) == len(first) for i in inputs):
        axis = cfg.get("axis", -1)
        if not isinstance(axis, int):
            return None
        dims = [i[axis] for i in inputs]  # type: ignore[index]
        out = list(first)
        out[axis] = None if any(d is None for d in dims) else sum(dims)
        return out
    if cls == "Reshape" and _valid(cfg.get("target_shape")) and -1 not in cfg["target_shape"]:
        return [first[0], *cfg["target_shape"]]
    return None


def _prod(dims: list[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n
