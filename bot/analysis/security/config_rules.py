"""One rule per known Keras loading exploit, each a function (node, where) -> findings.

A node is any dict of a model config; the walker hands every one to every rule, so a pattern is
found at any depth (nested models, wrappers, initializers, regularizers, dtype policies, Lambda
`arguments`).  Patterns follow the published proofs of concept listed in
/work/shared/reference/keras-2026.md ("Known loading exploits"); `exposed` is filled in by
`exposure.py`, which knows which loaders run what.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from bot.report import SecurityFinding

Rule = Callable[[dict[str, Any], str], Iterator[SecurityFinding]]

# keras/src/saving/serialization_lib.py (_retrieve_class_or_fn): only these package roots may be
# imported while deserializing in safe mode (Keras >= 3.11).
KERAS_ROOTS = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp"})
# tf-keras writes its own classes under these roots; its loader resolves them by name, not by import.
_OWN_ROOTS = KERAS_ROOTS | {"tf_keras"}

# keras/src/saving/serialization_lib.py NON_MODELING_APIS (keras-team/keras 3422977a, Aug 2026): functions
# Keras >= 3.11 refuses to deserialize because calling them reads, writes or fetches files or turns
# safety off.  Matched by their last name too, since the exploits spell the module several ways.
NON_MODELING_APIS = frozenset({
    "keras.backend.clear_session", "keras.config.enable_unsafe_deserialization", "keras.models.load_model",
    "keras.models.model_from_json", "keras.models.save_model", "keras.preprocessing.image_dataset_from_directory",
    "keras.preprocessing.image.load_img", "keras.preprocessing.image.save_img",
    "keras.preprocessing.text_dataset_from_directory", "keras.saving.deserialize_keras_object",
    "keras.saving.load_model", "keras.saving.load_weights", "keras.saving.register_keras_serializable",
    "keras.saving.save_model", "keras.saving.save_weights", "keras.saving.serialize_keras_object",
    "keras.utils.audio_dataset_from_directory", "keras.utils.clear_session", "keras.utils.deserialize_keras_object",
    "keras.utils.get_file", "keras.utils.image_dataset_from_directory", "keras.utils.load_img",
    "keras.utils.register_keras_serializable", "keras.utils.save_img", "keras.utils.serialize_keras_object",
    "keras.utils.text_dataset_from_directory",
})
_DENIED_NAMES = frozenset(n.rsplit(".", 1)[1] for n in NON_MODELING_APIS) | {"set_global_attribute"}

# Module roots whose import alone gives a shell, a file or a socket: never a model's custom code.
SYSTEM_ROOTS = frozenset({
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib",
    "pickle", "marshal", "runpy", "ctypes", "pty", "code", "codecs", "webbrowser", "urllib", "http", "requests",
    "io", "pathlib", "tempfile", "multiprocessing", "threading", "signal", "platform", "types", "functools",
    "operator", "inspect", "eval", "exec",
})

LOOKUP_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
TOKENIZER_PATH_KEYS = ("vocabulary", "merges", "proto", "spm_proto", "vocabulary_file")


def _plain(class_name: Any) -> str:
    return str(class_name).rsplit(">", 1)[-1] if class_name is not None else ""


def _cfg(node: dict[str, Any]) -> dict[str, Any]:
    cfg = node.get("config")
    return cfg if isinstance(cfg, dict) else {}


def _f(code: str, cve: list[str], where: str, message: str) -> SecurityFinding:
    return SecurityFinding(code=code, cve=cve, where=where, message=message, exposed=[])


def lambda_bytecode(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """Marshalled Python bytecode: Keras 3 `__lambda__` objects, legacy `function_type: "lambda"`."""
    if node.get("class_name") == "__lambda__" and "code" in _cfg(node):
        yield _f("lambda-bytecode", ["CVE-2024-3660"], where,
                 "A serialized Python lambda (marshalled bytecode): loading the model runs it.")
    elif _plain(node.get("class_name")) == "Lambda":
        cfg = _cfg(node)
        fn = cfg.get("function")
        if cfg.get("function_type") == "lambda" or (isinstance(fn, list) and fn and isinstance(fn[0], str)):
            yield _f("lambda-bytecode", ["CVE-2024-3660"], where,
                     "A Lambda layer with marshalled Python bytecode (legacy format): loading the model runs it.")


def foreign_module(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """A `module` outside keras/keras_hub/keras_cv/keras_nlp: deserializing imports it (CVE-2025-1550)."""
    module = node.get("module")
    if not isinstance(module, str) or "class_name" not in node:
        return
    root = module.split(".", 1)[0]
    if root in _OWN_ROOTS:
        return
    name = node.get("config") if node.get("class_name") == "function" else _plain(node.get("class_name"))
    if root in SYSTEM_ROOTS or node.get("class_name") == "function":
        yield _f("foreign-module", ["CVE-2025-1550"], where,
                 f"Refers to `{module}.{name}`: loading imports `{module}` and calls it — not model code.")
    else:
        yield _f("custom-class", ["CVE-2025-1550"], where,
                 f"Custom class `{name}` from module `{module}`: loading imports that module, so it runs "
                 "whatever code it holds. Trust it only if you know the module.")


def denylisted_function(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """Function objects naming Keras' own file/safety APIs (CVE-2025-8747, CVE-2025-9906)."""
    module = node.get("module")
    module = module if isinstance(module, str) else ""
    target = node.get("config") if node.get("class_name") in ("function", "__function__") else None
    if isinstance(target, str):
        full = f"{module}.{target}" if module else target
        last = target.rsplit(".", 1)[-1]
        if full in NON_MODELING_APIS or last in _DENIED_NAMES or "global_state" in full:
            yield _f("denylisted-api", ["CVE-2025-8747", "CVE-2025-9906"], where,
                     f"A function reference to `{full}`: loading calls it (fetches or reads files, or turns "
                     "safe mode off); Keras lists it in NON_MODELING_APIS.")
    elif "global_state" in module or module.endswith("enable_unsafe_deserialization"):
        yield _f("denylisted-api", ["CVE-2025-9906"], where,
                 f"Refers to `{module}`: loading can switch safe mode off for everything after it.")
    if node.get("safe_mode") is False or _cfg(node).get("safe_mode") is False:
        yield _f("safe-mode-off", ["CVE-2025-9906"], where,
                 "Passes `safe_mode: false` to a nested load: the model it loads may run code.")


