"""docs/nir.md's worked example (snnTorch -> neuromap -> Lava) re-run: every output line it quotes must be what
this tree prints for the committed snnTorch fixture (tests/fixtures/frameworks/snntorch_dense.*)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backends.lava.compat import lava_available
from tests.helpers.cli import run_cli
from tests.helpers.framework_fixtures import DIR

DOC = (Path(__file__).resolve().parents[2] / "docs" / "nir.md").read_text()
NIR = str(DIR / "snntorch_dense.nir")


@pytest.fixture
def raster(tmp_path):
    path = tmp_path / "input.npy"
    with np.load(DIR / "snntorch_dense.npz") as z:
        np.save(path, z["input"])
        assert {k: int(z[k].sum()) for k in ("spikes/1", "spikes/3")} == {"spikes/1": 1368, "spikes/3": 586}
    return str(path)


def _quoted(out: str, skip: tuple[str, ...] = ()) -> list[str]:
    lines = [ln.rstrip() for ln in out.splitlines() if ln.strip() and not ln.startswith(skip)]
    assert lines
    missing = [ln for ln in lines if ln not in DOC]
    assert not missing, missing
    return lines


def test_simulate_and_compare_lines_are_the_docs(raster, capsys):
    code, out, err = run_cli(["simulate", NIR, "--steps", "400", "--input-spikes", raster], capsys)
    assert code == 0, err
    _quoted(out)
    code, out, err = run_cli(["compare", NIR, "--steps", "400", "--input-spikes", raster,
                              "--allow-reset-approximation"], capsys)
    assert code == 0, err
    _quoted(out, skip=("nir on loihi",))


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="needs lava-nc (not installed: core-only venv)")
def test_compile_run_on_lava_and_validate_lines_are_the_docs(raster, tmp_path, capsys):
    build = str(tmp_path / "build")
    code, out, err = run_cli(["compile", NIR, "-o", build, "--input-spikes", raster, "--allow-reset-approximation"],
                             capsys)
    assert code == 0, err
    assert [ln for ln in out.splitlines() if ln.startswith("fidelity:")][0] in DOC
    code, out, err = run_cli(["run", build, "--steps", "400", "-b", "lava", "-q"], capsys)
    assert code == 0, err
    _quoted(out, skip=("nir: 400 steps on lava",))
    code, out, err = run_cli(["validate", build, "--steps", "400", "-q"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] in DOC
