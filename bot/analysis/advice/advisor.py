"""How to load what the bytes say is there, in the Keras the user most likely has.

`add_reload(report)` fills `report.reload`: `options` lists, per Keras (current Keras 3,
current tf-keras, TensorFlow itself, older TensorFlow where that is the only way), whether it
loads the file, the exact snippet and its caveats, or the error it raises; `python` is the
first option that works (the one most users should run), `summary` says why in a sentence.

Every rule here is an observed behaviour of Keras 3.15 / tf-keras 2.21 (keras-formats.md §5
and tests/fixtures/keras/expected.json); tests/test_reload_advice_matrix.py runs every
`load` snippet and every stated failure against both.
"""

from __future__ import annotations

from bot.analysis.advice import snippets as s
from bot.analysis.advice.errors import (
    E_BF16,
    E_K1_CONFIG,
    E_K3_BARE_SEQUENTIAL,
    E_K3_K213_ARCHIVE,
    E_K3_MIXED_K2,
    E_K3_NESTED_K2,
    E_K3_NOT_SUPPORTED,
    E_K3_RNN_K2,
    E_K3_TFK_ARCHIVE,
    E_NO_VARS,
    E_NOT_ZIP,
    E_TFK_K3_ARCHIVE,
    E_TFK_K3_CONFIG,
    E_TFK_NOT_SAVEDMODEL,
    E_TFK_SHARDED,
    K2_RNN_CLASSES,
    K3_H5_FAILING_LOSS_ALIASES,
    MODEL_CLASSES,
    SEQUENTIAL_DICT_CONFIG_SINCE,
    counter_gap,
)
from bot.analysis.advice.facts import (
    custom_names,
    has_bfloat16,
    has_finding,
    is_keras0_layout,
    is_keras_checkpoint,
    layer_classes,
    string_losses,
    writer_of,
    writer_version,
)
from bot.report import Reload, ReloadOption, Report

K3, TFK, TF = "Keras 3", "tf-keras (Keras 2)", "TensorFlow"
TF213 = "TensorFlow 2.13/2.14 (tf.keras)"


def add_reload(report: Report) -> None:
    if report.error is not None:
        report.reload = Reload(summary="Nothing to load: " + report.error.message, python="")
        return
    builder = _BUILDERS.get(report.format)
    if builder is None or (report.format == "tf-checkpoint" and not is_keras_checkpoint(report)):
        if not report.reload.python and not report.reload.summary:
            report.reload = Reload(summary="Not a Keras format.", python="")
        return  # other frameworks' formats and raw TF checkpoints keep their reader's advice
    options = builder(report)
    primary = next((o for o in options if o.works), None)
    if primary is None:
        report.reload = Reload(summary="No current Keras loads this file as it is; see the options for why.",
                               python="", options=options)
        return
    summary = f"{primary.keras}: {primary.purpose}"
    if primary.caveats:
        summary += " (" + "; ".join(primary.caveats) + ")"
    report.reload = Reload(summary=summary, python=primary.python, options=options)


def _kwargs(report: Report, *, custom: bool = True, safe_mode: bool = False, compile_false: bool = False
            ) -> tuple[list[str], list[str]]:
    """(load_model kwargs, caveats) for custom classes, compile and safe_mode."""
    kwargs, caveats = [], []
    names = custom_names(report) if custom else []
    if names:
        kwargs.append("custom_objects={" + ", ".join(f"{n!r}: {n}" for n in names) + "}")
        caveats.append("needs your code for " + ", ".join(names) + " (import it; it is not in the file)")
    if compile_false:
        kwargs.append("compile=False")
        caveats.append("compile=False: the optimizer state is not restored; compile again before training")
    if safe_mode:
        kwargs.append("safe_mode=False")
        caveats.append("safe_mode=False runs the Python code of the Lambda layers stored in the file: "
                       "only for files from someone you trust")
    return kwargs, caveats


def _full_model(keras: str, loader: str, module: str, func: str, report: Report, kwargs: list[str],
                caveats: list[str], restores: bool) -> ReloadOption:
    hub = "import keras_hub  # registers the KerasHub classes the file uses" if module == "keras" and has_finding(
        report, "keras-hub-classes") else ""
    load = s.join(f"import {module}", hub, s.load_model_call(func, report.source.uri, kwargs))
    python = s.join(f"import {module}", hub, s.custom_import_line(custom_names(report) if any(
        k.startswith("custom_objects") for k in kwargs) else []), s.load_model_call(func, report.source.uri, kwargs))
    purpose = "the full model, ready to resume training" if restores else "the full model, for inference or fine-tuning"
    return ReloadOption(keras=keras, python=python, works=True, purpose=purpose, caveats=caveats, loader=loader,
                        load=load, restores_optimizer=restores)


