"""How to load what the bytes say is there, in the Keras the user most likely has.

`add_reload(report)` fills `report.reload`: `python` is the one snippet most users should
run (complete, binds `model`, uses the path exactly as given), `summary` says why in a
sentence, and `options` lists every Keras that can (or cannot) load it, with caveats.
The reload-advice tests run every snippet against real Keras 3 and tf-keras.
"""

from __future__ import annotations

from bot.report import Reload, ReloadOption, Report

K3 = "Keras 3"
TFK = "tf-keras (Keras 2)"


def add_reload(report: Report) -> None:
    if report.error is not None:
        report.reload = Reload(summary="Nothing to load: " + report.error.message, python="")
        return
    builder = _BUILDERS.get(report.format)
    if builder is None:  # other frameworks' formats set their own advice
        if not report.reload.python:
            report.reload = Reload(summary="Not a Keras format.", python="")
        return
    options = builder(report)
    primary = next((o for o in options if o.works), None)
    if primary is None:
        report.reload = Reload(summary="No current Keras loads this file as is.", python="", options=options)
        return
    summary = f"{primary.keras}: {primary.purpose}" + (f" ({'; '.join(primary.caveats)})" if primary.caveats else "")
    report.reload = Reload(summary=summary, python=primary.python, options=options)


def _q(path: str) -> str:
    return repr(path)


def _writer_major(report: Report) -> str | None:
    v = report.keras_version or ""
    return v.split(".", 1)[0] if v else None


def _custom_objects(report: Report) -> list[str]:
    names = []
    for w in report.warnings:
        if w.code == "custom-object":
            cls = w.message.split("`", 2)[1]
            if cls not in names:
                names.append(cls)
    return names


def _has(report: Report, code: str) -> bool:
    return any(w.code == code for w in report.warnings)


def _load_kwargs(report: Report, *, compile_false: bool, safe_mode_kw: bool) -> tuple[str, str, list[str]]:
    """(import lines, extra kwargs, caveats) for custom objects, compile and safe_mode."""
    lines, kwargs, caveats = [], [], []
    custom = _custom_objects(report)
    if custom:
        lines.append(f"# from your_package import {', '.join(custom)}  # the classes' code is not in the file")
        kwargs.append("custom_objects={" + ", ".join(f"{c!r}: {c}" for c in custom) + "}")
        caveats.append("needs the custom classes' code: " + ", ".join(custom))
    if compile_false:
        kwargs.append("compile=False")
        caveats.append("compile=False: the optimizer state is not restored; compile again to train")
    if _has(report, "lambda-layer") and safe_mode_kw:
        kwargs.append("safe_mode=False")
        caveats.append("safe_mode=False runs the Lambda code stored in the file: only for files you trust")
    return "\n".join(lines), "".join(", " + k for k in kwargs), caveats


def _purpose(report: Report, compile_false: bool) -> str:
    if report.contents.optimizer_state and not compile_false:
        return "full model, ready to resume training"
    return "full model for inference or fine-tuning"


def _h5_model(report: Report) -> list[ReloadOption]:
    p = _q(report.source.uri)
    major = _writer_major(report)
    opts: list[ReloadOption] = []
    if major == "3":
        imports, kw, cav = _load_kwargs(report, compile_false=False, safe_mode_kw=True)
        opts.append(ReloadOption(K3, _snippet("import keras", imports, f"model = keras.models.load_model({p}{kw})"),
                                 True, _purpose(report, False), cav))
        opts.append(ReloadOption(TFK, "", False, "cannot read Keras 3 configs",
                                 error="TypeError: Error when deserializing class 'InputLayer' … "
                                       "Unrecognized keyword arguments: ['batch_shape']"))
        return opts
    nested = any(l.class_name in ("Functional", "Sequential", "Model") for l in report.layers)
    compile_false = report.contents.training_config
    imports, kw, cav = _load_kwargs(report, compile_false=compile_false, safe_mode_kw=True)
    k3 = ReloadOption(K3, _snippet("import keras", imports, f"model = keras.models.load_model({p}{kw})"),
                      not nested, _purpose(report, compile_false), cav)
    if nested:
        k3.error = "ValueError: Invalid Functional model configuration (nested Keras 2 models)"
    imports2, kw2, cav2 = _load_kwargs(report, compile_false=False, safe_mode_kw=False)
    tfk = ReloadOption(TFK, _snippet("import tf_keras", imports2, f"model = tf_keras.models.load_model({p}{kw2})"),
                       True, _purpose(report, False), cav2)
    return [k3, tfk] if not nested else [tfk, k3]


