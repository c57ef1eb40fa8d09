"""Orbax checkpoints: Keras 3 `OrbaxCheckpoint` run folders (Keras >= 3.13) and plain Orbax steps.

Facts (keras/src/callbacks/orbax_checkpoint.py, keras/src/saving/saving_api.py, orbax-checkpoint
0.12; observed with Keras 3.15.1 on JAX): a run folder holds one digit-named folder per step, each
with `_CHECKPOINT_METADATA` (JSON) once committed, a `pytree/` (Keras; `state/` in plain Orbax v1)
whose `_METADATA` JSON lists every array's key path and `write_shape`, and, unless
`save_weights_only`, `model_config/_strings.json` holding the model config.  Keras keys are
`trainable_variables` / `non_trainable_variables` / `optimizer_variables` / `metrics_variables`, then
the layer and variable names.  Saves in progress live under `<step>.orbax-checkpoint-tmp-<n>` until
renamed.  Dtypes sit in the tensorstore (zarr) metadata inside the ocdbt store, not read here.
`keras.saving.load_model(run)` loads the newest committed step.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from bot.analysis.io.artifact import Artifact
from bot.analysis.json_fields import sub_dict
from bot.errors import AnalysisError, ErrorCode
from bot.report import (
    Contents,
    LayerInfo,
    ModelInfo,
    OptimizerInfo,
    Params,
    Reload,
    ReloadOption,
    Report,
    WeightInfo,
)

MAX_METADATA_BYTES = 64 * 1024**2
# A run keeps `max_to_keep` steps; thousands of step folders are listed, not all read.
MAX_STEPS_LISTED = 1000
TMP_MARKER = ".orbax-checkpoint-tmp"
_PAYLOADS = ("pytree", "state", "default")


def is_step(d: Artifact | None) -> bool:
    return d is not None and d.is_dir() and d.child("_CHECKPOINT_METADATA") is not None


def looks_like_run(d: Artifact, entries: list[str]) -> bool:
    if "_CHECKPOINT_METADATA" in entries:
        return True
    digits = [e for e in entries if e.isdigit()][:MAX_STEPS_LISTED]
    return any(is_step(d.child(e)) for e in digits[-3:]) or any(TMP_MARKER in e for e in entries) and bool(digits)


def report_from_orbax(d: Artifact, entries: list[str], report: Report) -> Report:
    single = "_CHECKPOINT_METADATA" in entries
    steps = [] if single else sorted((int(e) for e in entries if e.isdigit()), key=int)
    unfinished = sorted(e for e in entries if TMP_MARKER in e)
    committed = [s for s in steps if is_step(d.child(str(s)))]
    half = [str(s) for s in steps if s not in committed]
    step_dir = d if single else (d.child(str(committed[-1])) if committed else None)
    report.format = "orbax-checkpoint"
    if step_dir is None:
        raise AnalysisError(ErrorCode.TRUNCATED, "This Orbax run folder has no committed step (no step folder with "
                            f"_CHECKPOINT_METADATA; unfinished: {', '.join(unfinished + half) or 'none'}). Wait for "
                            "the save to finish, or point me at a finished run.")
    payload = next((p for p in _PAYLOADS if step_dir.child(f"{p}/_METADATA") is not None), None)
    meta = _json(step_dir.child(f"{payload}/_METADATA")) if payload else {}
    arrays = _arrays(meta)
    config = _model_config(step_dir)
    _fill(report, arrays, config)
    latest = "this step" if single else f"step {committed[-1]}"
    report.format_detail = "; ".join(x for x in (
        "Orbax checkpoint (Keras OrbaxCheckpoint)" if payload == "pytree" else "Orbax checkpoint",
        f"steps {', '.join(map(str, committed))}, newest complete: {latest}" if not single else "one step folder",
        f"unfinished saves: {', '.join(unfinished + half)}" if unfinished or half else None,
        "dtypes are in the tensorstore metadata (not read)") if x)
    if unfinished or half:
        report.warn("orbax-unfinished-save", f"Unfinished save(s) in the run folder: {', '.join(unfinished + half)} "
                    f"(no commit marker). Orbax and Keras skip them and load {latest}; a save still running "
                    "or a crash mid-save leaves them.")
    if config is None and any(p[0] == "trainable_variables" for p, _ in arrays):
        report.warn("orbax-weights-only", "No model_config in the step (saved with save_weights_only=True): "
                    "build the model first, then load the weights.")
    keras_run = any(p[0] == "trainable_variables" for p, _ in arrays) or config is not None
    report.reload = _reload(report, not single, config is not None) if keras_run else _plain_reload(
        report, committed[-1] if committed else None, payload)
    return report


def _json(a: Artifact | None) -> dict[str, Any]:
    if a is None:
        return {}
    if (a.size() or 0) > MAX_METADATA_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"`{a.name}` is {a.size():,} bytes (limit {MAX_METADATA_BYTES:,}).")
    with a.open() as f:
        try:
            value = json.loads(f.read(MAX_METADATA_BYTES + 1))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalysisError(ErrorCode.CORRUPT, f"`{a.uri}` is not valid JSON.") from exc
    return value if isinstance(value, dict) else {}


def _arrays(meta: dict[str, Any]) -> list[tuple[tuple[str, ...], list[int] | None]]:
    """(key path, shape) of every array in `_METADATA`'s tree_metadata; shape None when not recorded
    (plain Orbax saves of NumPy arrays keep it only in the tensorstore metadata)."""
    out = []
    tree = sub_dict(meta, "tree_metadata")
    for key, value in tree.items():
        keys = value.get("key_metadata") if isinstance(value, dict) else None
        path = tuple(str(k.get("key")) for k in keys if isinstance(k, dict)) if isinstance(keys, list) else None
        if path is None:
            try:
                parsed = ast.literal_eval(key)  # "('trainable_variables', 'dense', 'kernel')": literals only
                path = tuple(map(str, parsed)) if isinstance(parsed, tuple) else (str(key),)
            except (ValueError, SyntaxError):
                path = (str(key),)
        vm = value.get("value_metadata") if isinstance(value, dict) else {}
        shape = vm.get("write_shape") if isinstance(vm, dict) else None
        out.append((path, [int(x) for x in shape] if isinstance(shape, list) else None))
    return out


def _model_config(step: Artifact) -> dict[str, Any] | None:
    strings = _json(step.child("model_config/_strings.json"))
    text = strings.get("config")
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _fill(report: Report, arrays: list[tuple[tuple[str, ...], list[int] | None]], config: dict[str, Any] | None) -> None:
    layers: dict[str, LayerInfo] = {}
    trainable = non_trainable = 0
    opt_vars = opt_values = 0
    iterations = None
    for path, maybe in arrays:
        shape = maybe or []
        group, rest = path[0], path[1:]
        if group in ("trainable_variables", "non_trainable_variables") and rest:
            name = rest[0]
            layer = layers.setdefault(name, LayerInfo(name=name, class_name="?", params=0))
            layer.weights.append(WeightInfo("/".join(rest), shape, "unknown"))
            layer.params += _size(shape)
            if group == "trainable_variables":
                trainable += _size(shape)
            else:
                non_trainable += _size(shape)
        elif group == "optimizer_variables":
            opt_vars += 1
            opt_values += _size(shape)
    if not any(p[0] in ("trainable_variables", "non_trainable_variables") for p, _ in arrays) and arrays:
        # Plain Orbax: no Keras grouping, so no trainable split; group by the first key.
        known = all(shape is not None for _, shape in arrays)
        for path, recorded in arrays:
            layer = layers.setdefault(path[0], LayerInfo(name=path[0], class_name="array tree", params=0))
            layer.weights.append(WeightInfo("/".join(path), recorded or [], "unknown"))
            layer.params += _size(recorded) if recorded is not None else 0
        report.layers = list(layers.values())
        report.params = Params(total=sum(l.params for l in layers.values())) if known else None
        if not known:
            report.warn("orbax-shapes-not-recorded", f"{len(arrays)} arrays are listed, but _METADATA records no "
                        "shapes for them (NumPy arrays saved by plain Orbax): the parameter count needs the "
                        "tensorstore metadata, which I do not read.")
        report.contents = Contents(architecture=False, weights=True)
        return
    classes = _classes(config)
    for layer in layers.values():
        layer.class_name = classes.get(layer.name, "unknown")
    report.layers = list(layers.values())
    report.params = Params(total=trainable + non_trainable, trainable=trainable, non_trainable=non_trainable)
    opt_class = None
    if config is not None:
        report.model = ModelInfo(class_name=str(config.get("class_name")), name=str((config.get("config") or {})
                                                                                    .get("name", "model")))
        cc = sub_dict(config, "compile_config")
        opt = cc.get("optimizer")
        opt_class = opt.get("class_name") if isinstance(opt, dict) else opt if isinstance(opt, str) else None
    if opt_vars:
        report.optimizer = OptimizerInfo(class_name=opt_class, iterations=iterations, learning_rate=None,
                                         state_bytes=0, variables=opt_vars, params=opt_values)
    report.contents = Contents(architecture=config is not None, weights=bool(layers), optimizer_state=bool(opt_vars),
                               training_config=bool(config and config.get("compile_config")))


def _classes(config: dict[str, Any] | None) -> dict[str, str]:
    if not config:
        return {}
    layers = (config.get("config") or {}).get("layers") if isinstance(config.get("config"), dict) else None
    return {str(l.get("name") or (l.get("config") or {}).get("name")): str(l.get("class_name"))
            for l in layers or [] if isinstance(l, dict)}


def _reload(report: Report, run: bool, has_config: bool) -> Reload:
    # Keras loads a run folder (it picks the newest committed step), so a step folder is loaded via its run.
    p = report.source.uri.rstrip("/")
    if not run:
        p = p.rsplit("/", 1)[0] if "/" in p else "."
    if has_config:
        python = f"import keras\nmodel = keras.saving.load_model({p!r})  # Keras >= 3.14; loads the newest step\n"
        opt = ReloadOption(keras="Keras 3", python=python, works=True, loader="keras3", load=python,
                           purpose="the model and optimizer from the newest complete step",
                           caveats=["needs Keras >= 3.14 and `pip install orbax-checkpoint`",
                                    "point load_model at the run folder: it picks the newest committed step"],
                           restores_optimizer=report.contents.optimizer_state)
    else:
        python = (f"import keras\nmodel = build_model()  # your code: the architecture that was trained\n"
                  f"model.load_weights({p!r})  # Keras >= 3.14; the newest step\n")
        opt = ReloadOption(keras="Keras 3", python=python, works=True, loader="keras3", load=python,
                           build_first=True, purpose="weights into the same architecture",
                           caveats=["needs Keras >= 3.14 and `pip install orbax-checkpoint`"])
    return Reload(summary=f"Keras 3: {opt.purpose}", python=python, options=[opt])


def _plain_reload(report: Report, step: int | None, payload: str | None) -> Reload:
    """Plain Orbax (CheckpointManager + StandardSave): the array tree back, not a Keras model."""
    p = report.source.uri.rstrip("/")
    python = ("import orbax.checkpoint as ocp\n"
              f"model = ocp.CheckpointManager({p!r}).restore({step}, args=ocp.args.StandardRestore())"
              "  # the saved array tree (a dict)\n")
    opt = ReloadOption(keras="Orbax", python=python, works=step is not None, loader="orbax", load=python,
                       purpose="the saved arrays as a tree of NumPy/JAX arrays",
                       caveats=["not a Keras model: assign the arrays to your model's variables"])
    return Reload(summary=f"Orbax: {opt.purpose}", python=python, options=[opt])