def _k3_h5_caveats(report: Report, option: ReloadOption) -> None:
    """Older Keras 3 releases read .h5 differently (keras-formats.md §5.1)."""
    if not option.works:
        return
    if custom_names(report) or report.contents.training_config:
        option.caveats.append("Keras 3.0–3.2 ignore custom_objects and compile= for .h5 files: upgrade, or wrap "
                              "the call in `with keras.saving.custom_object_scope({...}):`")
    if has_finding(report, "lambda-layer"):
        option.caveats.append("Keras 3.0–3.11 apply no safe_mode to .h5 files: they run the Lambda code without "
                              "asking")


def _mixed_caveat(report: Report, option: ReloadOption) -> None:
    if has_finding(report, "mixed-precision") and report.contents.optimizer_state and option.works:
        option.caveats.append("the loss-scale optimizer comes back with its step counter at 0 (observed): "
                              "expect the schedule to restart when you resume training")
        option.purpose = "the full model, for inference or fine-tuning"


def _fails(keras: str, loader: str, python: str, error: str, why: str) -> ReloadOption:
    return ReloadOption(keras=keras, python=python, works=False, purpose=why, error=error, loader=loader,
                        load=python)


def _build_then(keras: str, loader: str, module: str, report: Report, load: str, purpose: str,
                caveats: list[str] | None = None, works: bool = True, error: str | None = None) -> ReloadOption:
    python = s.join(f"import {module}", s.layout_comment(report), s.build_line(module), load)
    return ReloadOption(keras=keras, python=python, works=works, purpose=purpose, caveats=caveats or [],
                        error=error, loader=loader, load=load, build_first=True)


# --- per format -------------------------------------------------------------------------------------

def _h5_model(report: Report) -> list[ReloadOption]:
    p = report.source.uri
    writer = writer_of(report)
    lam = has_finding(report, "lambda-layer")
    tfk_call = s.load_model_call("tf_keras.models.load_model", p, [])
    if writer == "k3":
        compile_false = report.contents.training_config and bool(
            set(string_losses(report)) & K3_H5_FAILING_LOSS_ALIASES)
        kw, cav = _kwargs(report, safe_mode=lam, compile_false=compile_false)
        if compile_false:
            at = next(i for i, c in enumerate(cav) if c.startswith("compile=False"))
            cav[at] += f" (Keras 3 cannot compile the loss {string_losses(report)[0]!r} from an .h5)"
        k3 = _full_model(K3, "keras3", "keras", "keras.saving.load_model", report, kw, cav,
                         restores=report.contents.optimizer_state and not compile_false
                         and not has_finding(report, "mixed-precision"))
        _mixed_caveat(report, k3)
        _k3_h5_caveats(report, k3)
        if has_bfloat16(report):
            k3 = _fails(K3, "keras3", k3.load, E_BF16, "Keras 3 cannot read back bfloat16 weights from its .h5")
            k3_rescue = _build_then(K3, "keras3", "keras", report, "model.load_weights(" + s.q(p) + ")",
                                    "weights into the same architecture", works=False, error=E_BF16)
            tfk_fail = s.join("import tf_keras", tfk_call)
            return [_rescue_h5(report), k3, k3_rescue, _fails(TFK, "tf_keras", tfk_fail, E_TFK_K3_CONFIG,
                                          "tf-keras cannot read Keras 3 model configs")]
        return [k3, _fails(TFK, "tf_keras", s.join("import tf_keras", tfk_call), E_TFK_K3_CONFIG,
                           "tf-keras cannot read Keras 3 model configs")]
    # Keras 1/2 writers.
    kw, cav = _kwargs(report)
    if lam:
        cav.append("tf-keras has no safe_mode for .h5: loading runs the Lambda code in the file; "
                   "only for files you trust")
    tfk = _full_model(TFK, "tf_keras", "tf_keras", "tf_keras.models.load_model", report, kw, cav,
                      restores=report.contents.optimizer_state and not has_finding(report, "mixed-precision"))
    _mixed_caveat(report, tfk)
    if writer == "k1":
        tfk = _fails(TFK, "tf_keras", tfk.load, E_K1_CONFIG, "tf-keras cannot read Keras 1 layer configs")
    k3_kw, k3_cav = _kwargs(report, safe_mode=lam, compile_false=report.contents.training_config)
    if report.contents.training_config:
        at = next(i for i, c in enumerate(k3_cav) if c.startswith("compile=False"))
        k3_cav[at] = ("compile=False: Keras 3 cannot use a Keras 2 optimizer state (and often cannot compile a "
                      "Keras 2 training config); compile again before training")
    k3 = _full_model(K3, "keras3", "keras", "keras.saving.load_model", report, k3_kw, k3_cav, restores=False)
    why = None
    if writer == "k1" or (report.model and report.model.class_name == "Sequential"
                          and writer_version(report) < SEQUENTIAL_DICT_CONFIG_SINCE):
        why = (E_K3_BARE_SEQUENTIAL, "Keras 3 cannot read Keras 1 / Keras < 2.2.3 model configs")
    elif any(c in MODEL_CLASSES for c in layer_classes(report)):
        why = (E_K3_NESTED_K2, "Keras 3 cannot rebuild nested Keras 2 models from an .h5")
    elif layer_classes(report) & K2_RNN_CLASSES:
        why = (E_K3_RNN_K2, "Keras 3 rejects the `time_major` argument of Keras 2 recurrent layers")
    elif has_finding(report, "mixed-precision"):
        why = (E_K3_MIXED_K2, "Keras 3 cannot read Keras 2 mixed-precision policies")
    if why:
        k3 = _fails(K3, "keras3", k3.load, *why)
    _k3_h5_caveats(report, k3)
    opts = [k3, tfk] if k3.works else [tfk, k3]
    return opts if tfk.works or k3.works else [_rescue_h5(report), *opts]