def _weights_layout(report: Report, limit: int = 40) -> str:
    rows = []
    for layer in report.layers:
        if not layer.weights and layer.class_name == "InputLayer":
            continue
        shapes = ", ".join(f"{w.name.rsplit('/', 1)[-1]} {tuple(w.shape)}" for w in layer.weights) or "no weights"
        rows.append(f"#   {layer.name:<24} {layer.class_name:<20} {shapes}")
    if len(rows) > limit:
        rows = rows[:limit] + [f"#   … {len(rows) - limit} more layers"]
    return "\n".join(rows)


def _build_then_load(report: Report, module: str, load_line: str) -> str:
    layout = _weights_layout(report)
    return (
        f"import {module}\n\n"
        "def build_model():\n"
        "    # Rebuild the architecture that wrote these weights: the same layers, in this order.\n"
        f"{layout.replace('#   ', '    #   ')}\n"
        "    raise NotImplementedError('paste the code that builds the model here')\n\n"
        "model = build_model()\n"
        f"{load_line}\n"
    )


def _h5_weights(report: Report) -> list[ReloadOption]:
    p = _q(report.source.uri)
    return [
        ReloadOption(K3, _build_then_load(report, "keras", f"model.load_weights({p})"), True,
                     "weights into the same architecture (matched by layer order; by_name=True matches names)"),
        ReloadOption(TFK, _build_then_load(report, "tf_keras", f"model.load_weights({p})"), True,
                     "weights into the same architecture"),
    ]


def _v3_archive(report: Report) -> list[ReloadOption]:
    p = _q(report.source.uri)
    module = (report.format_detail or "")
    writer = _writer_major(report)
    imports, kw, cav = _load_kwargs(report, compile_false=False, safe_mode_kw=True)
    if writer == "3" or writer is None:
        return [ReloadOption(K3, _snippet("import keras", imports, f"model = keras.saving.load_model({p}{kw})"),
                             True, _purpose(report, False),
                             cav + [f"needs Keras >= {report.keras_version}"] if report.keras_version else cav)]
    imports2, kw2, cav2 = _load_kwargs(report, compile_false=False, safe_mode_kw=True)
    return [ReloadOption(TFK, _snippet("import tf_keras", imports2, f"model = tf_keras.models.load_model({p}{kw2})"),
                         not report.keras_version.startswith(("2.13", "2.14")), _purpose(report, False), cav2),
            ReloadOption(K3, "", False, "Keras 3 cannot read Keras 2 .keras archives" + (f" ({module})" if module
                         else ""),
                         error="TypeError: Could not locate class 'Functional'")]


def _v3_weights(report: Report) -> list[ReloadOption]:
    p = _q(report.source.uri)
    caveat = [] if report.source.uri.endswith((".weights.h5", ".weights.json")) else [
        "Keras 3 requires the file name to end in .weights.h5: rename it first"]
    return [ReloadOption(K3, _build_then_load(report, "keras", f"model.load_weights({p})"), True,
                         "weights (and optimizer state, if the model is compiled first) into the same "
                         "architecture, matched by path", caveat)]


def _savedmodel(report: Report) -> list[ReloadOption]:
    p = _q(report.source.uri)
    opts = []
    if report.contents.architecture:
        opts.append(ReloadOption(TFK, _snippet("import tf_keras", "", f"model = tf_keras.models.load_model({p})"),
                                 True, "Keras model revived from keras_metadata.pb"))
    opts.append(ReloadOption(K3, _snippet("import keras", "", f"model = keras.layers.TFSMLayer({p}, "
                                                              "call_endpoint='serving_default')"),
                             True, "inference only (a layer wrapping the SavedModel's serving signature)",
                             ["inference only: no training, no Keras layers"]))
    return opts


def _checkpoint(report: Report) -> list[ReloadOption]:
    prefix = report.source.uri
    for suffix in (".index",):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    return [ReloadOption(TFK, _build_then_load(report, "tf_keras", f"model.load_weights({prefix!r})"), True,
                         "weights into the same architecture (restored by object graph)",
                         ["pass the checkpoint prefix, without .index"])]


def _snippet(import_line: str, extra: str, body: str) -> str:
    return "\n".join(x for x in (import_line, extra, body) if x) + "\n"


_BUILDERS = {
    "keras-h5-model": _h5_model,
    "keras-h5-weights": _h5_weights,
    "keras-v3-archive": _v3_archive,
    "keras-v3-weights": _v3_weights,
    "keras-v3-sharded-weights": _v3_weights,
    "tf-savedmodel": _savedmodel,
    "tf-checkpoint": _checkpoint,
}
