"""The text of reload snippets: one place that writes Python for users to paste.

Every function returns plain source text.  `advice.py` decides which snippet applies; the
reload-advice tests execute each `load` part verbatim in real Keras 3 and tf-keras.
"""

from __future__ import annotations

from bot.report import LayerInfo, Report, WeightInfo

# Rows of the expected-layer table printed above a build-then-load_weights snippet.
MAX_LAYOUT_ROWS = 40

# Rescue for Keras 2.13/2.14 v3 layouts (`_layer_checkpoint_dependencies/`, counter gaps such as
# `dense`, `dense_2`): no current Keras loads them by path, so pair the file's groups with the
# rebuilt model's layers by class and order, as Keras itself named them (keras-formats.md §3.3).
_RESCUE_HELPERS = '''import io, re, zipfile
import h5py

def _snake(name):  # Keras' naming.to_snake_case
    name = re.sub(r"\\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\\1_\\2", name)
    return re.sub("([a-z])([A-Z])", r"\\1_\\2", name).lower()

def _order(key):  # 'dense_2' -> ('dense', 2); 'dense' -> ('dense', -1)
    base, _, n = key.rpartition("_")
    return (base, int(n)) if n.isdigit() else (key, -1)

def _arrays(group):  # a layer's own vars/0..n, then its sub-objects' (an RNN's cell)
    own = group["vars"] if "vars" in group else {}
    out = [own[k][()] for k in sorted(own, key=int)]
    for key in sorted((k for k in group if k != "vars"), key=_order):
        out += _arrays(group[key])
    return out

def _fill(layers, container):
    groups = {}
    for key in sorted(container, key=_order):
        groups.setdefault(_order(key)[0], []).append(container[key])
    for layer in layers:
        group = groups.get(_snake(type(layer).__name__), []).pop(0)
        inner = [c for c in ("layers", "_layer_checkpoint_dependencies") if c in group]
        if getattr(layer, "layers", None) and inner:
            _fill(layer.layers, group[inner[0]])
        elif layer.weights:
            layer.set_weights(_arrays(group))
'''


def q(path: str) -> str:
    return repr(path)


def join(*parts: str) -> str:
    return "\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def custom_import_line(names: list[str]) -> str:
    if not names:
        return ""
    return (f"from my_project.layers import {', '.join(names)}  "
            "# your module that defines them: their code is not in the file")


def load_model_call(func: str, path: str, kwargs: list[str]) -> str:
    return f"model = {func}({q(path)}{''.join(', ' + k for k in kwargs)})"


def layout_comment(report: Report) -> str:
    """The layer structure `build_model()` must produce, as comment lines."""
    rows = []
    by_path = any(l.path for l in report.layers)
    layers = sorted(report.layers, key=lambda l: _path_order(l.path or "")) if by_path else report.layers
    for layer in layers:
        if not layer.weights:
            continue
        shapes = ", ".join(f"{w.name.rsplit('/', 1)[-1].split(':')[0]} {tuple(s)}"
                           for w, s in _float_shapes(report, layer)[:6])
        more = f", +{len(layer.weights) - 6} more" if len(layer.weights) > 6 else ""
        where = f" [{layer.path}]" if layer.path else ""
        rows.append(f"#   {layer.name:<20} {layer.class_name:<18} {shapes}{more}{where}")
    if len(rows) > MAX_LAYOUT_ROWS:
        rows = rows[:MAX_LAYOUT_ROWS] + [f"#   … {len(rows) - MAX_LAYOUT_ROWS} more layers with weights"]
    head = ("# Build the same architecture first. Keras matches each layer to the group in brackets: its class\n"
            "# name, numbered per class in model order (dense, dense_1, ...). The file holds:" if by_path else
            "# Build the same architecture first; the file expects these layers with weights, in order:")
    return "\n".join([head, *rows]) if rows else "# Build the same architecture first."


def _float_shapes(report: Report, layer: LayerInfo) -> list[tuple[WeightInfo, list[int]]]:
    """(weight, shape) as the float model the user builds has it: int4 kernels unpacked, and no LoRA
    adapters (Keras creates those itself)."""
    from bot.analysis.keras import quantization

    ws = [w for w in layer.weights if not w.name.rsplit("/", 1)[-1].startswith(("lora_kernel_", "lora_embeddings_"))]
    if not layer.quantization:
        return [(w, w.shape) for w in ws]
    shapes = {w.name.rsplit("/", 1)[-1]: w.shape for w in ws}
    rows = quantization.packs_rows(report.keras_version)
    return [(w, quantization.logical_shape(layer.quantization, w.name.rsplit("/", 1)[-1], shapes, rows, None)
             or w.shape) for w in ws]


def _path_order(path: str) -> tuple[str, int]:
    base, _, n = path.rpartition("_")
    return (base, int(n)) if n.isdigit() else (path, -1)


def quantize_line(report: Report) -> str:
    """Weights of a quantized model load only into a model quantized the same way first (keras-hub
    issue 1705): build, `model.quantize(mode)`, then load_weights (proven in test_keras2026_files.py)."""
    q = report.quantization
    if q is None or q.mode not in ("int8", "int4", "float8"):
        return ""
    config = ""
    if q.mode == "int4":
        block = int4_block_size(report)
        if block != DEFAULT_INT4_BLOCK:
            config = f", config=keras.quantizers.Int4QuantizationConfig(block_size={block})"
    return f"model.quantize({q.mode!r}{config})  # the file holds {q.mode}-quantized layers: quantize before loading\n"


