"""The fidelity report (issue 19 item 2): every compile records what it lost, with numbers
(``options["fidelity"]``, ``compile`` / ``inspect`` print it); ``--strict`` and ``--max-rate-error`` turn
losses into exit 2. Hand-computed cases: which synapses quantization zeroes, which the crossbar drops."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neuromap.toolchain import compile_network, emulator_runner
from neuromap.compiler.fidelity import FidelityError, FidelityReport, enforce, estimate_rates, sample_steps
from neuromap.image import load_image
from neuromap.network import Network
from neuromap.simulator import simulate
from tests.helpers.cli import run_cli as cli

FAST = {"tn_time_limit": 0.5}


def _zeroed_net() -> Network:
    """Two projections onto one ``if`` population: weights 1.0 and 0.001. TrueNorth's scale is set by the
    largest weight (s = 255), so 0.001 * 255 = 0.255 rounds to 0: projection ``tiny`` is lost whole."""
    net = Network(name="zeroed", seed=1)
    net.add_population("inp", 20, {"model": "poisson", "rate": 50.0})
    net.add_population("inp2", 20, {"model": "poisson", "rate": 50.0})
    net.add_population("h", 8, "if", v_th=1.0)
    net.connect("inp", "h", "all_to_all", weight=1.0, name="big")
    net.connect("inp2", "h", "all_to_all", weight=0.001, name="tiny")
    return net


def _levels_net() -> Network:
    """One neuron, 7 inputs of hw weights 255, 199, 150, 99, 10, 5, 3 (s = 255): a TrueNorth neuron has 4 axon
    types, so 4 weight levels. The optimum keeps 255/199/150/99 and drops 10, 5 and 3 (|W| < |W - 99|)."""
    net = Network(name="levels", seed=0)
    w = [1.0, 0.78, 0.59, 0.39, 0.04, 0.02, 0.012]
    net.add_population("inp", len(w), {"model": "spike_source", "times": [[0, 1, 2]] * len(w)})
    net.add_population("h", 1, "if", v_th=3.0)
    net.connect("inp", "h", {"rule": "matrix", "matrix": [w]}, name="many")
    return net


def _leaky_net() -> Network:
    """A lif population driven hard by Poisson inputs: TrueNorth's linear leak reversal for the exponential
    decay changes its rate by tens of percent (the mapping is approximate, nothing is dropped)."""
    net = Network(name="leaky", seed=5)
    net.add_population("inp", 40, {"model": "poisson", "rate": 40.0})
    net.add_population("out", 6, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0)
    net.connect("inp", "out", "all_to_all", weight=0.15, name="drive")
    return net


def test_truenorth_counts_the_synapses_quantization_zeroes():
    img = compile_network(_zeroed_net(), "truenorth", **FAST).image
    f = FidelityReport.from_dict(img.options["fidelity"])
    assert (f.synapses, f.synapses_zeroed, f.synapses_dropped) == (320, 160, 0)
    assert f.projections_zeroed == ["tiny"]
    assert "160 of 320 synapses lost (160 zeroed by quantization; projection 'tiny' entirely)" in f.summary()


def test_truenorth_counts_the_synapses_the_crossbar_drops():
    img = compile_network(_levels_net(), "truenorth", **FAST).image
    f = FidelityReport.from_dict(img.options["fidelity"])
    cb = img.options["truenorth"]["crossbar"]
    assert cb["totals"]["dropped"] == 3 and cb["by_projection"] == [{"name": "many", "dropped": 3, "sign_flips": 0}]
    assert (f.synapses, f.synapses_zeroed, f.synapses_dropped, f.projections_zeroed) == (7, 0, 3, [])
    assert sorted(np.abs(img.synapses["weight"]).tolist()) == [99, 150, 199, 255]


def test_loihi_counts_zeroed_synapses_and_nothing_else():
    net = Network(name="lz", seed=2)
    net.add_population("inp", 4, {"model": "spike_source", "times": [[0], [1], [2], [3]]})
    net.add_population("h", 2, "lif", v_th=1.0)
    net.connect("inp", "h", {"rule": "matrix", "matrix": [[1.0, 1e-6, 0.5, 1e-6], [1.0, 0.5, 0.5, 0.5]]}, name="p")
    img = compile_network(net, "loihi", placer="sequential").image
    f = FidelityReport.from_dict(img.options["fidelity"])
    q = img.options["quantization"]["projections"][0]
    assert q["zeroed"] == 2 and (f.synapses, f.synapses_zeroed, f.projections_zeroed) == (8, 2, [])
    assert not f.plasticity_frozen and not f.refractory_dropped


def test_an_exact_mapping_reports_nothing_lost_and_runs_no_estimate():
    net = Network(name="exact", seed=3)
    net.add_population("inp", 2, {"model": "spike_source", "times": [[0, 1, 4], [1, 4, 6]]})
    net.add_population("h", 3, "if", v_th=1.0)
    net.connect("inp", "h", "all_to_all", weight=0.5)
    f = FidelityReport.from_dict(compile_network(net, "truenorth", **FAST).image.options["fidelity"])
    assert f.exact and f.rate is None
    assert f.summary() == "fidelity: nothing dropped, zeroed, clipped or frozen"
    enforce(f, strict=True)          # nothing to refuse


def test_rate_estimate_runs_the_same_inputs_and_is_deterministic():
    net = _leaky_net()
    img = compile_network(net, "truenorth", **FAST).image
    a, b = (estimate_rates(net, img, steps=300, runner=emulator_runner) for _ in range(2))
    assert a == b and a.steps == 300
    ref = simulate(net, 300)
    (p,) = a.populations
    assert p.spikes_ref == int(ref.spike_counts("out", 6).sum()) > 0
    assert p.rate_rel_error == pytest.approx(abs(p.spikes_hw - p.spikes_ref) / p.spikes_ref) == a.max_rel_error
    f = FidelityReport.from_dict(img.options["fidelity"])     # auto: lif leak reversal is approximate
    assert f.rate is not None and f.rate.steps == 1000 and f.rate.max_rel_error > 0.1
    assert any("leak reversal" in x for x in f.approximations)


def test_sample_size_shrinks_with_the_network_and_skips_huge_ones():
    assert sample_steps(1000) == 1000 and sample_steps(10 ** 6) == 200 and sample_steps(10 ** 5) == 500
    assert sample_steps(10 ** 7) == 0


def test_cli_prints_the_losses_strict_and_max_rate_error_fail_with_exit_2(tmp_path, capsys):
    from neuromap.io import save_network
    f = tmp_path / "zeroed.yaml"
    save_network(_zeroed_net(), f)
    code, out, err = cli(["compile", str(f), "-t", "truenorth", "-o", str(tmp_path / "a"), "--quiet"], capsys)
    assert code == 0, err
    assert "fidelity: 160 of 320 synapses lost" in out
    code, out, _ = cli(["inspect", str(tmp_path / "a")], capsys)
    assert "fidelity: 160 of 320 synapses lost" in out
    code, out, _ = cli(["inspect", str(tmp_path / "a"), "--json"], capsys)
    assert json.loads(out)["fidelity"]["synapses_zeroed"] == 160

    code, out, err = cli(["compile", str(f), "-t", "truenorth", "-o", str(tmp_path / "s"), "--quiet", "--strict"],
                         capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
    assert "--strict: 160 of 320 synapses lost" in err and "'tiny'" in err

    g = tmp_path / "leaky.yaml"
    save_network(_leaky_net(), g)
    code, out, err = cli(["compile", str(g), "-t", "truenorth", "-o", str(tmp_path / "m"), "--quiet",
                          "--max-rate-error", "0.05"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
    assert "--max-rate-error 0.05: estimated rate error" in err and "'out'" in err
    code, out, err = cli(["compile", str(g), "-t", "truenorth", "-o", str(tmp_path / "m"), "--quiet", "--strict",
                          "--max-rate-error", "10"], capsys)
    assert code == 0, err                     # approximate but nothing lost, and within the bound
    assert load_image(tmp_path / "m").options["fidelity"]["rate"]["max_rel_error"] <= 10


def test_max_rate_error_runs_the_estimate_on_a_loihi_mapping(tmp_path, capsys):
    from neuromap.io import save_network
    g = tmp_path / "leaky.yaml"
    save_network(_leaky_net(), g)
    code, out, err = cli(["compile", str(g), "-o", str(tmp_path / "b"), "--quiet", "--placer", "sequential",
                          "--max-rate-error", "0.02"], capsys)
    assert code == 0, err                  # 8-bit weights, 12-bit decays: the same rates within 2 %
    r = load_image(tmp_path / "b").options["fidelity"]["rate"]
    assert r["steps"] == 1000 and r["max_rel_error"] <= 0.02 and r["populations"][0]["spikes_ref"] > 100
    code, out, err = cli(["compile", "examples/lava_port_hw.yaml", "-o", str(tmp_path / "h"), "--quiet",
                          "--placer", "sequential", "--max-rate-error", "0.01"], capsys)
    assert code == 2 and "could not be estimated (populations in hardware units (loihi_lif)" in err


def test_enforce_without_an_estimate_is_an_error():
    f = FidelityReport("truenorth")
    with pytest.raises(FidelityError, match="could not be estimated"):
        enforce(f, max_rate_error=0.1)


def test_hardware_unit_weights_the_encoding_changes_are_a_loss():
    net = Network(seed=1)
    net.add_population("a", 2, neuron="loihi_lif", vth=10, bias_mant=100)
    net.add_population("b", 2, neuron="loihi_lif", vth=10)
    net.connect("a", "b", connect={"rule": "list", "pre": [0, 0, 1, 1], "post": [0, 1, 0, 1]},
                weight=[300, 5, -7, 2], weight_exp=0, num_weight_bits=7, sign_mode="mixed")
    f = FidelityReport.from_dict(compile_network(net, placer="sequential").image.options["fidelity"])
    assert len(f.weights_reencoded) == 1 and f.rate is None          # hardware units: no float reference
    with pytest.raises(FidelityError, match=r"--strict: hardware-unit weights clipped or truncated .*1 clipped"):
        enforce(f, strict=True)


def test_a_malformed_report_is_a_one_line_image_error():
    from neuromap.errors import ImageError
    good = FidelityReport("loihi", synapses=3).to_dict()
    assert FidelityReport.from_dict({**good, "from_a_newer_version": 1}).synapses == 3
    for bad in ({**good, "synapses_zeroed": "x"}, {**good, "rate": {"steps": 1}}, {**good, "rate": 5}):
        with pytest.raises(ImageError, match="options.fidelity: malformed"):
            FidelityReport.from_dict(bad)
