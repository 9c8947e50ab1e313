"""The engines agree at every length (issue 19 item 5): runs past step 256 and 512 (where a uint8 delay added
to the step number wrapped in the numpy engine) and past several chunk boundaries, every delay 1..62, on both
engines and through the Lava backend (the ``engine`` fixture), against a hand-computed arrival table, and
the emulator's two engines against each other."""
import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import emulator
from emulator import emulate
from neuromap.toolchain import compile_network
from neuromap.network import Network
from neuromap.targets import load_target
from tests.helpers.strategies import loihi_networks

#: every delay the Loihi target accepts (1 .. 62)
MAX_DELAY = load_target("loihi").synapse.delay_max
FIELDS = ("spikes", "u", "v", "core_spikes", "link_spikes", "final_u", "final_v")
#: input spike steps: around the uint8 wrap (255/256), the 512 wrap, and chunk ends of the small-chunk runs
SEND = [0, 200, 250, 254, 255, 300, 449, 500, 510]


def _same(a, b):
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def _every_delay(exp: int):
    """Input i (i = 0..61) -> neuron i with delay i + 1 and weight 3 (one_to_one); du = 4095 makes u the
    input of the step alone (u = a << 6 + decayed 0), vth high: no spikes. ``exp < 0`` uses dendrite slots."""
    net = Network(seed=1)
    net.add_population("x", MAX_DELAY, neuron="spike_source", times=[SEND] * MAX_DELAY)
    net.add_population("n", MAX_DELAY, neuron="loihi_lif", du=4095, dv=0, vth=131071)
    net.connect("x", "n", connect="one_to_one", weight=12, weight_exp=exp,
                delay=np.arange(1, MAX_DELAY + 1))
    return compile_network(net).image


@pytest.mark.parametrize("exp", [0, -2])
def test_every_delay_arrives_at_send_plus_delay_past_step_256(engine, exp, monkeypatch):
    # Lava: 320 steps (past 256 with every delay; ~20 ms per Lava step), the emulator past 512 as well
    steps = 320 if engine.is_lava else 600
    img = _every_delay(exp)
    add = 12 << exp if exp >= 0 else 12 >> -exp
    want = np.zeros((steps, MAX_DELAY), np.int64)
    for i in range(MAX_DELAY):
        for t in SEND:
            if t + i + 1 < steps:
                want[t + i + 1, i] = add << 6
    whole = engine.run(img, steps)
    assert np.array_equal(whole.u, want)
    if not engine.is_lava:   # the emulator again in 150-step chunks (4 chunks)
        monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 150 * (2 * MAX_DELAY))
        assert np.array_equal(engine.run(img, steps).u, want)


def test_lava_port_example_engines_agree_at_300_steps():
    """The issue's case: ``validate --steps 300 --engine numpy`` diverged at step 255 (delay-2 recurrence)."""
    from neuromap.io import load_network
    img = compile_network(load_network("examples/lava_port_hw.yaml")).image
    pr = np.arange(img.n_neurons)
    a, b = emulate(img, 300, "numba", probe=pr), emulate(img, 300, "numpy", probe=pr)
    assert a.spikes[:, 0].max() > 256
    _same(a, b)


def nets():
    """Recurrent nets with Poisson drive, refractory, every delay 1..62 drawn per synapse, positive and negative
    weight exponents, several cores."""
    return loihi_networks(pops=(1, 2), size=(2, 24), vth=(0, 200), bias_mant=(-50, 300), bias_exp=None,
                          refractory=(0, 3), poisson=(1, 6), rate=(50.0, 400.0), projections=(1, 4), p_min=0.2,
                          weight=(-255, 255), max_delay=(MAX_DELAY, MAX_DELAY), weight_exp=(-3, 2))


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets(), st.integers(60, 200))
def test_engines_agree_over_several_chunks(net, chunk_steps):
    import dataclasses
    t = load_target("loihi")
    tgt = dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=16, max_input_axons=400))
    img = compile_network(net, tgt, passes=["check_hw_units", "partition", "lower"]).image
    pr = np.arange(img.n_neurons)
    steps = 560
    whole = emulate(img, steps, "numba", probe=pr)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(emulator, "_CHUNK_BUDGET", chunk_steps * (img.n_neurons + img.n_inputs))
        for eng in ("numba", "numpy"):
            _same(whole, emulate(img, steps, eng, probe=pr))
    finally:
        mp.undo()
