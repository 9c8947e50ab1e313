"""The ``place`` compiler pass: capacities hold on the image (independent verifier), determinism,
placement does not change the emulator's spikes, the report is in the image."""
import json
import os

import numpy as np
import pytest

from backends.emulator import run
from neuromap.toolchain import compile_network
from neuromap.compiler.place import verify_image_capacities
from neuromap.errors import TargetError
from tests.helpers.placement import ring_net, small_target

TL = 0.3  # CP-SAT deterministic units: tiny, tests stay fast
RAMP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "ramp_lif.yaml")


@pytest.mark.parametrize("placer", ["sequential", "greedy", "cpsat"])
def test_capacities_hold_on_the_image(placer):
    tgt = small_target()
    img = compile_network(ring_net(), tgt, placer=placer, time_limit=TL, deterministic=True).image
    assert img.n_cores >= 96 // 16
    assert verify_image_capacities(img, tgt) == []
    # the verifier does catch an overfull core: the same image judged against a smaller core
    tiny = small_target(max_neurons=8, max_input_axons=10)
    assert any(v.resource == "neurons" for v in verify_image_capacities(img, tiny))
    rep = img.options["placement"]
    assert rep["method"] == placer and rep["cores_used"] == img.n_cores
    assert img.cores["tile_x"].shape == (img.n_cores,) and img.cores["chip"].min() >= 0
    util = rep["utilization"]["per_core"]
    assert util["neurons"]["max"] <= 16 and util["input_axons"]["max"] <= 40
    assert rep["utilization"]["binding"] in util


def test_cpsat_beats_sequential_on_a_shuffled_ring():
    img = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=1.0, deterministic=True).image
    rep = img.options["placement"]
    assert rep["hop_weighted_traffic"] < rep["sequential_hop_weighted_traffic"]
    assert rep["bound"] is None or rep["bound"] <= rep["hop_weighted_traffic"] + 1e-9


def test_link_load_bounds_are_in_the_report_and_the_summary():
    from neuromap.cli.compile_cmd import placement_lines
    result = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=1.0, deterministic=True)
    rep = result.image.options["placement"]
    at, every = rep["max_link_load_bound_at_traffic"], rep["max_link_load_bound"]
    assert every <= rep["max_link_load"] + 1e-9 and at <= rep["max_link_load"] + 1e-9
    assert result.reports.placement.to_dict() == rep       # the typed report is what the image records
    line = next(x for x in placement_lines(result.reports.placement) if "max link load" in x)
    assert f"bound {every:.4g}; {at:.4g} at this traffic" in line


def test_same_inputs_give_the_same_image(tmp_path):
    kw = dict(placer="cpsat", time_limit=TL, deterministic=True, seed=5)
    a = compile_network(ring_net(), small_target(), **kw).image.save(tmp_path / "a")
    b = compile_network(ring_net(), small_target(), **kw).image.save(tmp_path / "b")
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert ma["arrays"] == mb["arrays"]  # sha256 of every array
    ra, rb = ma["options"]["placement"], mb["options"]["placement"]
    for k in ("hop_weighted_traffic", "bound", "gap", "max_link_load", "energy_pj_per_step"):
        assert ra[k] == rb[k]


def test_spikes_do_not_depend_on_placement():
    tgt = small_target()
    seq = compile_network(ring_net(), tgt, placer="sequential").image
    cps = compile_network(ring_net(), tgt, placer="cpsat", time_limit=TL, deterministic=True).image
    assert not np.array_equal(seq.neurons["core"], cps.neurons["core"])
    rs, rc = run(seq, 60), run(cps, 60)
    assert rs.core_spikes.sum() > 50  # the network is active
    assert set(rs.spikes) == set(rc.spikes) == {"inp", "n"}
    for p in rs.spikes:
        assert np.array_equal(np.asarray(rs.spikes[p]), np.asarray(rc.spikes[p]))
    assert rs.link_spikes.sum() > 0 and not np.array_equal(rs.link_spikes, rc.link_spikes)


def test_auto_rates_and_bad_options():
    img = compile_network(ring_net(), small_target(), placer="greedy", rates="auto", rate_steps=30).image
    assert img.options["placement"]["rates"] == "auto" and img.options["placement"]["rate_steps"] == 30
    with pytest.raises(TargetError, match="placer"):
        compile_network(ring_net(), small_target(), placer="annealing").image
    with pytest.raises(TargetError, match="rates"):
        compile_network(ring_net(), small_target(), rates="measured").image