def _rescue_h5(report: Report) -> ReloadOption:
    return _build_then(K3, "keras3", "keras", report, s.rescue_legacy_h5(report.source.uri),
                       "rebuild the model, then read the arrays with h5py and set them layer by layer "
                       "(layers with weights, in order)", ["the optimizer state is not restored"])


def _h5_weights(report: Report) -> list[ReloadOption]:
    p = report.source.uri
    load = f"model.load_weights({s.q(p)})"
    purpose = "weights into the same architecture, matched by layer order (by_name=True matches layer names)"
    if writer_of(report) == "k1" or "Keras 0" in (report.format_detail or "") or is_keras0_layout(report):
        return [_rescue_h5(report)]
    opts = []
    if p.endswith((".h5", ".hdf5")):
        opts.append(_build_then(K3, "keras3", "keras", report, load, purpose))
    else:
        opts.append(_build_then(K3, "keras3", "keras", report, s.copy_as_h5(p), purpose,
                                ["Keras 3 chooses the loader by file suffix: the snippet copies the file to a "
                                 "name ending in .h5"]))
        opts.append(_build_then(K3, "keras3", "keras", report, load, "as it is named", works=False,
                                error=E_NOT_ZIP if p.endswith(".keras") else E_K3_NOT_SUPPORTED))
    opts.append(_build_then(TFK, "tf_keras", "tf_keras", report, load, purpose))
    return opts


