"""TFLite flatbuffers: subgraphs, tensors and constant buffers, read from the file's tables."""

from __future__ import annotations

from bot.analysis.io.artifact import Artifact
from bot.analysis.others.framework_report import framework_reload, new_report
from bot.analysis.wire.flatbuffer import read_tflite_summary
from bot.report import Contents, Params, Report


def looks_like_tflite(head: bytes) -> bool:
    return head[4:8] == b"TFL3"


def report_from_tflite(artifact: Artifact) -> Report:
    report = new_report(artifact, "tflite")
    with artifact.open() as f:
        summary = read_tflite_summary(f, artifact.size() or 0)
    report.params = Params(total=summary.constant_elements)
    report.contents = Contents(architecture=True, weights=summary.constant_elements > 0)
    report.format_detail = (f"TensorFlow Lite schema v{summary.version}, {summary.subgraphs} subgraph(s), "
                            f"{summary.tensors} tensors, {summary.buffers} buffers"
                            + (f", {summary.description!r}" if summary.description else "")
                            + (f", signatures {', '.join(summary.signatures)}" if summary.signatures else ""))
    report.warn("tflite-params", "Parameters = elements of constant tensors (weights and other "
                "constants); quantized models count elements, not bytes.")
    report.reload = framework_reload("A TensorFlow Lite flatbuffer: run it with the TFLite interpreter.",
                            "TensorFlow Lite",
                            f"import tensorflow as tf\ninterpreter = tf.lite.Interpreter(model_path="
                            f"{artifact.name!r})\ninterpreter.allocate_tensors()")
    return report
