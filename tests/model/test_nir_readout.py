"""Non-spiking NIR readouts (``LI`` / ``CubaLI``) compiled as probed-voltage readout cores (docs/nir.md,
*Readouts*): a loihi_lif core whose threshold is the largest mantissa and whose voltage scale keeps every
reachable v below it. The float reference simulates the readout; the chip's ``v / v_scale + v_reset`` follows it
(compare reports the error), the engines (Lava included) equal the scalar oracle, and the readout appears in
the results file and in ``neuromap run``."""
from __future__ import annotations

import numpy as np
import pytest

from backends.emulator import load_results, run as emulator_run
from neuromap.compare import compare, format_report
from neuromap.network import Network
from neuromap.neurons.lif import NEVER_FIRES
from neuromap.nir_io import network_from_nir
from neuromap.toolchain import compile_network
from tests.helpers.cli import run_cli
from tests.helpers.nir_nets import readout_graph, readout_net
from tests.oracles import loihi_core


@pytest.mark.parametrize("kind", ["CubaLI", "LI"])
def test_readout_compiles_to_a_never_spiking_core_that_follows_the_float_voltage(kind):
    net = readout_net(kind)
    assert net.populations["ro"].neuron["v_th"] == NEVER_FIRES
    rep = compare(net, "loihi", 400)
    (ro,) = rep.readouts
    q = [p for p in rep.quantization["populations"] if p["name"] == "ro"]
    assert [p["readout"] for p in q] == [True] and q[0]["vth"] == 131071 and q[0]["bound_by"] == "voltage"
    assert ro.chip_spikes == 0 and ro.neurons == 3 and ro.rms_ref > 0.5
    assert ro.rel_rms_error < 0.02 and ro.argmax_agreement > 0.95, format_report(rep)
    assert f"readout ro (3 neurons, v): rms ref {ro.rms_ref:.4g}" in format_report(rep)


def test_engines_equal_the_oracle_on_a_readout_core(engine):
    times = [[float(t) for t in range(k, 150, 3 + k)] for k in range(4)]
    net = network_from_nir(readout_graph(), inputs={"*": {"model": "spike_source", "times": times}})
    img = compile_network(net, "loihi").image
    ref = loihi_core.run(img, 150)
    got = engine.run(img, 150)
    assert np.array_equal(got.spikes, ref.spikes) and np.array_equal(got.v, ref.v) and np.array_equal(got.u, ref.u)
    ro = img.population("ro")
    assert np.abs(ref.v[:, ro.start:ro.start + 3]).max() > 1000          # the readout moves: not vacuous
    assert not np.any((ref.spikes[:, 1] >= ro.start) & (ref.spikes[:, 1] < ro.start + 3))


def test_readout_in_the_results_file_and_run_output(tmp_path, capsys):
    net = readout_net()
    img = compile_network(net, "loihi").image
    res = emulator_run(img, 100)
    q = [p for p in img.options["quantization"]["populations"] if p["name"] == "ro"][0]
    assert np.array_equal(res.readout["ro"], res.v["ro"] / q["v_scale"] + q["v_reset"])
    res.save(tmp_path / "r.npz")
    assert np.array_equal(load_results(tmp_path / "r.npz").readout["ro"], res.readout["ro"])
    img.save(tmp_path / "b")
    code, out, err = run_cli(["run", str(tmp_path / "b"), "--steps", "100", "-q"], capsys)
    assert code == 0, err
    last = res.readout["ro"][-1]
    assert f"readout ro: v after step 100 (float units) [{last[0]:.4g}, {last[1]:.4g}, {last[2]:.4g}], largest: " \
           f"neuron {int(np.argmax(last))}" in out


def test_a_readout_without_a_probe_gets_one():
    net = Network(dt=1.0)
    net.add_population("i", 2, "poisson", rate=100.0)
    net.add_population("ro", 2, "lif", v_th=NEVER_FIRES, tau_m=10.0)
    net.connect("i", "ro", weight=0.3)
    img = compile_network(net, "loihi").image
    assert [(p.population, p.variables) for p in img.probes] == [("ro", ("v",))]
    assert "ro" in emulator_run(img, 20).readout


def test_a_readout_without_leak_is_refused_in_one_line():
    net = Network(dt=1.0)
    net.add_population("i", 2, "poisson", rate=100.0)
    net.add_population("ro", 2, "lif", v_th=NEVER_FIRES, tau_m=1e12)
    net.connect("i", "ro", weight=0.3)
    with pytest.raises(Exception, match="readout needs a leak") as e:
        compile_network(net, "loihi")
    assert "\n" not in str(e.value)
