"""What we know about Keras classes without importing Keras.

Built-in names decide what counts as a custom object; per-class variable roles decide
which variables live Keras reports as non-trainable, since no file stores trainable flags
per variable (keras-formats.md §7).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from bot.report import LayerInfo

# Layers, models and wrappers that ship with Keras 1/2/3 and tf-keras.  A class outside
# this set (and without a `keras.*` module in a v3 config) needs custom_objects to load.
BUILTIN_LAYERS = frozenset(
    """
    InputLayer Input Dense Activation Dropout Flatten Reshape Permute RepeatVector Lambda
    ActivityRegularization Masking SpatialDropout1D SpatialDropout2D SpatialDropout3D
    Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose Convolution1D
    Convolution2D Convolution3D Deconvolution2D Deconvolution3D SeparableConv1D SeparableConv2D
    SeparableConvolution1D SeparableConvolution2D DepthwiseConv1D DepthwiseConv2D Cropping1D
    Cropping2D Cropping3D UpSampling1D UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D
    ZeroPadding3D MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D
    AveragePooling3D MaxPool1D MaxPool2D MaxPool3D AvgPool1D AvgPool2D AvgPool3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalAveragePooling1D
    GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D
    GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D LocallyConnected1D LocallyConnected2D
    SimpleRNN GRU LSTM SimpleRNNCell GRUCell LSTMCell StackedRNNCells RNN Bidirectional
    TimeDistributed ConvLSTM1D ConvLSTM2D ConvLSTM3D CuDNNGRU CuDNNLSTM Embedding
    Add Subtract Multiply Average Maximum Minimum Concatenate Dot Merge
    LeakyReLU PReLU ELU ThresholdedReLU Softmax ReLU
    BatchNormalization LayerNormalization GroupNormalization UnitNormalization
    SyncBatchNormalization RMSNormalization SpectralNormalization
    GaussianNoise GaussianDropout AlphaDropout
    MultiHeadAttention Attention AdditiveAttention GroupQueryAttention
    Normalization Discretization CategoryEncoding Hashing HashedCrossing IntegerLookup
    StringLookup TextVectorization Rescaling Resizing CenterCrop RandomCrop RandomFlip
    RandomRotation RandomZoom RandomTranslation RandomContrast RandomBrightness RandomHeight
    RandomWidth AutoContrast Equalization Solarization RandomGrayscale RandomColorJitter
    RandomShear RandomPosterization RandomSaturation RandomHue RandomSharpness MixUp CutMix
    Identity Wrapper EinsumDense Pipeline TFSMLayer TorchModuleWrapper JaxLayer FlaxLayer
    TFOpLambda SlicingOpLambda KerasLayer
    Sequential Functional Model
    """.split()
)

BUILTIN_OPTIMIZERS = frozenset(
    "SGD RMSprop Adam AdamW Adadelta Adagrad Adamax Adafactor Nadam Ftrl Lion Lamb Loss"
    "ScaleOptimizer LossScaleOptimizerV3 Muon".split()
) | {"LossScaleOptimizer"}

# Model classes: a layer of one of these is a nested model whose config holds `layers`.
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})

# Classes whose variables are all non-trainable state in live Keras.
ALL_STATE_CLASSES = frozenset(
    {"Normalization", "Discretization", "TextVectorization", "StringLookup", "IntegerLookup",
     "Hashing", "CategoryEncoding"}
)

# Variable base names that are non-trainable state wherever they appear
# (BatchNormalization's moving statistics; Keras 1 called them running_*).
STATE_WEIGHT_NAMES = frozenset(
    {"moving_mean", "moving_variance", "running_mean", "running_std", "moving_stddev",
     "count", "seed_generator_state"}
)


def strip_registered_prefix(class_name: str) -> str:
    """'Custom>Adam' → 'Adam', 'MyPkg>Scale' → 'Scale'."""
    return class_name.rsplit(">", 1)[-1]


def is_builtin_layer(class_name: str) -> bool:
    return class_name in BUILTIN_LAYERS


def weight_basename(name: str) -> str:
    """'model/bn/moving_mean:0' → 'moving_mean'."""
    base = name.rsplit("/", 1)[-1]
    return base.split(":", 1)[0]


def is_state_weight(class_name: str, weight_name: str) -> bool:
    """Whether live Keras lists this variable among non_trainable_weights (given a trainable layer)."""
    if strip_registered_prefix(class_name) in ALL_STATE_CLASSES:
        return True
    return weight_basename(weight_name) in STATE_WEIGHT_NAMES


def v3_state_indices(class_name: str, config: dict, n_vars: int) -> set[int]:
    """Indices of non-trainable variables among a v3 layer's `vars/0..n` (no names in v3 files).

    BatchNormalization saves gamma (if scale), beta (if center), moving_mean, moving_variance
    in that order: the last two are state.
    """
    cls = strip_registered_prefix(class_name)
    if cls in ALL_STATE_CLASSES:
        return set(range(n_vars))
    if cls in {"BatchNormalization", "SyncBatchNormalization"}:
        return {n_vars - 2, n_vars - 1} if n_vars >= 2 else set()
    return set()


_NON_WORD = re.compile(r"\W+")
_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z])([A-Z])")


def to_snake_case(name: str) -> str:
    """Keras' naming.to_snake_case: BatchNormalization → batch_normalization, PReLU → p_re_lu."""
    s = _CAMEL_1.sub(r"\1_\2", _NON_WORD.sub("", name))
    return _CAMEL_2.sub(r"\1_\2", s).lower()