def _v3_archive(report: Report) -> list[ReloadOption]:
    p = report.source.uri
    writer = writer_of(report)
    lam = has_finding(report, "lambda-layer")
    functional = bool(report.model and report.model.class_name != "Sequential")
    if has_finding(report, "pickle-npz-weights"):
        return [_fails(K3, "keras3", s.join("import keras", s.load_model_call("keras.saving.load_model", p, [])),
                       "Object arrays cannot be loaded when allow_pickle=False",
                       "Keras >= 3.15 refuses pickled npz weights; Keras < 3.15 unpickles them (runs code)")]
    if has_finding(report, "gptq-missing-zero-point"):
        return [_fails(K3, "keras3", s.join("import keras", s.load_model_call("keras.saving.load_model", p, [])),
                       "expected 5 variables, but received 4 variables during loading",
                       "Keras 3.15.1 saved these GPTQ layers without kernel_zero and cannot load them back")]
    if writer in ("k3", "unknown"):
        kw, cav = _kwargs(report, safe_mode=lam)
        restores = report.contents.optimizer_state
        if has_finding(report, "optimizer-config-missing"):
            restores = False
            cav.append("the optimizer state is skipped (the compile config lost its optimizer): compile again")
        elif has_finding(report, "mixed-precision") and report.contents.optimizer_state:
            restores = False
            cav.append("the loss-scale optimizer state is skipped on load: compile again before resuming")
        if report.keras_version:
            minor = ".".join(map(str, writer_version(report)[:2]))
            cav.append(f"needs Keras >= {minor} (.keras is not forward compatible)")
        k3 = _full_model(K3, "keras3", "keras", "keras.saving.load_model", report, kw, cav, restores)
        error = E_TFK_K3_ARCHIVE if functional else E_TFK_K3_CONFIG
        if not p.endswith(".keras"):  # an unzipped archive folder: tf-keras takes it for a SavedModel
            error = E_TFK_NOT_SAVEDMODEL
        tfk = _fails(TFK, "tf_keras", s.join("import tf_keras", s.load_model_call("tf_keras.models.load_model", p, [])),
                     error, "tf-keras cannot read Keras 3 archives")
        return [k3, tfk]
    k3_fail = s.join("import keras", s.load_model_call("keras.saving.load_model", p, []))
    if writer == "k213":
        purpose = "rebuild the model, then read the weights with h5py and set them layer by layer"
        return [
            _fails(K3, "keras3", k3_fail, E_K3_K213_ARCHIVE, "Keras 3 cannot import Keras 2.13/2.14 classes"),
            _fails(TFK, "tf_keras", s.join("import tf_keras", s.load_model_call("tf_keras.models.load_model", p, [])),
                   E_NO_VARS, "tf-keras does not find the weights under the 2.13/2.14 group names"),
            _build_then(K3, "keras3", "keras", report, s.rescue_2_13(p, archive=True), purpose,
                        ["the optimizer state is not restored"]),
            ReloadOption(keras=TF213, python=s.join("import tensorflow as tf",
                                                    s.load_model_call("tf.keras.models.load_model", p, [])),
                         works=True, purpose="the Keras that wrote it loads it", loader="tf2.13",
                         caveats=["needs an environment with tensorflow==2.13.* or 2.14.*"]),
        ]
    kw, cav = _kwargs(report, safe_mode=lam)
    tfk = _full_model(TFK, "tf_keras", "tf_keras", "tf_keras.models.load_model", report, kw, cav,
                      restores=report.contents.optimizer_state)
    k3_error = E_K3_TFK_ARCHIVE if functional else "Argument(s) not recognized"
    k3_rescue = _build_then(K3, "keras3", "keras", report, f"model.load_weights({s.q(p)})",
                            "weights into the same architecture, rebuilt in Keras 3 (matched by path)",
                            ["the optimizer state is not restored"])
    return [tfk, _fails(K3, "keras3", k3_fail, k3_error, "Keras 3 cannot read tf-keras archives"), k3_rescue]


def _v3_weights(report: Report) -> list[ReloadOption]:
    p = report.source.uri
    load = s.quantize_line(report) + f"model.load_weights({s.q(p)})"
    purpose = "weights into the same architecture, matched by path (extra groups in the file are ignored)"
    sharded = report.format == "keras-v3-sharded-weights"
    if writer_of(report) == "k213":
        gap = counter_gap(report.layers)
        rescue = _build_then(K3, "keras3", "keras", report, s.rescue_2_13(p, archive=False),
                             "rebuild the model, then read the weights with h5py and set them layer by layer")
        opts = [rescue, _build_then(TFK, "tf_keras", "tf_keras", report, load, purpose, works=False, error=E_NO_VARS)]
        opts.insert(0, _build_then(K3, "keras3", "keras", report, load, purpose, works=not gap,
                                   error=E_NO_VARS if gap else None))
        return opts if not gap else [rescue, *[o for o in opts if o is not rescue]]
    suffix_ok = p.endswith(".weights.json" if sharded else ".weights.h5")
    caveats = [] if suffix_ok else ["Keras 3 requires the name to end in .weights.h5: rename the file first"]
    opt_cav = ["the file's optimizer state is not restored by this call (see the resume-training option)"
               ] if report.contents.optimizer_state else []
    k3 = _build_then(K3, "keras3", "keras", report, load, purpose, caveats + opt_cav, works=suffix_ok,
                     error=None if suffix_ok else "No model config found" if p.endswith((".h5", ".hdf5"))
                     else E_K3_NOT_SUPPORTED)
    if not suffix_ok and p.endswith((".h5", ".hdf5")):
        k3.error = "Layer count mismatch when loading weights from file"
    if sharded:
        tfk = _build_then(TFK, "tf_keras", "tf_keras", report, load, "tf-keras cannot read sharded weights",
                          works=False, error=E_TFK_SHARDED)
    elif has_bfloat16(report):
        tfk = _build_then(TFK, "tf_keras", "tf_keras", report, load, "tf-keras cannot cast bfloat16 weights",
                          works=False, error=E_BF16)
    else:
        tfk = _build_then(TFK, "tf_keras", "tf_keras", report, load, purpose, opt_cav)
    opts = [k3, tfk]
    if report.contents.optimizer_state and suffix_ok:
        keras, loader, module = (TFK, "tf_keras", "tf_keras") if writer_of(report) == "k2" else (K3, "keras3", "keras")
        if not (loader == "tf_keras" and sharded):
            opts.append(_resume_from_weights(report, keras, loader, module))
    return opts


