"""Will these weights load into this architecture?  Keras' own loading rules, applied to two Reports.

`check_reports(weights, model)` needs no TensorFlow: it pairs the file's layers with the target
model's the way the loader of that file does (keras-formats.md §5.2):

* v3 files (`.weights.h5`, `.weights.json`, `.keras` passed to load_weights): **by path**.  Each
  layer of the model is looked up at `layers/<snake_case(class)>[_<n>]`; a missing group or a
  wrong count fails, a wrong shape fails, and groups the model does not ask for are ignored
  without a word.
* legacy HDF5 (`save_weights('x.h5')`, or a full `.h5` model): **topological**, layers with
  weights only, in order; `by_name=True` is reported as the alternative.
* TF checkpoints: by object position, in tf-keras only (Keras 3 rejects them).
The verdict's `keras_error` uses the words Keras prints, so users can match what they saw.
"""

from __future__ import annotations

from bot.analysis.keras.keras_classes import to_snake_case
from bot.compare.results import CheckReport, FileRef, LayerCheck
from bot.report import LayerInfo, Report, ReportError

V3_FORMATS = ("keras-v3-weights", "keras-v3-sharded-weights", "keras-v3-archive")
LEGACY_FORMATS = ("keras-h5-weights", "keras-h5-model")
# Keras 2.13/2.14 wrote layers under this group; Keras 3 falls back to it when `layers/` is absent.
K213_CONTAINER = "_layer_checkpoint_dependencies"
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})


def file_ref(report: Report) -> FileRef:
    return FileRef(name=report.source.name, uri=report.source.uri, format=report.format,
                   keras_version=report.keras_version, params=report.params.total if report.params else None,
                   steps_trained=report.optimizer.iterations if report.optimizer else None)


def check_reports(weights: Report, model: Report) -> CheckReport:
    out = CheckReport(weights=file_ref(weights), against=file_ref(model))
    for side, r in (("weights", weights), ("against", model)):
        if r.error is not None:
            out.error = ReportError(r.error.code, f"{side} file {r.source.name}: {r.error.message}")
            return out
    if not model.contents.architecture:
        out.error = ReportError("no-architecture", f"{model.source.name} holds no architecture ({model.format}); "
                                "--against needs a full model (.keras, .h5 model, SavedModel with Keras metadata).")
        return out
    call = f"model.load_weights({weights.source.uri!r})"
    if weights.format in V3_FORMATS:
        _by_path(out, weights, model)
    elif weights.format in LEGACY_FORMATS:
        _topological(out, weights, model)
    elif weights.format == "tf-checkpoint":
        _topological(out, weights, model, keras="tf-keras", rule="object-graph")
        out.notes.append("Keras 3 cannot read TF checkpoints (`File format not supported`); these are tf-keras's "
                         "rules. A partial match restores what it can and only logs warnings.")
        call = f"model.load_weights({weights.source.uri.removesuffix('.index')!r})"
    else:
        out.error = ReportError("unsupported", f"{weights.source.name} is a {weights.format}: load_weights does "
                                "not read it.")
        return out
    out.call = call
    return out


def model_paths(model: Report) -> list[tuple[LayerInfo, str]]:
    """The group each layer of `model` is looked up at: snake-cased class names, numbered per name
    in model.layers order (Keras' `_get_unique_name`); Sequential models list no InputLayer."""
    seen: dict[str, int] = {}
    out = []
    sequential = bool(model.model and model.model.class_name == "Sequential")
    for layer in model.layers:
        if sequential and layer.class_name == "InputLayer":
            continue
        base = to_snake_case(layer.class_name)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append((layer, f"layers/{base}" if n == 0 else f"layers/{base}_{n}"))
    return out


def _file_groups(weights: Report) -> dict[str, LayerInfo]:
    groups = {}
    for layer in weights.layers:
        path = layer.path or f"layers/{layer.name}"
        if path.startswith(K213_CONTAINER + "/"):
            path = "layers/" + path[len(K213_CONTAINER) + 1:]
        groups[path] = layer
    return groups


