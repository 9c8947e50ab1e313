"""CLI options for .nir networks (neuromap/cli/nir_options.py): --dt, --time-unit, --nir-convention,
--input-rate, --input-spikes on simulate / compile / compare; one-line errors."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from nir_snntorch_style import snntorch_style_graph  # noqa: E402

from tests.helpers.cli import run_cli as cli


@pytest.fixture()
def snn(tmp_path):
    import nir
    p = tmp_path / "snn.nir"
    nir.write(str(p), snntorch_style_graph())
    return str(p)


def test_snntorch_graph_gets_its_step_and_a_raster_drives_it(snn, tmp_path, capsys):
    raster = np.zeros((300, 8), np.int8)
    raster[::7, :] = 1
    raster[5, 3] = 1
    np.save(tmp_path / "in.npy", raster)
    code, out, err = cli(["simulate", snn, "--steps", "300", "--quiet", "--json", "--input-spikes",
                          str(tmp_path / "in.npy")], capsys)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["dt_ms"] == pytest.approx(0.1)          # detected snnTorch: its export step
    pops = {p["name"]: p for p in rep["populations"]}
    assert pops["input"]["model"] == "spike_source" and pops["input"]["spikes"] == int(np.count_nonzero(raster))
    code, out, _ = cli(["simulate", snn, "--steps", "300", "--quiet", "--json", "--dt", "0.5", "--input-rate",
                        "0"], capsys)
    rep = json.loads(out)
    assert rep["dt_ms"] == 0.5 and {p["name"]: p["spikes"] for p in rep["populations"]}["input"] == 0


def test_npz_rasters_by_name_and_time_unit(snn, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", input=np.ones((10, 8), np.int8))
    code, out, err = cli(["simulate", snn, "--steps", "10", "--quiet", "--json", "--input-spikes",
                          str(tmp_path / "in.npz"), "--time-unit", "s", "--nir-convention", "nir"], capsys)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["dt_ms"] == 1.0 and {p["name"]: p["spikes"] for p in rep["populations"]}["input"] == 80


@pytest.mark.parametrize("args, msg", [
    (["--time-unit", "fortnight"], "--time-unit: 'fortnight' is not a time unit"),
    (["--input-rate", "5", "--input-spikes", "x.npy"], "give one of them"),
    (["--input-spikes", "RASTER3D"], "raster has shape (2, 2, 2)"),
    (["--input-spikes", "RASTERW"], "raster for 'input' has 3 columns; the Input node has 8 neurons"),
    (["--input-spikes", "RASTERNEG"], "values must be spike counts"),
])
def test_bad_values_are_one_line(snn, tmp_path, capsys, args, msg):
    files = {"RASTER3D": np.zeros((2, 2, 2)), "RASTERW": np.zeros((4, 3)), "RASTERNEG": -np.ones((4, 8))}
    for k, a in files.items():
        np.save(tmp_path / f"{k}.npy", a)
    args = [str(tmp_path / f"{a}.npy") if a in files else a for a in args]
    code, _, err = cli(["simulate", snn, "--steps", "5", "--quiet"] + args, capsys)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_nir_options_on_a_yaml_network_are_refused(tmp_path, capsys):
    code, _, err = cli(["simulate", "examples/ramp_lif.yaml", "--steps", "5", "--dt", "0.1"], capsys)
    assert code == 2 and "--dt applies to .nir and .net networks only" in err


def test_compile_snntorch_graph_refuses_subtract_then_approximates(snn, tmp_path, capsys):
    out_dir = str(tmp_path / "b")
    code, _, err = cli(["compile", snn, "-o", out_dir, "--quiet", "--placer", "sequential"], capsys)
    assert code == 2 and "populations.n1.neuron.reset: 'subtract' (and 1 more)" in err
    code, out, err = cli(["compile", snn, "-o", out_dir, "--quiet", "--placer", "sequential",
                          "--allow-reset-approximation", "--input-rate", "100"], capsys)
    assert code == 0, err
    assert "reset by subtraction run as reset to v_reset on 'n1', 'n3'" in out
    code, out, err = cli(["compile", snn, "-o", out_dir, "--quiet", "--placer", "sequential", "--force",
                          "--nir-convention", "nir", "--dt", "0.1"], capsys)
    assert code == 0, err


def test_compare_takes_the_nir_options(snn, capsys):
    code, out, err = cli(["compare", snn, "--steps", "50", "--json", "--nir-convention", "nir", "--dt", "0.1",
                          "--input-rate", "200"], capsys)
    assert code in (0, 1), err
    assert json.loads(out)["steps"] == 50