# keras/src/quantizers/quantization_config.py Int4QuantizationConfig(block_size=128) is what
# model.quantize("int4") uses in Keras 3.14+.
DEFAULT_INT4_BLOCK = 128


def int4_block_size(report: Report) -> int | None:
    """The block size the int4 layers were quantized with: None (per-channel, no zero point / g_idx), else
    the size whose group count ceil(in / block) matches every layer's kernel_scale rows."""
    shapes = []
    for layer in report.layers:
        mode = layer.quantization or ""
        if not mode.startswith("int4"):
            continue
        if "/" in mode and mode.split("/", 1)[1].isdigit():
            return int(mode.split("/", 1)[1])
        by = {w.name.rsplit("/", 1)[-1]: w.shape for w in layer.weights}
        if "g_idx" not in by:
            return None if "kernel_zero" not in by and "embeddings_zero" not in by else DEFAULT_INT4_BLOCK
        scale = by.get("kernel_scale") or by.get("embeddings_scale") or [1]
        groups = scale[0] if "kernel_scale" in by else (scale[-1] if len(scale) > 1 else 1)
        shapes.append((by["g_idx"][0], groups))
    if all(-(-n // DEFAULT_INT4_BLOCK) == g for n, g in shapes):
        return DEFAULT_INT4_BLOCK
    for n, g in shapes:
        block = -(-n // g)
        if all(-(-m // block) == h for m, h in shapes):
            return block
    return DEFAULT_INT4_BLOCK


def build_line(module: str) -> str:
    return f"model = build_model()  # your code: the {module} model that wrote the weights"


def rescue_2_13(path: str, archive: bool) -> str:
    """Read a Keras 2.13/2.14 layout with h5py and set each layer's weights in model order."""
    if archive:
        opener = (f"with zipfile.ZipFile({q(path)}) as zf:\n"
                  "    data = io.BytesIO(zf.read(\"model.weights.h5\"))\n"
                  "with h5py.File(data, \"r\") as f:\n")
    else:
        opener = f"with h5py.File({q(path)}, \"r\") as f:\n"
    return _RESCUE_HELPERS + "\n" + opener + "    _fill(model.layers, f[\"_layer_checkpoint_dependencies\"])\n"


def copy_as_h5(path: str) -> str:
    """Keras 3 reads legacy weights only from a name ending in .h5 (a Keras 2 `x.keras` is HDF5)."""
    return ("import os, shutil, tempfile\n"
            f"h5_copy = shutil.copyfile({q(path)}, os.path.join(tempfile.mkdtemp(), \"weights.h5\"))  "
            "# Keras 3 picks the loader by suffix\nmodel.load_weights(h5_copy)")


# Rescue for legacy HDF5 files no current loader reads (Keras 3's own bfloat16 .h5, Keras 0.x/1.x
# layouts): the arrays are plain datasets, so set them layer by layer in model order, the way
# Keras' topological loader pairs them (layers with weights only, keras-formats.md §2.1, §5.2).
_LEGACY_RESCUE = '''import h5py
import ml_dtypes

def _names(obj, key):  # an attribute list, also when Keras split it into key0, key1, ...
    if key in obj.attrs:
        values = list(obj.attrs[key])
    else:
        values, i = [], 0
        while f"{key}{i}" in obj.attrs:
            values += list(obj.attrs[f"{key}{i}"])
            i += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]

def _value(ds):  # Keras 3 writes bfloat16 as opaque 2-byte values
    a = ds[()]
    return a.view(ml_dtypes.bfloat16) if a.dtype.kind == "V" and a.dtype.itemsize == 2 else a

'''


def rescue_legacy_h5(path: str) -> str:
    return _LEGACY_RESCUE + (
        f"with h5py.File({q(path)}, \"r\") as f:\n"
        "    if \"nb_layers\" in f.attrs:  # Keras 0.x: layer_k/param_p\n"
        "        saved = [[_value(f[f\"layer_{k}\"][f\"param_{p}\"]) for p in range(int(f[f\"layer_{k}\"].attrs[\"nb_params\"]))]\n"
        "                 for k in range(int(f.attrs[\"nb_layers\"]))]\n"
        "    else:\n"
        "        g = f[\"model_weights\"] if \"model_weights\" in f and \"layer_names\" not in f.attrs else f\n"
        "        saved = [[_value(g[n][w]) for w in _names(g[n], \"weight_names\")] for n in _names(g, \"layer_names\")]\n"
        "    saved = [arrays for arrays in saved if arrays]\n"
        "    targets = [layer for layer in model.layers if layer.weights]\n"
        "    if len(saved) != len(targets):\n"
        "        raise ValueError(f\"{len(saved)} layers with weights in the file, {len(targets)} in the model\")\n"
        "    for layer, arrays in zip(targets, saved):\n"
        "        layer.set_weights(arrays)\n"
    )


def resume_from_weights(path: str) -> str:
    return ("model.compile(optimizer=make_optimizer())  # your code: the optimizer you trained with\n"
            "model.optimizer.build(model.trainable_variables)  # its variables must exist before load_weights\n"
            f"model.load_weights({q(path)})")