def _by_path(out: CheckReport, weights: Report, model: Report) -> None:
    out.keras, out.rule = "Keras 3", "by-path"
    groups = _file_groups(weights)
    used: set[str] = set()
    failures: list[tuple[LayerInfo, str]] = []  # (layer, Keras' message)
    for layer, path in model_paths(model):
        saved = groups.get(path)
        if saved is not None:
            used.add(path)
        got = saved.weights if saved else []
        if not layer.weights and not got:
            continue
        if len(got) != len(layer.weights):
            status = "missing" if saved is None else "count-mismatch"
            objects = _sublayers(layer) if saved is None and layer.class_name in MODEL_CLASSES else [layer]
            for obj in objects:
                names = [w.name.rsplit("/", 1)[-1].split(":")[0] for w in obj.weights]
                n_got = len(got) if obj is layer else 0
                msg = (f"Layer '{obj.name}' expected {len(obj.weights)} variables, but received {n_got} "
                       f"variables during loading. Expected: {names}")
                failures.append((obj, msg))
            out.layers.append(LayerCheck(layer.name, status, path if saved else None,
                                         f"no group {path} in the file" if saved is None else msg))
            continue
        bad = next(((w, g) for w, g in zip(layer.weights, got) if list(w.shape) != list(g.shape)), None)
        if bad:
            w, g = bad
            msg = ("The shape of the target variable and the shape of the target value in `variable.assign(value)` "
                   f"must match. variable.shape={_shape(w.shape)}, Received: value.shape={_shape(g.shape)}.")
            out.layers.append(LayerCheck(layer.name, "shape-mismatch", path, f"{w.name}: model {_shape(w.shape)}, "
                                         f"file {_shape(g.shape)}"))
            failures.append((layer, msg))
            continue
        out.layers.append(LayerCheck(layer.name, "loads", path, f"{len(got)} weight(s)"))
    ignored = [(p, l) for p, l in groups.items() if p not in used and l.weights]
    for path, layer in ignored:
        out.layers.append(LayerCheck(layer.name, "ignored", path, f"{len(layer.weights)} weight(s) in the file that "
                                     "no layer of the model asks for"))
    if failures:
        out.verdict = "fails"
        first, msg = failures[0]  # Keras reports objects in model order, as collected here
        cls = f"{first.class_name} " if first.class_name != "unknown" else ""
        out.keras_error = (f"A total of {len(failures)} objects could not be loaded. Example error message for "
                           f"object <{cls}name={first.name}, built=True>:\n\n{msg}")
        out.reason = f"{len(failures)} layer(s) of the model get no or mismatched weights from the file."
    elif ignored:
        out.verdict = "loads-with-skips"
        out.reason = (f"Keras 3 loads by path and silently ignores {len(ignored)} layer group(s) of the file: "
                      + ", ".join(p for p, _ in ignored[:6]) + ". No error, no warning.")
    else:
        out.verdict = "loads"
        out.reason = "Every layer with weights finds its group, with the same counts and shapes."
    if weights.contents.optimizer_state:
        out.notes.append("The file also holds optimizer state: load_weights restores it only when the model is "
                         "compiled with the same optimizer class and `model.optimizer.build(model.trainable_variables)` "
                         "ran first, and only from a file written by the same Keras (Keras 3 vs tf-keras).")
    if not weights.source.uri.endswith((".weights.h5", ".weights.json", ".keras")):
        out.notes.append("Keras 3 requires the name to end in .weights.h5 (or .keras): rename it first, or "
                         "load_weights treats it as a legacy .h5 and fails with `Layer count mismatch … found 0 "
                         "saved layers`.")


def _topological(out: CheckReport, weights: Report, model: Report, keras: str = "Keras 3",
                 rule: str = "topological") -> None:
    out.keras, out.rule = keras, rule
    saved = [l for l in weights.layers if l.weights]
    target = [l for l in model.layers if l.weights]
    if len(saved) != len(target):
        out.verdict = "fails" if rule == "topological" else "loads-with-skips"
        out.keras_error = (f"Layer count mismatch when loading weights from file. Model expected {len(target)} "
                           f"layers, found {len(saved)} saved layers.") if rule == "topological" else None
        out.reason = f"The model has {len(target)} layers with weights, the file {len(saved)}."
    failure = None
    for k, (layer, s) in enumerate(zip(target, saved)):
        if len(layer.weights) != len(s.weights):
            msg = (f"Weight count mismatch for layer #{k} (named {layer.name} in the current model, {s.name} in the "
                   f"save file). Layer expects {len(layer.weights)} weight(s). Received {len(s.weights)} saved "
                   "weight(s)")
            out.layers.append(LayerCheck(layer.name, "count-mismatch", s.name, msg))
            failure = failure or msg
            continue
        bad = next(((w, g) for w, g in zip(layer.weights, s.weights) if list(w.shape) != list(g.shape)), None)
        if bad:
            w, g = bad
            msg = (f"Shape mismatch in layer #{k} (named {layer.name})for weight {w.name.split(':')[0]}. Weight "
                   f"expects shape {_shape(w.shape)}. Received saved weight with shape {_shape(g.shape)}")
            out.layers.append(LayerCheck(layer.name, "shape-mismatch", s.name, msg))
            failure = failure or msg
            continue
        note = "" if layer.name == s.name else f"by position: the file calls it {s.name}"
        out.layers.append(LayerCheck(layer.name, "loads", s.name, note or f"{len(s.weights)} weight(s)"))
    for layer in target[len(saved):]:
        out.layers.append(LayerCheck(layer.name, "missing", None, "no layer left in the file"))
    for s in saved[len(target):]:
        out.layers.append(LayerCheck(s.name, "ignored", s.name, "no layer left in the model"))
    if out.verdict is None:
        out.verdict = "fails" if failure else "loads"
        out.keras_error = failure
        out.reason = ("Layers with weights pair up in order, with the same counts and shapes." if not failure
                      else "A layer pairs with saved weights of another count or shape.")
    _by_name_note(out, saved, target)


def _by_name_note(out: CheckReport, saved: list[LayerInfo], target: list[LayerInfo]) -> None:
    names = {l.name: l for l in saved}
    same = [l for l in target if l.name in names and [w.shape for w in l.weights] ==
            [w.shape for w in names[l.name].weights]]
    if out.rule == "topological" and (out.verdict == "fails" or any(l.name not in names for l in target)):
        out.notes.append(f"With load_weights(path, by_name=True) {len(same)} of {len(target)} layers would load by "
                         f"name; add skip_mismatch=True to skip mismatched shapes (Keras 3 ≥ 3.11 / tf-keras).")


def _sublayers(model_layer: LayerInfo) -> list[LayerInfo]:
    """The layers inside a nested model, from its weight names ('inner/in_d/kernel' → 'in_d'):
    Keras 3 reports a missing nested group once per inner layer with weights."""
    subs: dict[str, LayerInfo] = {}
    for w in model_layer.weights:
        parts = w.name.split(":")[0].split("/")
        name = parts[-2] if len(parts) >= 2 and parts[-2] != model_layer.name else model_layer.name
        subs.setdefault(name, LayerInfo(name, "unknown", 0)).weights.append(w)
    return list(subs.values()) or [model_layer]


def _shape(shape: list[int]) -> str:
    return str(tuple(shape))
