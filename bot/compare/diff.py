"""What changed between two model files, from their Reports alone (no tensor data).

Layers pair by name; a layer present on one side only that has the class and weight shapes
of one present on the other side only, at the same position among the unpaired, is reported
as renamed.  Weights pair by their name inside the layer ("kernel", "in_d/kernel"), which
ignores Keras 2's ":0" and the layer prefix, so a `.h5` and a `.keras` of one model compare
cleanly; when names differ in style (old v3 files only number variables) they pair by index.
"""

from __future__ import annotations

from bot.compare.compat import file_ref
from bot.compare.results import DiffReport, LayerChange, WeightChange
from bot.report import LayerInfo, Report, ReportError, WeightInfo


def diff_reports(a: Report, b: Report) -> DiffReport:
    out = DiffReport(a=file_ref(a), b=file_ref(b))
    for side, r in (("A", a), ("B", b)):
        if r.error is not None:
            out.error = ReportError(r.error.code, f"{side} ({r.source.name}): {r.error.message}")
            return out
    pairs = _pair_layers(a.layers, b.layers, out)
    for la, lb in pairs:
        if la.class_name != lb.class_name and "unknown" not in (la.class_name, lb.class_name):
            out.layers.append(LayerChange("class-changed", la.name, lb.name, la.class_name, lb.class_name,
                                          la.params, lb.params))
        _diff_weights(la, lb, out)
    if a.params and b.params:
        out.params_delta = b.params.total - a.params.total
    ia, ib = (a.optimizer.iterations if a.optimizer else None), (b.optimizer.iterations if b.optimizer else None)
    if ia is not None and ib is not None:
        out.steps_delta = ib - ia
    out.same_architecture = not out.layers and not out.weights
    out.changes = _headlines(a, b, out)
    return out


def weight_key(layer: LayerInfo, w: WeightInfo) -> str:
    """'dense/kernel:0' → 'kernel'; 'inner/in_d/kernel' in layer 'inner' → 'in_d/kernel'."""
    name = w.name.split(":")[0]
    prefix = layer.name + "/"
    return name[len(prefix):] if name.startswith(prefix) else name.rsplit("/", 1)[-1]


def weight_pairs(la: LayerInfo, lb: LayerInfo) -> list[tuple[WeightInfo | None, WeightInfo | None]]:
    ka = {weight_key(la, w): w for w in la.weights}
    kb = {weight_key(lb, w): w for w in lb.weights}
    if set(ka) != set(kb) and len(la.weights) == len(lb.weights) and not set(ka) & set(kb):
        return list(zip(la.weights, lb.weights))  # naming styles differ: pair by position
    keys = list(ka) + [k for k in kb if k not in ka]
    return [(ka.get(k), kb.get(k)) for k in keys]


def layer_pairs(a: Report, b: Report) -> list[tuple[LayerInfo, LayerInfo]]:
    return _pair_layers(a.layers, b.layers, DiffReport())


def _pair_layers(la: list[LayerInfo], lb: list[LayerInfo], out: DiffReport) -> list[tuple[LayerInfo, LayerInfo]]:
    names_b = {l.name: l for l in lb}
    names_a = {l.name for l in la}
    pairs = [(l, names_b[l.name]) for l in la if l.name in names_b]
    only_a = [l for l in la if l.name not in names_b]
    only_b = [l for l in lb if l.name not in names_a]
    for x in list(only_a):
        match = next((y for y in only_b if _same_shape(x, y)), None)
        if match is not None and only_a.index(x) == only_b.index(match):
            only_a.remove(x)
            only_b.remove(match)
            pairs.append((x, match))
            out.layers.append(LayerChange("renamed", x.name, match.name, x.class_name, match.class_name,
                                          x.params, match.params))
    for x in only_a:
        out.layers.append(LayerChange("removed", name_a=x.name, class_a=x.class_name, params_a=x.params))
    for y in only_b:
        out.layers.append(LayerChange("added", name_b=y.name, class_b=y.class_name, params_b=y.params))
    return pairs


def _same_shape(x: LayerInfo, y: LayerInfo) -> bool:
    same_class = x.class_name == y.class_name or "unknown" in (x.class_name, y.class_name)
    return same_class and [w.shape for w in x.weights] == [w.shape for w in y.weights]


def _diff_weights(la: LayerInfo, lb: LayerInfo, out: DiffReport) -> None:
    for wa, wb in weight_pairs(la, lb):  # a pair has at least one side
        if wa is None and wb is not None:
            name = weight_key(lb, wb)
            out.weights.append(WeightChange(lb.name, name, "added", shape_b=wb.shape, dtype_b=wb.dtype))
            continue
        if wa is None:
            continue
        name = weight_key(la, wa)
        if wb is None:
            out.weights.append(WeightChange(la.name, name, "removed", shape_a=wa.shape, dtype_a=wa.dtype))
        elif list(wa.shape) != list(wb.shape):
            out.weights.append(WeightChange(lb.name, name, "reshaped", wa.shape, wb.shape, wa.dtype, wb.dtype))
        elif wa.dtype != wb.dtype:
            out.weights.append(WeightChange(lb.name, name, "dtype-changed", wa.shape, wb.shape, wa.dtype, wb.dtype))


def _headlines(a: Report, b: Report, out: DiffReport) -> list[str]:
    lines = []
    if a.format != b.format:
        lines.append(f"Format: {a.format} → {b.format}")
    if a.keras_version != b.keras_version and (a.keras_version or b.keras_version):
        lines.append(f"Written by Keras {a.keras_version or '?'} → {b.keras_version or '?'}")
    counts: dict[str, int] = {}
    for c in out.layers:
        counts[c.change] = counts.get(c.change, 0) + 1
    for change, n in counts.items():
        lines.append(f"{n} layer(s) {change.replace('-', ' ')}")
    wcounts: dict[str, int] = {}
    for w in out.weights:
        wcounts[w.change] = wcounts.get(w.change, 0) + 1
    for change, n in wcounts.items():
        lines.append(f"{n} weight(s) {change.replace('-', ' ')}")
    if out.params_delta and a.params and b.params:
        lines.append(f"Parameters: {a.params.total:,} → {b.params.total:,} ({out.params_delta:+,})")
    if out.steps_delta is not None and out.steps_delta != 0 and a.optimizer and b.optimizer:
        lines.append(f"Steps trained: {a.optimizer.iterations:,} → {b.optimizer.iterations:,} "
                     f"({out.steps_delta:+,})")
    oa = a.optimizer.class_name if a.optimizer else None
    ob = b.optimizer.class_name if b.optimizer else None
    if oa != ob:
        lines.append(f"Optimizer: {oa or 'none'} → {ob or 'none'}")
    lra = a.optimizer.learning_rate if a.optimizer else None
    lrb = b.optimizer.learning_rate if b.optimizer else None
    if lra is not None and lrb is not None and lra != lrb:
        lines.append(f"Learning rate: {lra:g} → {lrb:g}")
    if not lines:
        lines.append("Same architecture, same shapes" + (" (compare numbers with --values)" if out.values is None
                                                          else ""))
    return lines
