"""CLI: ``neuromap export-nir`` and ``neuromap plot`` (exit codes, one-line errors, outputs), and
NIR input for ``simulate`` through the load_network hook."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.nir_io import read_nir
from tests.helpers.cli import run_cli as run  # main(argv) -> (exit code, stdout, stderr)

NET = """\
format: neuromap/1
name: small
dt: 1.0
seed: 1
populations:
  inp: {size: 12, neuron: {model: poisson, rate: 40.0}}
  E: {size: 10, neuron: {model: lif, tau_m: 20.0, tau_syn: 5.0, v_th: 1.0}}
projections:
  - {pre: inp, post: E, connect: {rule: fixed_probability, p: 0.5}, weight: {uniform: [0.2, 0.6]},
     plasticity: {rule: stdp}}
  - {pre: E, post: E, connect: {rule: fixed_probability, p: 0.2}, weight: 0.1, delay: 3}
"""


def test_export_nir_then_simulate_it(tmp_path, capsys):
    from neuromap.io import load_network
    (tmp_path / "n.yaml").write_text(NET)
    code, out, err = run(["export-nir", str(tmp_path / "n.yaml"), "-o", str(tmp_path / "n.nir")], capsys)
    assert code == 0, err
    assert "2 projections (1 plastic)" in out
    assert read_nir(tmp_path / "n.nir") == load_network(tmp_path / "n.yaml")
    code, out1, err = run(["simulate", str(tmp_path / "n.yaml"), "--steps", "100"], capsys)
    code2, out2, err2 = run(["simulate", str(tmp_path / "n.nir"), "--steps", "100"], capsys)
    assert code == code2 == 0, err2
    assert out1.splitlines()[1:] == out2.splitlines()[1:]  # same spikes per population


@pytest.mark.parametrize("argv, needle", [
    (["export-nir", "missing.yaml", "-o", "x.nir"], "missing.yaml: file not found"),
    (["export-nir", "NET", "-o", "x.h5"], "output must be a .nir file"),
    (["export-nir", "IZH", "-o", "x.nir"], "has no NIR equivalent"),
    (["plot", "-o", "out"], "nothing to plot"),
    (["plot", "--results", "missing.npz", "-o", "out"], "results file not found"),
    (["plot", "--results", "NET", "-o", "out"], "not a results .npz"),
    (["plot", "nobuild", "-o", "out"], "nobuild"),
])
def test_bad_inputs_exit_2_one_line(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "NET").write_text(NET)
    (tmp_path / "IZH.yaml").write_text("format: neuromap/1\npopulations: {z: {size: 2, neuron: izhikevich}}\n")
    argv = [a.replace("IZH", "IZH.yaml") for a in argv]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_help_has_examples(capsys):
    for cmd in ("export-nir", "plot"):
        code, out, _ = run([cmd, "--help"], capsys)
        assert code == 0 and f"Example: neuromap {cmd}" in out


def test_plot_all_plots_from_build_results_network(tmp_path, capsys):
    from backends.emulator import Results
    from neuromap.toolchain import compile_network
    from neuromap.io import load_network
    from neuromap.simulator import simulate

    (tmp_path / "n.yaml").write_text(NET)
    net = load_network(tmp_path / "n.yaml")
    img = compile_network(net, target="loihi").image
    img.save(tmp_path / "build")
    # an emulator-format results file (the emulator itself is tested elsewhere): the float spikes,
    # and messages core -> core as the emulator counts them
    ref = simulate(net, 150)
    C = img.n_cores
    link = np.zeros((C + 1, C), np.int64)
    link[C, 0] = ref.spikes["inp"][0].size
    link[0, 0] = ref.spikes["E"][0].size
    res = Results(steps=150, spikes={p: np.stack(s, axis=1) for p, s in ref.spikes.items()},
                  core_spikes=np.array([ref.spikes["E"][0].size] * C), link_spikes=link)
    res.save(tmp_path / "res.npz")
    code, out, err = run(["plot", str(tmp_path / "build"), "--results", str(tmp_path / "res.npz"), "--network",
                          str(tmp_path / "n.yaml"), "-o", str(tmp_path / "plots"), "--snapshots", "3"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["mesh.png", "raster.png", "rates.png", "weight_evolution_inp_to_E.png", "weights_E_to_E.png",
                     "weights_inp_to_E.png"]
    for n in names:
        data = (tmp_path / "plots" / n).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 3000
    # a float results file alone gives the raster
    code, out, err = run(["simulate", str(tmp_path / "n.yaml"), "--steps", "50", "-o", str(tmp_path / "f.npz")],
                         capsys)
    code, out, err = run(["plot", "--results", str(tmp_path / "f.npz"), "-o", str(tmp_path / "p2"), "--format",
                          "svg"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "p2").iterdir()) == ["raster.svg"]
