"""Reload advice for KerasHub presets and LoRA adapter files (proven in tests/test_keras_hub_presets.py).

`keras_hub.models.<Task or Backbone>.from_preset(folder)` is the loader (keras_hub/src/utils/
preset_utils.py); it reads a folder (or a kaggle://, hf://, gs:// handle), not a zip, and
KerasHub 0.32 `Backbone.from_preset` drops a saved DTypePolicyMap (config.json), so a quantized preset
without a task is rebuilt from config.json; a task preset keeps it (task.json) and loads as usual.
"""

from __future__ import annotations

from bot.analysis.advice import snippets as s
from bot.report import ReloadOption, Report

K3 = "Keras 3 + KerasHub"


def _preset_path(report: Report) -> tuple[str, str]:
    """(setup lines, expression naming the preset folder) for where the user pointed."""
    uri = report.source.uri
    detail = report.format_detail or ""
    if "(zip)" in detail:
        setup = ("import tempfile, zipfile\n"
                 "preset = tempfile.mkdtemp()  # from_preset reads a folder, not a zip\n"
                 f"with zipfile.ZipFile({s.q(uri)}) as zf:\n"
                 "    zf.extractall(preset)\n"
                 "    top = [n for n in zf.namelist() if n.endswith('config.json')]\n"
                 "preset = preset + '/' + min(top, key=len)[: -len('config.json')]")
        return setup, "preset"
    if "(config.json)" in detail:
        return "", s.q(uri[: -len("config.json")].rstrip("/") or ".")
    return "", s.q(uri.rstrip("/"))


def preset_options(report: Report) -> list[ReloadOption]:
    setup, where = _preset_path(report)
    preset = report.preset
    cls = (report.model.class_name if report.model else None) or (preset.backbone if preset else "Backbone")
    from_preset = s.join("import keras_hub", setup, f"model = keras_hub.models.{cls}.from_preset({where})")
    has_task = bool(preset and cls != preset.backbone)
    if report.quantization is None or has_task:
        # A task preset deserializes its backbone from task.json, keeping the quantized dtype map (observed:
        # GemmaCausalLM.from_preset loads an int8 preset whose GemmaBackbone.from_preset fails).
        what = "the task with its preprocessor" if has_task else "the backbone"
        return [ReloadOption(keras=K3, python=from_preset, works=True, loader="keras3", load=from_preset,
                             purpose=f"{what}, as KerasHub builds it from the preset",
                             caveats=["pip install keras-hub (it registers the classes the preset names)"])]
    weights = "model.weights.json" if "sharded" in (report.format_detail or "") else "model.weights.h5"
    rebuild = s.join("import json", "import keras", "import keras_hub  # registers the KerasHub classes", setup,
                     f"with open({where} + '/config.json') as f:",
                     "    model = keras.saving.deserialize_keras_object(json.load(f))  # keeps the quantized "
                     "dtype map",
                     f"model.load_weights({where} + '/{weights}')")
    return [
        ReloadOption(keras=K3, python=rebuild, works=True, loader="keras3", load=rebuild,
                     purpose=f"the {report.quantization.mode}-quantized backbone, rebuilt from its config",
                     caveats=["from_preset cannot load quantized presets in KerasHub 0.32 (see the other option)"]),
        ReloadOption(keras=K3, python=from_preset, works=False, loader="keras3", load=from_preset,
                     purpose="KerasHub 0.32 builds a float model and rejects the quantized weights",
                     error="could not be loaded"),
    ]


def lora_options(report: Report) -> list[ReloadOption]:
    uri = report.source.uri
    if report.preset is not None:
        folder = uri.rsplit("/", 1)[0] if "/" in uri else "."
        python = s.join("import keras_hub", f"model = keras_hub.models.{report.preset.backbone}.from_preset("
                        f"{s.q(folder)})", f"model.load_lora_weights({s.q(uri)})")
        return [ReloadOption(keras=K3, python=python, works=True, loader="keras3", load=python,
                             purpose="the preset beside the file with these adapters applied (only they train)")]
    python = s.join("import keras_hub",
                    "PRESET = \"path/or/handle/of/the/base/preset\"  # the preset the adapters were trained on",
                    "model = keras_hub.models.Backbone.from_preset(PRESET)",
                    f"model.load_lora_weights({s.q(uri)})")
    return [ReloadOption(keras=K3, python=python, works=True, loader="keras3", load=python, build_first=True,
                         purpose="apply the adapters to the backbone they were trained on",
                         caveats=["set PRESET: the file does not say which preset it belongs to"])]
