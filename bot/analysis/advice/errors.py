"""What each Keras says when it cannot load a file, and the version facts behind the advice.

Error texts are verbatim parts of the messages Keras 3.15 / tf-keras 2.21 raise
(keras-formats.md §5, tests/fixtures/keras/expected.json); the reload-advice matrix test
executes every failure the advisor states and matches these texts.
"""

from __future__ import annotations

from bot.report import LayerInfo

# Keras 3 compiles a legacy .h5 by deserializing the loss through keras.metrics, where these
# short aliases are plain functions: "Could not deserialize 'keras.metrics.mse' because it is
# not a KerasSaveable subclass" (observed with 3.15.1; "mean_squared_error" etc. load).
K3_H5_FAILING_LOSS_ALIASES = frozenset({"mse", "mae", "mape", "msle", "kld", "MSE", "MAE", "MAPE", "MSLE", "KLD"})
# Keras 2 recurrent layers store `time_major`, which Keras 3 rejects.
K2_RNN_CLASSES = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM2D", "ConvLSTM1D"})
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
# Standalone Keras before 2.2.3 stored a Sequential config as a bare list of layers.
SEQUENTIAL_DICT_CONFIG_SINCE = (2, 2, 3)

# Error texts, verbatim parts of what each Keras raises (tests match them).
E_K3_NOT_SUPPORTED = "File format not supported: filepath="
E_TFK_K3_CONFIG = "Error when deserializing class 'InputLayer' using config={'batch_shape'"
E_TFK_K3_ARCHIVE = "because its parent module tf_keras.src"
E_K3_TFK_ARCHIVE = "Could not locate class 'Functional'"
E_K3_K213_ARCHIVE = "because its parent module keras."
E_NO_VARS = "variables, but received 0 variables during loading"
E_K3_NESTED_K2 = "Invalid Functional model configuration"
E_K3_RNN_K2 = "Unrecognized keyword arguments passed to"
E_K3_MIXED_K2 = "'str' object has no attribute 'quantization_mode'"
E_K3_BARE_SEQUENTIAL = "pop expected at most 1 argument, got 2"
E_K1_CONFIG = "Error when deserializing class"
E_BF16 = "No cast function available."
E_NOT_ZIP = "File is not a zip file"
E_TFK_SHARDED = "file signature not found"
E_TFK_NOT_SAVEDMODEL = "SavedModel file does not exist at"


def counter_gap(layers: list[LayerInfo]) -> bool:
    """Keras 2.13 named the second Dense `dense_2`: Keras 3 then looks for `dense_1` and finds nothing."""
    seen: dict[str, list[int]] = {}
    for layer in layers:
        key = (layer.path or layer.name).rsplit("/", 1)[-1]
        base, _, digits = key.rpartition("_")
        base, n = (base, int(digits)) if digits.isdigit() else (key, 0)
        seen.setdefault(base, []).append(n)
    return any(sorted(v) != list(range(len(v))) for v in seen.values())