def test_rates_file_per_population_per_neuron_and_hz(tmp_path):
    from neuromap.errors import NetworkFormatError
    from neuromap.placement.rates_file import load_rates
    pops = {"inp": 2, "n": 3}
    f = tmp_path / "r.yaml"
    f.write_text("unit: hz\nrates:\n  inp: 100.0\n  n: [10.0, 0.0, 20.0]\n")
    assert np.allclose(load_rates(f, pops, dt_ms=0.5), [0.05, 0.05, 0.005, 0.0, 0.01])
    np.save(tmp_path / "n.npy", np.array([0.1, 0.2, 0.3]))
    (tmp_path / "r.json").write_text('{"default": 0.5, "rates": {"n": "n.npy"}}')
    assert np.allclose(load_rates(tmp_path / "r.json", pops, 1.0), [0.5, 0.5, 0.1, 0.2, 0.3])
    for text, field in (("rates:\n  inp: 1\n", "rates.n: population has no rate"),
                        ("rates:\n  inp: 1\n  n: [1, 2]\n", r"rates.n: has shape \(2,\)"),
                        ("rates:\n  inp: -1\n  n: 1\n", "rates.inp: rates must be finite and >= 0"),
                        ("rates:\n  x: 1\n", "rates.x: no population 'x'"),
                        ("unit: khz\nrates: {}\n", "unit: unknown unit")):
        f.write_text(text)
        with pytest.raises(NetworkFormatError, match=field):
            load_rates(f, pops, 1.0)


def test_compile_with_a_rates_file(tmp_path):
    # silent inputs: their packets weigh nothing, so only ring traffic counts
    f = tmp_path / "rates.yaml"
    f.write_text("rates:\n  inp: 0.0\n  n: 1.0\n")
    img = compile_network(ring_net(), small_target(), placer="greedy", rates=str(f)).image
    uni = compile_network(ring_net(), small_target(), placer="greedy").image
    rep, rep_u = img.options["placement"], uni.options["placement"]
    assert rep["rates"] == str(f)
    assert rep["inter_core_packets"] < rep_u["inter_core_packets"]


def test_topographic_sheet_example_compiles_and_runs():
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "topographic_sheet.py"
    spec = importlib.util.spec_from_file_location("topographic_sheet", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.small()
    assert sum(p.size for p in net.populations.values()) == 16 * 16 + 8 * 8 + 16
    tgt = small_target(max_neurons=64, max_input_axons=200)
    img = compile_network(net, tgt, placer="cpsat", time_limit=TL, deterministic=True).image
    rep = img.options["placement"]
    assert img.n_cores >= 5 and verify_image_capacities(img, tgt) == []
    assert rep["hop_weighted_traffic"] < rep["sequential_hop_weighted_traffic"]
    assert rep["bound"] is not None and rep["bound"] <= rep["hop_weighted_traffic"] + 1e-9
    r = run(img, 10)
    assert np.asarray(r.spikes["E"]).sum() > 0


def test_link_slack_trades_bounded_traffic_for_a_lower_peak(tmp_path, capsys):
    base = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=1.0, deterministic=True).image
    slack = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=1.0, deterministic=True,
                            link_slack=0.2).image
    r0, r1 = base.options["placement"], slack.options["placement"]
    assert r0["link_slack"] == 0.0 and r1["link_slack"] == 0.2
    assert r1["max_link_load"] <= r0["max_link_load"] + 1e-9
    assert r1["hop_weighted_traffic"] <= 1.2 * r0["hop_weighted_traffic"] + 1e-9
    assert r1["bound"] <= r1["hop_weighted_traffic"] + 1e-9
    with pytest.raises(TargetError, match="link_slack"):
        compile_network(ring_net(), small_target(), link_slack=1.5).image
    from tests.helpers.cli import run_cli as cli
    code, out, err = cli(["compile", RAMP, "-o", str(tmp_path / "b"), "--link-slack", "2"], capsys)
    assert code == 2 and "--link-slack" in err and "Traceback" not in err
