"""The HTML report page in a real browser (Debian's /usr/bin/chromium driven by Playwright).

For every kind of fixture the page written by `ckptbot inspect --html` must load with no
console error and no network request, its graph must have one node per layer and one edge
per connection of what live Keras reports for the same file (tests/graph_live.py, real
Keras 3 and tf_keras), the search box must filter the table and the copy button must copy
the snippet shown.  A screenshot of each page kind goes to the test's tmp folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, run_cli

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

K3_FILES = ["k3__toy__save.keras", "k3__nested__save.keras", "k3__seq__save.h5", "k3__conv__save.keras",
            "k3__rnn__save.keras"]
TFK_FILES = ["tfk__nested__save.h5", "tfk__mixed__save.h5", "tfk__seq__save.keras"]
# Weights-only files: the live figures are those of the model file that wrote them.
WEIGHTS_ONLY = {"k3__toy__save_weights.weights.h5": "k3__toy__save.keras",
                "tfk__toy__save_weights.h5": None}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """Layers and connections as live Keras reports them, plus the shared-layer models it saved."""
    out_dir = tmp_path_factory.mktemp("live")
    result = {}
    for stack, files in (("k3", K3_FILES), ("tfk", TFK_FILES)):
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "graph_live.py"), "--stack", stack,
                               "--make-shared", str(out_dir), *[str(FIXTURES / f) for f in files]],
                              capture_output=True, text=True, timeout=240, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        result.update({Path(k).name: (k, v) for k, v in json.loads(proc.stdout).items()})
    return result


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (tests/run_all.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, html_path: Path):
    ctx = browser.new_context()
    page = ctx.new_page()
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    url = html_path.resolve().as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    return ctx, page, errors, [r for r in requests if r != url]


def _graph(page, parent: str | None):
    sel = f'[data-parent="{parent}"]' if parent else ":not([data-parent])"
    nodes = page.eval_on_selector_all(f".graph g.node[data-layer]{sel}, .graph g.cluster[data-layer]{sel}",
                                      "els => els.map(e => e.getAttribute('data-layer'))")
    edges = page.eval_on_selector_all(f".graph g.edge{sel}",
                                      "els => els.map(e => [e.getAttribute('data-from'), e.getAttribute('data-to')])")
    return nodes, edges


def _assert_graph_matches(page, live_desc: dict, parent: str | None = None):
    nodes, edges = _graph(page, parent)
    assert sorted(nodes) == sorted(live_desc["layers"])
    assert sorted(map(tuple, edges)) == sorted(map(tuple, live_desc["edges"]))
    for name, sub in live_desc["groups"].items():
        _assert_graph_matches(page, sub, name if parent is None else f"{parent}/{name}")


def _write_page(src: str, out: Path) -> None:
    proc = run_cli("inspect", src, "--html", str(out), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def _check_search_and_copy(page, layer_names: list[str]):
    target = layer_names[-1]
    page.fill("input[data-filter]", target)
    rows = page.eval_on_selector_all("tbody tr[data-layer]", "rs => rs.map(r => [r.getAttribute('data-layer'), "
                                     "r.offsetParent !== null, r.textContent.toLowerCase()])")
    assert [n for n, _, _ in rows] == [n for n in layer_names if n in {r[0] for r in rows}]
    visible = [n for n, shown, _ in rows if shown]
    assert target in visible
    # Exactly the rows that mention the query stay (name, class or weight names).
    assert all(shown == (target.lower() in text) for _, shown, text in rows)
    page.fill("input[data-filter]", "no layer is called this")
    assert page.eval_on_selector_all("tbody tr[data-layer]", "rs => rs.filter(r => r.offsetParent !== null).length") == 0
    pre = page.text_content("pre[id^=snippet-]")
    page.click("button[data-copy]")
    assert page.evaluate("window.__ckptbotCopied") == pre
    assert page.text_content("button[data-copy]") == "Copied"


@pytest.mark.keras
@pytest.mark.parametrize("name", [*K3_FILES, *TFK_FILES, "k3__shared.keras", "k3__shared.h5", "tfk__shared.h5"])
def test_page_graph_equals_live_keras(name, live, browser, tmp_path):
    path, desc = live[name]
    out = tmp_path / (name + ".html")
    _write_page(path, out)
    ctx, page, errors, requests = _open(browser, out)
    try:
        assert errors == []
        assert requests == []
        _assert_graph_matches(page, desc)
        _check_search_and_copy(page, [n for n in desc["layers"]])
        page.screenshot(path=str(tmp_path / (name + ".png")), full_page=True)
    finally:
        ctx.close()


@pytest.mark.keras
def test_weights_only_page_is_order_only(live, browser, tmp_path):
    out = tmp_path / "weights.html"
    _write_page(str(FIXTURES / "k3__toy__save_weights.weights.h5"), out)
    ctx, page, errors, requests = _open(browser, out)
    try:
        assert errors == [] and requests == []
        nodes, edges = _graph(page, None)
        assert sorted(nodes) == sorted(live["k3__toy__save.keras"][1]["layers"])
        assert edges == []  # the file stores no connections, and the page draws none
        assert page.get_attribute(".graph", "data-kind") == "order-only"
        assert "Order only" in page.text_content(".graph")
        page.screenshot(path=str(tmp_path / "weights-only.png"), full_page=True)
    finally:
        ctx.close()


@pytest.mark.keras
def test_diff_page_side_by_side(live, browser, tmp_path):
    out = tmp_path / "diff.html"
    proc = run_cli("diff", str(FIXTURES / "k3__toy__save.keras"), str(FIXTURES / "k3__nested__save.keras"),
                   "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    ctx, page, errors, requests = _open(browser, out)
    try:
        assert errors == [] and requests == []
        for key, name in (("a", "k3__toy__save.keras"), ("b", "k3__nested__save.keras")):
            shown = page.eval_on_selector_all(f"#graph-{key} g.node[data-layer]:not([data-parent]), "
                                              f"#graph-{key} g.cluster[data-layer]:not([data-parent])",
                                              "els => els.map(e => e.getAttribute('data-layer'))")
            assert sorted(shown) == sorted(live[name][1]["layers"])
        # Layers only one side has are highlighted in that side's graph and table.
        only_b = set(live["k3__nested__save.keras"][1]["layers"]) - set(live["k3__toy__save.keras"][1]["layers"])
        hl_b = page.eval_on_selector_all("#graph-b g.hl", "els => els.map(e => e.getAttribute('data-layer'))")
        assert only_b <= set(hl_b)
        assert page.locator("#changes li").count() >= 1
        page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)
    finally:
        ctx.close()


def test_hostile_layer_names_stay_text(browser, tmp_path):
    """A layer named like markup is drawn as its name: no element, no script runs."""
    from bot.render.html import report_page
    from bot.report import Graph, GraphEdge, GraphNode, LayerInfo, Report, SourceInfo

    evil = '<img src=x onerror="window.__pwned=1">"\'&\\N'
    rep = Report(source=SourceInfo("evil.keras", "evil.keras", 10), format="keras-v3-archive",
                 layers=[LayerInfo(evil, "Dense", 3), LayerInfo("b", "Dense", 2)],
                 graph=Graph("functional", [GraphNode(evil, evil, "Dense", params=3), GraphNode("b", "b", "Dense")],
                             [GraphEdge(evil, "b")]))
    out = tmp_path / "evil.html"
    out.write_text(report_page(rep), encoding="utf-8")
    ctx, page, errors, requests = _open(browser, out)
    try:
        assert page.evaluate("window.__pwned") is None
        assert page.locator("img").count() == 0
        assert requests == []
        assert page.eval_on_selector_all(".graph g.node", "els => els.map(e => e.getAttribute('data-layer'))") \
            == [evil, "b"]
        assert page.get_attribute(".graph g.edge", "data-from") == evil
    finally:
        ctx.close()


@pytest.mark.keras
@pytest.mark.parametrize("name", ["k3__nested__save.keras", "k3__shared.keras", "tfk__shared.h5"])
def test_graph_tree_names_every_layer_live_keras_has(name, live):
    path, desc = live[name]
    proc = run_cli("inspect", path, "--graph", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()

    def names(d):
        return d["layers"] + [n for g in d["groups"].values() for n in names(g)]

    shown = [l.split("── ", 1)[1].split(" ", 1)[0] for l in lines if "── " in l]
    assert sorted(shown) == sorted(names(desc))
    for src, dst in desc["edges"]:  # every connection is visible: nested under its input, or "← src"
        line = next(l for l in lines if l.split("── ", 1)[-1].startswith(dst + " "))
        depth = line.index("── ")
        parent = next((l for l in reversed(lines[:lines.index(line)]) if "── " in l and l.index("── ") < depth),
                      None)
        chained = any(l.split("── ", 1)[-1].startswith(src + " ") and l.index("── ") == depth
                      for l in lines[:lines.index(line)])
        assert (f"← {src}" in line or f", {src}" in line
                or (parent and parent.split("── ", 1)[1].startswith(src + " ")) or chained), (src, dst)