def torch_module_wrapper(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """TorchModuleWrapper carries a base64 torch pickle (CVE-2025-49655)."""
    if _plain(node.get("class_name")) == "TorchModuleWrapper" and isinstance(_cfg(node).get("module"), str):
        yield _f("torch-module-wrapper", ["CVE-2025-49655"], where,
                 "TorchModuleWrapper with a serialized torch module (a pickle): loading unpickles it and runs code.")


def vocabulary_path(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """Lookup layers and KerasHub tokenizers whose vocabulary is a path or URL (CVE-2025-12058)."""
    plain = _plain(node.get("class_name"))
    cfg = _cfg(node)
    if plain in LOOKUP_LAYERS and isinstance(cfg.get("vocabulary"), str):
        yield _f("vocabulary-path", ["CVE-2025-12058"], where,
                 f"{plain} reads its vocabulary from `{cfg['vocabulary'][:200]}`: loading opens that local "
                 "file or URL.")
    elif plain.endswith("Tokenizer") and str(node.get("module", "")).startswith(("keras_hub", "keras_nlp")):
        for key in TOKENIZER_PATH_KEYS:
            if isinstance(cfg.get(key), str) and cfg[key]:
                yield _f("tokenizer-path", [], f"{where}.config.{key}",
                         f"{plain} reads `{key}` from `{cfg[key][:200]}`: loading opens that file.")


def tfsm_layer(node: dict[str, Any], where: str) -> Iterator[SecurityFinding]:
    """TFSMLayer loads and runs a SavedModel from `filepath` (CVE-2026-1462)."""
    if _plain(node.get("class_name")) == "TFSMLayer" or node.get("config") == "TFSMLayer":
        path = _cfg(node).get("filepath")
        yield _f("tfsm-layer", ["CVE-2026-1462"], where,
                 "TFSMLayer loads and runs the TensorFlow SavedModel at "
                 f"`{str(path)[:200]}`: its graph runs on load." if path else
                 "A reference to TFSMLayer: loading runs a TensorFlow SavedModel.")


RULES: tuple[Rule, ...] = (lambda_bytecode, foreign_module, denylisted_function, torch_module_wrapper,
                           vocabulary_path, tfsm_layer)
