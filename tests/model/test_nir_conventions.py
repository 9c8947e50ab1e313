"""Exporter conventions on NIR import (neuromap/nir_conventions.py, docs/nir.md): detection, the reset
mechanism, the CubaLIF current convention, time units, and warnings with numbers."""
from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest

from neuromap.errors import NetworkFormatError
from neuromap.neurons import lif
from neuromap.nir_conventions import NIRImportWarning, detect
from neuromap.nir_io import network_from_nir
from neuromap.simulator import simulate


def _cuba_graph(w_in, r, tau_syn=5e-3, tau_mem=1e-2, metadata=None, n=2):
    nodes = {"input": nir.Input(input_type=np.array([1])),
             "w": nir.Linear(weight=np.full((n, 1), 0.5)),
             "lif": nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.full(n, r),
                                v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                                w_in=np.full(n, w_in)),
             "output": nir.Output(output_type=np.array([n]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "w"), ("w", "lif"), ("lif", "output")],
                        metadata=metadata or {}, type_check=False)


def _lif_graph(tau, r, metadata=None):
    nodes = {"input": nir.Input(input_type=np.array([1])),
             "w": nir.Linear(weight=np.array([[0.5]])),
             "lif": nir.LIF(tau=np.array([tau]), r=np.array([r]), v_leak=np.zeros(1), v_threshold=np.ones(1),
                            v_reset=np.zeros(1)),
             "output": nir.Output(output_type=np.array([1]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "w"), ("w", "lif"), ("lif", "output")],
                        metadata=metadata or {}, type_check=False)


def test_norse_current_convention_is_a_direct_jump():
    # Norse 1.1 (export_nir.py): tau = dt / tau_inv (dt = 1e-3 s: 5 ms -> 5e-6), w_in = 1, r = 1; a spike adds W to
    # its current i, and forward Euler moves v by (h/tau_mem) i: neuromap's p J must be 0.1 * 0.5 = 0.05
    g = _cuba_graph(w_in=1.0, r=1.0, tau_syn=5e-6, tau_mem=1e-5)
    norse = network_from_nir(g, convention="norse")
    assert norse.dt == 1.0
    n = norse.populations["lif"].neuron
    assert n["tau_m"] == pytest.approx(-1 / np.log(0.9)) and n["tau_syn"] == pytest.approx(-1 / np.log(0.8))
    p = lif.constants(n, 2, 1.0)["p"]
    assert np.allclose(norse.projections[0].weight * p, 0.05)
    assert detect(g, g.nodes)[0].name == "norse"             # r = w_in = 1 and tau = dt * tau (signature)
    # NIR's own reading (seconds): 5e-6 s is far below the step, and says so
    with pytest.warns(NIRImportWarning, match="below dt"):
        network_from_nir(g, convention="nir")
    assert norse.populations["lif"].neuron.get("reset", "zero") == "zero"   # Norse resets to v_reset


def test_snntorch_detected_from_its_parameter_signature_resets_by_subtraction():
    dt = 1e-4
    g = _cuba_graph(w_in=5e-4 / dt, r=1e-3 / dt, tau_syn=5e-4, tau_mem=1e-3)
    conv, why = detect(g, g.nodes)
    assert conv.name == "snntorch" and "r = tau / 0.0001" in why
    net = network_from_nir(g)
    assert net.dt == pytest.approx(0.1) and net.populations["lif"].neuron["reset"] == "subtract"
    # the user's word wins over detection
    assert network_from_nir(g, convention="nir", dt=0.1).populations["lif"].neuron["reset"] == "zero"


def test_producer_named_in_metadata():
    g = _cuba_graph(w_in=1.0, r=1.0, metadata={"producer": "lava-dl 0.6 netx"})
    assert detect(g, g.nodes)[0].name == "lava-dl"
    g = _cuba_graph(w_in=1.0, r=1.0, metadata={"model_name": "rockpool"})
    assert detect(g, g.nodes)[0].name == "rockpool"
    assert detect(_cuba_graph(w_in=1.0, r=1.0), {})[0].name == "nir"


