"""The planners' notebooks (notebooks/): each .ipynb is the notebook of its jupytext .py (the reviewed source),
committed without outputs, and each runs from top to bottom in a real Jupyter kernel (nbclient, ipykernel from this
venv) against the snapshots the end-to-end fixtures publish. Every notebook asserts on its own results, so a query
that breaks against the marts fails here.

Parameters reach a notebook as environment variables of its kernel (BIENESTAR_SNAPSHOT, BIENESTAR_AREA_ID), read by
its cell tagged `parameters`.
"""

import os
import re
import time

import pytest

from bienestar import settings

NOTEBOOKS = settings.PROJECT_ROOT / "notebooks"
NAMES = sorted(path.stem for path in NOTEBOOKS.glob("*.py"))
CELL_TIMEOUT = 120  # seconds per cell
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def cell_list(notebook) -> list[tuple]:
    """What a reader sees of a notebook: each cell's type, source and tags."""
    return [(cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def test_every_notebook_is_a_pair_of_py_and_ipynb():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert {"explore_published_marts", "neighbourhood_profile", "bolivia_change", "sensitivity_walkthrough"} <= set(
        NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_ipynb_is_its_py_without_outputs(name):
    """The .ipynb holds exactly the cells of its .py (jupytext py:percent), a parameters cell, and no outputs."""
    import jupytext
    import nbformat

    text = jupytext.read(NOTEBOOKS / f"{name}.py")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert cell_list(notebook) == cell_list(text), (
        f"notebooks/{name}.ipynb differs from its .py: edit the .py, then `.venv/bin/jupytext --sync "
        f"notebooks/{name}.py`")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), (
        f"notebooks/{name}.ipynb is committed with outputs: clear them (jupytext --sync writes none)")
    assert sum("parameters" in cell.metadata.get("tags", ()) for cell in code) == 1
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def execute(name: str, **env: str):
    """Run notebooks/NAME.ipynb in a fresh python3 kernel (this interpreter) with `env` added to its environment;
    the executed notebook, or CellExecutionError naming the failing cell."""
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    path = os.pathsep.join(p for p in (str(settings.PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute(env={**os.environ, "PYTHONPATH": path, **env})
    except nbclient.exceptions.CellExecutionError as error:  # the failing cell and its traceback, without colours
        raise AssertionError(f"notebooks/{name}.ipynb: {ANSI_COLOUR.sub('', str(error))}") from None
    print(f"{name}: executed in {time.monotonic() - started:.1f} s")
    return notebook


def text_output(notebook) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def images(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells for output in cell.get("outputs", []))


def test_sensitivity_walkthrough_runs():
    """Needs no snapshot: the engine's bundled example. Its cells check the bands, a rebuilt run and a drop-one
    shift by hand."""
    notebook = execute("sensitivity_walkthrough")
    assert "rebuilt" in text_output(notebook) and images(notebook) == 1


@pytest.mark.e2e
def test_explore_published_marts_runs_on_the_sample_snapshot(complete_run):
    snapshot = complete_run.home / "published" / "la_paz_demo" / "current.duckdb"
    notebook = execute("explore_published_marts", BIENESTAR_SNAPSHOT=str(snapshot))
    assert str(snapshot) in text_output(notebook) and images(notebook) == 1


@pytest.mark.e2e
def test_neighbourhood_profile_runs_on_the_sample_snapshot(complete_run):
    """A zone with withheld index indicators: the profile says so in words and prints no value for them."""
    import duckdb

    snapshot = complete_run.home / "published" / "la_paz_demo" / "current.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        area_id, name = con.execute("""
            SELECT v.area_id, a.name FROM marts.indicator_values v JOIN marts.areas a USING (city, area_id)
            WHERE v.city = 'la_paz_demo' AND v.level = 'zona' AND v.suppressed
              AND v.period = (SELECT max(period) FROM marts.index_scores)
              AND v.indicator_id IN (SELECT child_id FROM marts.index_weights)
            ORDER BY v.area_id DESC LIMIT 1""").fetchone()
    notebook = execute("neighbourhood_profile", BIENESTAR_SNAPSHOT=str(snapshot), BIENESTAR_AREA_ID=area_id)
    text = text_output(notebook)
    assert f"{name} ({area_id})" in text and "withheld for privacy" in text and images(notebook) == 1


@pytest.mark.e2e
def test_bolivia_change_runs_on_the_bolivian_snapshot(bolivia_run):
    paths, city = bolivia_run
    notebook = execute("bolivia_change", BIENESTAR_SNAPSHOT=str(paths.current_snapshot_for(city.name)))
    text = text_output(notebook)
    # the comparison of the two periods' trees is stated either way
    assert "Same dimensions, same indicators, same weights in both periods." in text or "weight(s) differ" in text
    assert "El Alto: 36.0% in 2012 → 16.9% in 2024" in text and images(notebook) == 1