def _resume_from_weights(report: Report, keras: str, loader: str, module: str) -> ReloadOption:
    """Optimizer state loads only into an optimizer that already has its variables (observed in
    Keras 3.15 and tf-keras 2.21; compiling alone leaves iterations at 0), and only from a file
    written by the same Keras."""
    load = s.resume_from_weights(report.source.uri)
    option = _build_then(keras, loader, module, report, load,
                         "weights and optimizer state into the same architecture, ready to resume training",
                         [f"`make_optimizer()` must return the optimizer class you trained with (the file has "
                          f"{report.optimizer.variables if report.optimizer else '?'} optimizer variables); "
                          "its learning rate and step count come from the file",
                          "only a file written by the same Keras (Keras 3 vs tf-keras) restores the optimizer"])
    option.restores_optimizer = True
    return option


def _savedmodel(report: Report) -> list[ReloadOption]:
    p = report.source.uri
    endpoint = "serving_default"
    detail = report.format_detail or ""
    k3_fail = s.join("import keras", s.load_model_call("keras.saving.load_model", p, []))
    layer = s.join("import keras", f"model = keras.layers.TFSMLayer({s.q(p)}, call_endpoint={endpoint!r})")
    tf_load = s.join("import tensorflow as tf", f"model = tf.saved_model.load({s.q(p)})")
    opts = []
    if report.contents.architecture and "keras_metadata.pb" in detail and "no keras_metadata" not in detail:
        kw, cav = _kwargs(report)
        if report.contents.optimizer_state:
            cav.append("the optimizer's progress is not restored (iterations is 0 after loading a SavedModel, "
                       "observed with tf-keras 2.21)")
        opts.append(_full_model(TFK, "tf_keras", "tf_keras", "tf_keras.models.load_model", report, kw, cav,
                                restores=False))
    opts += [
        ReloadOption(keras=K3, python=layer, works=True, loader="keras3", load=layer,
                     purpose="inference only: a Keras 3 layer running the SavedModel's serving signature",
                     caveats=["not a Keras model: no training, no layers; call it on a batch of inputs"]),
        ReloadOption(keras=TF, python=tf_load, works=True, loader="tensorflow", load=tf_load,
                     purpose="the raw TensorFlow object and its signatures",
                     caveats=[f"run it with model.signatures[{endpoint!r}](...)"]),
        _fails(K3, "keras3", k3_fail, E_K3_NOT_SUPPORTED, "Keras 3 load_model does not read SavedModels"),
    ]
    return opts


def _checkpoint(report: Report) -> list[ReloadOption]:
    prefix = report.source.uri[: -len(".index")]
    load = f"model.load_weights({s.q(prefix)}).expect_partial()"
    return [
        _build_then(TFK, "tf_keras", "tf_keras", report, load,
                    "weights into the same architecture, restored by object position",
                    ["pass the prefix, without .index", "a different architecture restores partially and only "
                     "logs warnings: call .assert_consumed() instead of .expect_partial() to be sure"]),
        _build_then(K3, "keras3", "keras", report, f"model.load_weights({s.q(prefix)})",
                    "Keras 3 cannot read TensorFlow checkpoints (load them in tf-keras, then save_weights to "
                    "a .weights.h5)", works=False, error=E_K3_NOT_SUPPORTED),
    ]


from bot.analysis.advice import hub_advice  # noqa: E402 - the KerasHub builders reuse the helpers above

_BUILDERS = {
    "keras-hub-preset": hub_advice.preset_options,
    "keras-hub-lora": hub_advice.lora_options,
    "keras-h5-model": _h5_model,
    "keras-h5-weights": _h5_weights,
    "keras-v3-archive": _v3_archive,
    "keras-v3-weights": _v3_weights,
    "keras-v3-sharded-weights": _v3_weights,
    "tf-savedmodel": _savedmodel,
    "tf-checkpoint": _checkpoint,
}