def test_sinabs_time_is_in_steps():
    # sinabs/nir.py writes tau_mem in steps: tau = 20 at dt = 0.5 ms is 10 ms
    net = network_from_nir(_lif_graph(tau=20.0, r=1.0), convention="sinabs", dt=0.5)
    assert net.populations["lif"].neuron["tau_m"] == pytest.approx(10.0)
    assert net.populations["lif"].neuron["reset"] == "subtract"


def _if_graph(w):
    nodes = {"input": nir.Input(input_type=np.array([1])), "w": nir.Linear(weight=np.array([[w]])),
             "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
             "output": nir.Output(output_type=np.array([1]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "w"), ("w", "if"), ("if", "output")], type_check=False)


def test_sinabs_fires_at_the_threshold_itself():
    # Sinabs's SingleSpike spikes at v_mem - threshold >= 0 (sinabs/activation/spike_generation.py); NIR's IF at
    # v > v_threshold. Two spikes of W = 0.5 bring an IAF exactly to its threshold 1: Sinabs fires (and subtracts
    # 1, back to 0), NIR's reading does not (v stays 1.0). By hand, input spikes at steps 0 and 1, delivered one
    # step later: v = 0.5 after step 1, 1.0 after step 2 -> spike at step 2 (Sinabs reading) only.
    times = [[0.0, 1.0]]
    sinabs = network_from_nir(_if_graph(0.5), convention="sinabs",
                              inputs={"*": {"model": "spike_source", "times": times}})
    assert sinabs.populations["if"].neuron["v_th"] == 1.0
    res = simulate(sinabs, 6)
    assert res.spikes["if"][0].tolist() == [2]
    # the same graph read with another step-unit convention (a spike adds W h = W) that fires at v > threshold
    lava = network_from_nir(_if_graph(0.5), convention="lava", inputs={"*": {"model": "spike_source",
                                                                              "times": times}})
    assert lava.populations["if"].neuron["v_th"] == np.nextafter(1.0, 2.0)
    assert simulate(lava, 6).spikes["if"][0].tolist() == []          # v = 1.0 is not above 1


def test_tau_far_below_dt_warns_with_numbers():
    # tau = 1e-5 s = 0.01 ms, dt = 1 ms: 100 x below
    with pytest.warns(NIRImportWarning, match=r"lif.tau: 0.01 ms is 100x below dt = 1 ms"):
        network_from_nir(_lif_graph(tau=1e-5, r=1.0), convention="nir")
    # tau = 1e-8 s = 1e-5 ms: 1e5 x below, a spike's effect underflows to 0: refused in one line
    with pytest.warns(NIRImportWarning), pytest.raises(NetworkFormatError, match=r"1e\+05x below dt = 1 ms"):
        network_from_nir(_lif_graph(tau=1e-8, r=1.0), convention="nir")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRImportWarning)
        network_from_nir(_lif_graph(tau=1e-2, r=1.0), convention="nir")      # 10 ms: plausible, silent


def test_a_bias_into_a_cubalif_current_warns_about_its_start_up():
    # NIR's CubaLIF adds the Affine bias to I (tau_syn dI/dt = -I + w_in (W S + b)), which starts at 0; neuromap's
    # lif drives v with the settled value from step 0: said in one line, with tau_syn in steps (5 ms / 1 ms = 5)
    g = _cuba_graph(w_in=1.0, r=1.0)
    g.nodes["w"] = nir.Affine(weight=np.full((2, 1), 0.5), bias=np.array([0.2, 0.0]))
    with pytest.warns(NIRImportWarning, match=r"lif: its bias enters the synaptic current, which NIR starts at 0 "
                                              r"\(tau_syn ~ 5 steps"):
        network_from_nir(g, convention="nir")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRImportWarning)
        network_from_nir(_cuba_graph(w_in=1.0, r=1.0), convention="nir")      # no bias: silent


def test_vanishing_weights_warn():
    g = _cuba_graph(w_in=1.0, r=1e-12)
    with pytest.warns(NIRImportWarning, match="can never make it spike"):
        network_from_nir(g, convention="nir")


def test_unknown_convention_is_one_line():
    with pytest.raises(NetworkFormatError) as e:
        network_from_nir(_lif_graph(1e-2, 1.0), convention="brian")
    assert "snntorch" in str(e.value) and "\n" not in str(e.value)
