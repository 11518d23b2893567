from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def test_notebook_is_committed_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.model
def test_notebook_runs(lm):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    # a cell that draws shows its figure once (its value), not again as an open pyplot figure
    for c in nb.cells:
        if c.cell_type == "code" and ".plot(" in c.source:
            images = [o for o in c.outputs if "image/png" in o.get("data", {})]
            assert len(images) == 1, c.source
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("text/html" in o.get("data", {}) for o in outputs)
    # no noise: nothing on stderr (model loads, warnings, progress bars)
    noise = [
        o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert not noise, noise
    # no restyling: inline HTML is a fragment with scoped styles only
    for o in outputs:
        html = o.get("data", {}).get("text/html", "")
        assert "<html" not in html and "<body" not in html and "body {" not in html


def test_plot_leaves_no_open_pyplot_figure(sample_human, sample_synthetic):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toedit_stats import read_corpus
    from toedit_stats.analyzers.lengths import LengthAnalyzer

    plt.close("all")
    r = LengthAnalyzer().analyze([read_corpus(sample_human), read_corpus(sample_synthetic)])
    fig = r.plot()
    figs = r.figures()
    assert fig.axes and figs and plt.get_fignums() == []
