"""``reset: subtract`` of the float ``lif`` and ``if`` models: hand-computed voltages, numpy == numba,
and the targets that cannot reset by subtraction refusing it (or approximating it when asked)."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.errors import NetworkFormatError
from neuromap.network import Network
from neuromap.simulator.core import simulate
from tests.helpers.cli import run_cli


def _if_net(reset: str, **kw) -> Network:
    net = Network(dt=1.0, seed=1)
    net.add_population("a", 1, neuron="if", v_th=1.0, v_reset=0.0, bias=0.3, reset=reset, **kw)
    net.add_probe("a", ("spikes", "v"))
    return net


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_if_hand_computed(backend):
    # drift 0.3 per step: 0.3 0.6 0.9 1.2 -> spike; subtract keeps the 0.2 above threshold, zero drops it
    sub = simulate(_if_net("subtract"), 8, backend=backend)
    zero = simulate(_if_net("zero"), 8, backend=backend)
    assert np.allclose(sub.traces["a"]["v"][:, 0], [0.3, 0.6, 0.9, 0.2, 0.5, 0.8, 0.1, 0.4], atol=1e-12)
    assert sub.spikes["a"][0].tolist() == [3, 6]
    assert np.allclose(zero.traces["a"]["v"][:, 0], [0.3, 0.6, 0.9, 0.0, 0.3, 0.6, 0.9, 0.0], atol=1e-12)
    assert zero.spikes["a"][0].tolist() == [3, 7]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_if_subtract_uses_distance_to_v_reset(backend):
    # v_reset = -1, v_th = 1: a spike at v = 1.2 leaves 1.2 - 2 = -0.8
    net = _if_net("subtract", v_init=0.9)
    net.populations["a"].neuron["v_reset"] = -1.0
    run = simulate(net, 1, backend=backend)
    assert run.traces["a"]["v"][0, 0] == pytest.approx(1.2 - 2.0)


def _lif_net(reset: str) -> Network:
    net = Network(dt=1.0, seed=1)
    net.add_population("a", 3, neuron="lif", tau_m=10.0, v_th=1.0, v_reset=0.0, bias=[1.5, 3.0, 12.0],
                       reset=reset)
    net.add_probe("a", ("spikes", "v"))
    return net


def test_lif_hand_computed_first_spike():
    # bias 12, tau_m 10, dt 1: v1 = 12 (1 - e^-0.1) = 1.1419 -> spike, subtract leaves 0.1419
    a = np.exp(-0.1)
    run = simulate(_lif_net("subtract"), 2, backend="numpy")
    v1 = 12.0 * (1 - a)
    assert run.traces["a"]["v"][0, 2] == pytest.approx(v1 - 1.0)
    assert run.traces["a"]["v"][1, 2] == pytest.approx((v1 - 1.0) * a + 12.0 * (1 - a) - 1.0)


def test_lif_numpy_equals_numba_and_subtract_fires_more():
    sub_np = simulate(_lif_net("subtract"), 300, backend="numpy")
    sub_nb = simulate(_lif_net("subtract"), 300, backend="numba")
    zero = simulate(_lif_net("zero"), 300, backend="numba")
    for k in (0, 1):
        assert np.array_equal(sub_np.spikes["a"][k], sub_nb.spikes["a"][k])
    assert np.array_equal(sub_np.traces["a"]["v"], sub_nb.traces["a"]["v"])
    # measured: subtract 27 / 71 / 300 spikes, zero 27 / 60 / 300: the carried-over remainder matters
    # when the threshold is crossed by a large step (neuron 1), not when barely reached (neuron 0)
    assert sub_np.spike_counts("a", 3).tolist()[0] == zero.spike_counts("a", 3).tolist()[0]
    assert sub_np.spike_counts("a", 3)[1] > zero.spike_counts("a", 3)[1]


def test_bad_reset_is_one_line_error():
    with pytest.raises(NetworkFormatError, match="reset"):
        simulate(_if_net("linear"), 1)


def _driven_lif(reset: str) -> Network:
    net = Network(dt=1.0, seed=2)
    net.add_population("src", 4, neuron="poisson", rate=200.0)
    net.add_population("out", 2, neuron="lif", tau_m=10.0, tau_syn=2.0, v_th=1.0, reset=reset)
    net.connect("src", "out", connect={"rule": "all_to_all"}, weight=0.5)
    net.add_probe("out", ("spikes",))
    return net


@pytest.mark.parametrize("target", ["loihi", "truenorth"])
def test_compile_refuses_subtract_on_fixed_reset_cores(target):
    from neuromap.toolchain import compile_network
    from neuromap.errors import TargetError
    with pytest.raises(TargetError) as e:
        compile_network(_driven_lif("subtract"), target=target, placer="sequential").image
    msg = str(e.value)
    assert "\n" not in msg and "populations.out.neuron.reset" in msg and "--allow-reset-approximation" in msg


@pytest.mark.parametrize("target", ["loihi", "truenorth"])
def test_compile_approximation_is_a_fidelity_loss(target):
    from neuromap.toolchain import compile_network
    from neuromap.compiler.fidelity import FidelityError, FidelityReport, enforce
    img = compile_network(_driven_lif("subtract"), target=target, placer="sequential", rate_check="never",
                          allow_reset_approximation=True).image
    rep = FidelityReport.from_dict(img.options["fidelity"])
    assert rep.reset_approximated == ["out"]
    assert any("reset by subtraction" in what for what, _ in rep.losses())
    with pytest.raises(FidelityError, match="reset by subtraction"):
        enforce(rep, strict=True)
    zero = compile_network(_driven_lif("zero"), target=target, placer="sequential", rate_check="never").image
    assert FidelityReport.from_dict(zero.options["fidelity"]).reset_approximated == []


def test_cli_refuses_then_approximates_and_inspect_reads_it(tmp_path, capsys):
    from neuromap.io import save_network
    f = tmp_path / "sub.yaml"
    save_network(_driven_lif("subtract"), f)

    def cli(argv):
        return run_cli(argv, capsys)

    code, _, err = cli(["compile", str(f), "-o", str(tmp_path / "a"), "--quiet", "--placer", "sequential"])
    assert code == 2 and "populations.out.neuron.reset" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(["compile", str(f), "-o", str(tmp_path / "a"), "--quiet", "--placer", "sequential",
                          "--allow-reset-approximation"])
    assert code == 0, err
    assert "reset by subtraction run as reset to v_reset on 'out'" in out
    code, out, err = cli(["inspect", str(tmp_path / "a")])
    assert code == 0 and "reset by subtraction" in out, err


def test_truenorth_if_subtract_is_exact_linear_reset():
    # TrueNorth's linear reset (gamma = 1: V <- V - alpha) is the if model's reset: subtract, exactly
    from neuromap.compare import compare
    from neuromap.toolchain import compile_network
    from neuromap.targets import load_target
    net = Network(dt=1.0, seed=4)
    net.add_population("src", 6, neuron="poisson", rate=150.0)
    net.add_population("out", 3, neuron="if", v_th=1.0, v_reset=0.0, reset="subtract")
    net.connect("src", "out", connect={"rule": "all_to_all"}, weight=0.375)
    net.add_probe("out", ("spikes",))
    img = compile_network(net, target="truenorth", placer="sequential", rate_check="never").image
    assert img.options.get("reset_approximated") is None
    rep = compare(net, load_target("truenorth"), 400)
    (p,) = [q for q in rep.populations if q.name == "out"]
    zero = simulate(_retarget(net, "zero"), 400)
    assert p.spikes_ref == p.spikes_hw > int(zero.spike_counts("out", 3).sum())   # subtract fires more


def _retarget(net: Network, reset: str) -> Network:
    import copy
    out = copy.deepcopy(net)
    out.populations["out"].neuron["reset"] = reset
    return out
