"""Executes the Colab notebook top to bottom on the CPU, in its smoke mode, with nbclient."""

import pathlib

import nbclient
import nbformat

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "latens_colab.ipynb"


def test_the_colab_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    assert (REPO / "experiments" / "quickstart.py").is_file(), "the notebook runs experiments/quickstart.py"
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "the stored notebook should have its outputs cleared"

    monkeypatch.setenv("LATENS_NOTEBOOK_SMOKE", "1")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    shown = [output for cell in notebook.cells if cell.cell_type == "code"
             for output in cell.outputs if "image/png" in output.get("data", {})]
    figures = sorted(p.name for p in (tmp_path / "runs" / "quickstart" / "figures").glob("*.png"))
    assert figures and len(shown) == len(figures) + 2  # Quickstart's, the contact sheet, the latent space.
    query = (tmp_path / "digits_query" / "query.csv").read_text().splitlines()
    assert len(query) == 1 + 20
