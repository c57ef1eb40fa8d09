"""What every non-Keras format report shares: the report shell and the "use its own framework" reload.

Each gets a name, what the bytes say cheaply (parameter counts from shapes, never from tensor
data) and the loader of the framework that owns it.  Nothing here runs code from the file:
PyTorch and object-dtype NumPy files are pickles, which we list with `pickletools.genops`
(a tokenizer) and never unpickle.
"""

from __future__ import annotations

from bot.analysis.io.artifact import Artifact
from bot.report import Reload, ReloadOption, Report, SourceInfo

NOT_KERAS = "This is not a Keras file, so Keras cannot load it; use the framework that owns the format."


def new_report(artifact: Artifact, fmt: str) -> Report:
    return Report(source=SourceInfo(artifact.name, artifact.uri, artifact.size()), format=fmt)


def shape_product(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def framework_reload(summary: str, framework: str, python: str, caveats: list[str] | None = None) -> Reload:
    return Reload(summary=f"{summary} {NOT_KERAS}", python=python,
                  options=[ReloadOption(keras=framework, python=python, works=True, purpose="load",
                                        caveats=caveats or []),
                           ReloadOption(keras="Keras", python="", works=False, purpose="not a Keras format",
                                        error=NOT_KERAS)])
