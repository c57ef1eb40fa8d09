"""How long the architecture graph takes: ckptbot (from the file's bytes) beside keras.utils.plot_model.

    python benchmarks/bench_graph.py [--repeat 3]

Builds two models with real Keras 3 and saves them as .keras: a 1,000-layer MLP and a
48-block transformer encoder (MultiHeadAttention, Add, LayerNormalization, Dense ×2 per block).
For each it prints, side by side:

* ckptbot: read the file → Report (with its graph) → SVG through Graphviz, folded (the default:
  repeats drawn once "× N") and unfolded (every layer drawn);
* keras.utils.plot_model on the live model, written as SVG (pydot + the same `dot`);
* time to first contentful paint in Debian's Chromium of the page holding each SVG.

Timings are medians of --repeat runs on this machine; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def build_mlp(K, n: int = 1000):
    x = inp = K.Input((16,), name="x")
    for i in range(n - 1):  # + the InputLayer = n layers
        x = K.layers.Dense(16, name=f"dense_{i}")(x)
    return K.Model(inp, x, name="mlp1000")


def build_transformer(K, blocks: int = 48, dim: int = 32, heads: int = 2, seq: int = 16):
    L = K.layers
    x = inp = K.Input((seq, dim), name="tokens")
    for b in range(blocks):
        att = L.MultiHeadAttention(heads, dim // heads, name=f"b{b}_mha")(x, x)
        x = L.LayerNormalization(name=f"b{b}_ln1")(L.Add(name=f"b{b}_add1")([x, att]))
        ff = L.Dense(dim, name=f"b{b}_ff2")(L.Dense(dim * 2, activation="relu", name=f"b{b}_ff1")(x))
        x = L.LayerNormalization(name=f"b{b}_ln2")(L.Add(name=f"b{b}_add2")([x, ff]))
    return K.Model(inp, L.Dense(4, name="head")(x), name="transformer48")


def median_time(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _plot_model(K, model, to_file: Path) -> None:
    try:
        K.utils.plot_model(model, to_file=str(to_file), show_shapes=True, show_layer_names=True)
    except ValueError:  # the SVG is written; only the IPython preview it returns refuses SVG
        pass


def first_paint(browser, html: str, tmp: Path, name: str) -> float:
    path = tmp / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    fcp = page.evaluate("""() => new Promise(done => {
        const e = performance.getEntriesByName('first-contentful-paint');
        if (e.length) return done(e[0].startTime);
        new PerformanceObserver(l => done(l.getEntries()[0].startTime)).observe({type: 'paint', buffered: true});
    })""")
    page.close()
    return fcp / 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import keras as K
    from playwright.sync_api import sync_playwright

    from bot.analysis import PathArtifact, read_report
    from bot.render.graph_svg import render_svg
    from bot.render.html import page, report_page

    tmp = Path(tempfile.mkdtemp(prefix="bench_graph_"))
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for build in (build_mlp, build_transformer):
            model = build(K)
            path = tmp / f"{model.name}.keras"
            model.save(path)
            t_read, report = median_time(lambda: read_report(PathArtifact(str(path))), args.repeat)
            t_fold, drawing = median_time(lambda: render_svg(report.graph), args.repeat)
            t_full, full = median_time(lambda: render_svg(report.graph, fold_above=10**9), args.repeat)
            svg_k = tmp / f"{model.name}.plot_model.svg"
            t_keras, _ = median_time(lambda: _plot_model(K, model, svg_k), args.repeat)
            keras_svg = svg_k.read_text(encoding="utf-8")
            keras_svg = keras_svg[keras_svg.find("<svg"):]
            paint_page = first_paint(browser, report_page(report), tmp, f"{model.name}.page")
            paint_fold = first_paint(browser, page("g", drawing.svg), tmp, f"{model.name}.fold")
            paint_full = first_paint(browser, page("g", full.svg), tmp, f"{model.name}.full")
            paint_keras = first_paint(browser, page("k", keras_svg), tmp, f"{model.name}.keras")
            rows.append((model.name, len(model.layers), t_read, t_fold, t_full, t_keras,
                         paint_page, paint_fold, paint_full, paint_keras, len(drawing.folded.nodes)))
        browser.close()
    print(f"{'model':<14}{'layers':>7}{'read':>8}{'svg fold':>10}{'svg all':>9}{'plot_model':>11}"
          f"{'  paint: page':>14}{'fold':>7}{'all':>7}{'plot_model':>11}  drawn nodes (folded)")
    for r in rows:
        print(f"{r[0]:<14}{r[1]:>7}{r[2]:>7.2f}s{r[3]:>9.2f}s{r[4]:>8.2f}s{r[5]:>10.2f}s"
              f"{r[6]:>13.2f}s{r[7]:>6.2f}s{r[8]:>6.2f}s{r[9]:>10.2f}s  {r[10]}")
        print(f"{'':<14}ckptbot unfolded SVG / plot_model: {r[4] / r[5]:.2f}×; folded: {r[3] / r[5]:.2f}×")


if __name__ == "__main__":
    main()
