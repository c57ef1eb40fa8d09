"""ckptbot: what is in this checkpoint, and how do I load it?

The public surface.  Names are imported lazily so that `import bot` (and the CLI's start-up)
stays cheap: h5py, numpy, Redis and Slack are loaded only by the commands that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Contents",
    "ErrorCode",
    "Finding",
    "LayerInfo",
    "ModelInfo",
    "OptimizerInfo",
    "Params",
    "Reload",
    "ReloadOption",
    "Report",
    "ReportError",
    "Settings",
    "SizeBreakdown",
    "SourceInfo",
    "WeightInfo",
    "__version__",
    "check",
    "diff",
    "inspect",
]

_LAZY = {
    "ErrorCode": "bot.errors",
    "Settings": "bot.config",
    "inspect": "bot.service",
    "diff": "bot.service",
    "check": "bot.service",
    **{n: "bot.report" for n in ("Contents", "Finding", "LayerInfo", "ModelInfo", "OptimizerInfo", "Params",
                                 "Reload", "ReloadOption", "Report", "ReportError", "SizeBreakdown",
                                 "SourceInfo", "WeightInfo")},
}

if TYPE_CHECKING:  # pragma: no cover
    from bot.config import Settings
    from bot.errors import ErrorCode
    from bot.report import (
        Contents,
        Finding,
        LayerInfo,
        ModelInfo,
        OptimizerInfo,
        Params,
        Reload,
        ReloadOption,
        Report,
        ReportError,
        SizeBreakdown,
        SourceInfo,
        WeightInfo,
    )
    from bot.service import check, diff, inspect


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
