"""Which loaders would run (or be hurt by) each finding, and how bad it is.

Version facts from keras-team/keras release notes and sources, summarised in
/work/shared/reference/keras-2026.md ("Saving timeline 3.9–3.15", "Known loading exploits"):
safe_mode for `.keras` since 2.13 (CVE-2024-3660); module roots checked from 3.9 (CVE-2025-1550);
NON_MODELING_APIS in `keras/src/saving/serialization_lib.py` from 3.11 (CVE-2025-8747/9906);
legacy `.h5` honours safe_mode and TorchModuleWrapper is guarded from 3.11.3 (CVE-2025-9905/49655);
vocabulary paths refused from 3.12 (CVE-2025-12058); HDF5 links refused from 3.12.1/3.13.2
(CVE-2026-1669); TFSMLayer refused under safe mode from 3.13.2 (CVE-2026-1462); bombs refused
from 3.12.1/3.13.1 (CVE-2026-0897).  tf-keras ignores safe_mode for `.h5` (keras-team/tf-keras#910).
"""

from __future__ import annotations

# "dangerous": loading runs or reads something the file chose.  "needs-trust": loading runs code you
# must supply or import yourself (a custom class), or a pickle that is safe only with the safe loader.
DANGEROUS = frozenset({"lambda-bytecode", "foreign-module", "denylisted-api", "safe-mode-off",
                       "torch-module-wrapper", "vocabulary-path", "tokenizer-path", "tfsm-layer", "hdf5-link",
                       "size-bomb", "pickle-code", "unsafe-structure", "hdf5-link-cycle"})
NEEDS_TRUST = frozenset({"custom-class", "pickle", "config-too-large", "hdf5-hard-link", "hdf5-too-many-objects"})

_KERAS_FILE = {
    "lambda-bytecode": ["Keras < 2.13 (no safe_mode)", "any Keras with safe_mode=False",
                        "Keras >= 2.13 refuses it by default"],
    "foreign-module": ["Keras < 3.9 (imports any module)", "Keras >= 3.9 refuses it"],
    "custom-class": ["any Keras once you import or register the class"],
    "denylisted-api": ["Keras < 3.11", "Keras >= 3.11 refuses it"],
    "safe-mode-off": ["Keras < 3.11", "Keras >= 3.11 refuses it"],
    "torch-module-wrapper": ["Keras < 3.11.3 (torch backend)", "Keras >= 3.11.3 refuses it in safe mode"],
    "vocabulary-path": ["Keras < 3.12 (reads the path at load)", "Keras >= 3.12 refuses paths"],
    "tokenizer-path": ["KerasHub < 0.26 (reads the path at load)", "some KerasHub tokenizers still (keras-hub#2771)"],
    "tfsm-layer": ["Keras < 3.13.2", "any Keras with safe_mode=False", "Keras >= 3.13.2 refuses it in safe mode"],
    "hdf5-link": ["h5py / tf-keras (follow links)", "Keras < 3.12.1 and 3.13.0–3.13.1",
                  "Keras >= 3.13.2 refuses it"],
    "size-bomb": ["Keras < 3.12.1 and 3.13.0 (allocates it)", "Keras >= 3.13.1 refuses it"],
    "pickle-code": ["torch.load(weights_only=False)", "numpy.load(allow_pickle=True)", "pickle.load"],
    "pickle": ["torch.load(weights_only=False) / numpy.load(allow_pickle=True) run it",
               "torch >= 2.6 weights_only=True refuses code"],
    "unsafe-structure": ["any loader that follows it"],
    "config-too-large": [],
    "hdf5-link-cycle": ["h5py visititems and any loader that walks the file (never ends)"],
    "hdf5-hard-link": ["loaders that walk the file see the same data twice"],
    "hdf5-too-many-objects": [],
}

# Legacy `.h5` (model_config attribute): tf-keras never applies safe_mode, and Keras 3 applied it only
# from 3.11.3 (CVE-2025-9905).
_H5_FILE = {
    "lambda-bytecode": ["tf-keras (safe_mode ignored for .h5)", "Keras < 3.11.3 (safe_mode ignored for .h5)",
                        "Keras >= 3.11.3 refuses it by default"],
    "custom-class": ["tf-keras and Keras once you pass custom_objects"],
}

H5_FORMATS = ("keras-h5-model", "keras-h5-weights")


def exposed(code: str, file_format: str) -> list[str]:
    if file_format in H5_FORMATS and code in _H5_FILE:
        return list(_H5_FILE[code])
    return list(_KERAS_FILE.get(code, []))


def extra_cves(code: str, file_format: str) -> list[str]:
    return ["CVE-2025-9905"] if code == "lambda-bytecode" and file_format in H5_FORMATS else []
