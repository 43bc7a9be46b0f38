"""Execute the Colab notebooks on the CPU with their SMALL settings (nbclient), so they cannot rot.

Each notebook runs in a fresh `python3` kernel (ipykernel of this environment) with cwd = notebooks/,
DEXVLG_NOTEBOOK_SMALL=1, its files written under tmp_path, and one CPU device (the fake-device flag that
tests/conftest.py adds for the sharding tests is taken out). Checks: no cell errors, the committed file has no
outputs, and the key outputs exist (pictures, metric tables, timings). The run time is printed (run with -s to see
it), never asserted: a busy machine must not fail the suite (speed belongs in `launch.benchmark`).
"""
import os
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "notebooks")
CELL_TIMEOUT_S = 1800  # a safety net against a hung kernel, not a budget (a cell takes well under a minute idle)

# notebook -> strings that its text outputs must contain, and the least number of PNG outputs
EXPECTED = {
    "01_objects_and_grasp_synthesis.ipynb": (
        ["no GPU/TPU found", "SMALL", "bottle_0000", "self-pen mm", "Q1", "status counts", "GLB ", ".glb"], 3),
    "02_simulation_evaluation.ipynb": (
        ["== six_direction", "== tabletop_lift", "success", "PTA", "PGA", "offset  0 mm", "synthesis: ",
         "MJX comparison skipped"], 2),
    "03_model_train_and_sample.ipynb": (
        ["tiny DexVLG", "trained 150 steps", "KV cache", "speed-up from the cache", "max |cached - uncached|"], 1),
}


def _kernel_env(tmp_path) -> dict:
    env = dict(os.environ)
    flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", env.get("XLA_FLAGS", "")).strip()
    if flags:
        env["XLA_FLAGS"] = flags
    else:
        env.pop("XLA_FLAGS", None)
    env.update(JAX_PLATFORMS="cpu", DEXVLG_NOTEBOOK_SMALL="1", DEXVLG_NOTEBOOK_OUT=str(tmp_path / "out"),
               MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONWARNINGS="ignore")
    return env


def _outputs(nb):
    text, pngs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out.get("text", ""))
            elif out.get("output_type") in ("display_data", "execute_result"):
                data = out.get("data", {})
                pngs += "image/png" in data
                text.append(data.get("text/plain", ""))
    return "".join(text), pngs


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_small_on_cpu(name, tmp_path):
    path = os.path.join(NOTEBOOKS, name)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    stored = [c for c in nb.cells if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not stored, f"{name}: commit notebooks without outputs ({len(stored)} code cells have some)"
    install = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "REPO_URL" in install and "pip install" in install, f"{name}: the first code cell must install the project"

    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": NOTEBOOKS}})
    start = time.perf_counter()
    client.execute(env=_kernel_env(tmp_path))  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s wall (a figure, not a check)")

    text, pngs = _outputs(nb)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    needles, min_pngs = EXPECTED[name]
    missing = [s for s in needles if s not in text]
    assert not missing, f"{name}: missing outputs {missing}\n{text[-3000:]}"
    assert pngs >= min_pngs, f"{name}: {pngs} PNG outputs, expected at least {min_pngs}"