# Loss and metric names Keras resolves by itself (functions and classes, all versions).
BUILTIN_LOSSES = frozenset(
    """
    mse mae mape msle mean_squared_error mean_absolute_error mean_absolute_percentage_error
    mean_squared_logarithmic_error binary_crossentropy categorical_crossentropy
    sparse_categorical_crossentropy binary_focal_crossentropy categorical_focal_crossentropy
    hinge squared_hinge categorical_hinge kld kl_divergence kullback_leibler_divergence poisson
    cosine_similarity cosine_proximity huber huber_loss log_cosh logcosh ctc dice tversky
    circle sparse_categorical_focal_crossentropy
    MeanSquaredError MeanAbsoluteError MeanAbsolutePercentageError MeanSquaredLogarithmicError
    BinaryCrossentropy CategoricalCrossentropy SparseCategoricalCrossentropy BinaryFocalCrossentropy
    CategoricalFocalCrossentropy Hinge SquaredHinge CategoricalHinge KLDivergence Poisson
    CosineSimilarity Huber LogCosh CTC Dice Tversky Circle LossFunctionWrapper Loss
    """.split()
)


_CAMEL = re.compile(r"(?:^|_)([a-z0-9])")
_ACRONYMS = {"Rms": "RMS", "Vit": "ViT", "Mlp": "MLP", "Gpt": "GPT"}


def name_hub_layer(layer: "LayerInfo") -> "LayerInfo":
    """Layers of KerasHub classes, named as KerasHub names them: groups are snake-cased class names."""
    if layer.class_name == "unknown" and layer.name:
        # Groups inside `layers/` are snake-cased class names; a task's attributes (`backbone`, `preprocessor`)
        # are not, and there the layer's own name (`gemma_backbone`) is the class name snake-cased.
        in_container = (layer.path or "").startswith(("layers/", "_layer_checkpoint_dependencies/"))
        key = (layer.path if in_container and layer.path else layer.name).rsplit("/", 1)[-1]
        base = re.sub(r"_\d+$", "", key)
        name = _CAMEL.sub(lambda m: m.group(1).upper(), base)
        for k, v in _ACRONYMS.items():
            name = name.replace(k, v)
        layer.class_name = name
    return layer
