"""LoRA in Keras 3 files: `enable_lora(rank)` layers, and KerasHub `*.lora.h5` adapter files.

Facts (keras/src/layers/core/dense.py, einsum_dense.py, embedding.py `enable_lora`,
`save_own_variables`; keras issue 23244; observed with Keras 3.15.1): the layer config carries
`lora_rank` (and `lora_alpha`, Keras >= 3.10); the file holds the kernel with the adapters merged
in and never the adapters; `load_model` re-creates zero adapters (`lora_kernel_a` `(in…, rank)`,
`lora_kernel_b` `(rank, out)`; Embedding `lora_embeddings_a/b`) and freezes the kernel, so live
`count_params()` includes them and only the adapters and the bias train.
"""

from __future__ import annotations

from typing import Any

LORA_CLASSES = frozenset({"Dense", "EinsumDense", "Embedding"})


def lora_rank(cls: str, config: dict[str, Any]) -> int | None:
    rank = config.get("lora_rank") if isinstance(config, dict) else None
    if cls in LORA_CLASSES and isinstance(rank, int) and not isinstance(rank, bool) and rank > 0:
        return rank
    return None


def adapter_shapes(cls: str, rank: int, kernel_shape: list[int]) -> list[tuple[str, list[int]]]:
    """The adapters Keras re-creates on load, from the merged kernel's shape."""
    if not kernel_shape:
        return []
    if cls == "Embedding":
        return [("lora_embeddings_a", [kernel_shape[0], rank]), ("lora_embeddings_b", [rank, kernel_shape[-1]])]
    return [("lora_kernel_a", [*kernel_shape[:-1], rank]), ("lora_kernel_b", [rank, kernel_shape[-1]])]


# Variables of a LoRA layer that stay trainable after load: the adapters and the bias.
FROZEN_WHEN_LORA = frozenset({"kernel", "embeddings"})
