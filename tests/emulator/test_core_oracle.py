"""The ``loihi_lif`` core (Lava 0.10 ``PyLifModelBitAcc`` semantics as docs/emulator.md and docs/targets.md
document them: 12-bit decays toward zero with Lava's ``du + 1``, bias mantissa/exponent, strict threshold
``vth << 6``, reset, refractory, delays, weight exponents and dendrite sums) against its scalar oracle
(tests/oracles/loihi_core.py): hand-computed steps of the oracle, then the engines every
step (spikes, u, v of every neuron) on random images whose neuron constants cover the full ranges (u wrap,
v saturation, large biases), on every engine (the ``engine`` fixture: numpy, numba and the Lava backend).
A non-Loihi target's widths: tests/emulator/test_target_arithmetic.py."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neuromap.toolchain import compile_network
from neuromap.network import Network
from tests.oracles import loihi_core
from tests.oracles.cases import core_net, stress

HW_PASSES = ["check_hw_units", "partition", "lower"]      # hardware-unit networks: no quantization


def one(steps, inp_times=(), weights=(), exp=0, delay=1, **lif):
    """The oracle on one loihi_lif neuron fed by len(weights) inputs spiking at inp_times: (u, v, spike steps)."""
    net = Network()
    net.add_population("n", 1, neuron="loihi_lif", **lif)
    if weights:
        net.add_population("i", len(weights), neuron="spike_source", times=[list(inp_times)] * len(weights))
        net.connect("i", "n", connect={"rule": "matrix", "matrix": np.array([list(weights)])}, weight_exp=exp,
                    delay=delay)
    ref = loihi_core.run(compile_network(net, passes=HW_PASSES).image, steps)
    return ref.u[:, 0].tolist(), ref.v[:, 0].tolist(), ref.spikes[ref.spikes[:, 1] == 0, 0].tolist()


def test_oracle_by_hand():
    # du = 0 still decays by 1/4096 (factor 4095), toward zero: 1000 -> 999 -> 998; -1000 -> -999
    assert one(2, u=1000, vth=131071)[0] == [999, 998]
    assert one(1, u=-1000, vth=131071)[0] == [-999]
    # dv = 2048 halves v; bias 3 << 2 = 12 per step
    assert one(3, v=100, dv=2048, bias_mant=3, bias_exp=2, vth=131071)[1] == [62, 43, 33]
    # threshold vth << 6 = 64 is strict: v = 64 does not spike, 80 does and resets to 0
    u, v, s = one(6, bias_mant=16, vth=1)
    assert v == [16, 32, 48, 64, 0, 16] and s == [4]
    # refractory 2: after the spike at step 4 v stays 0 at steps 5 and 6, then integrates again
    u, v, s = one(8, bias_mant=16, vth=1, refractory=2)
    assert v == [16, 32, 48, 64, 0, 0, 0, 16] and s == [4]
    # an input spike at step 0 with delay 3 is in u at step 3, shifted by 6; u is not reset by a spike
    u, v, s = one(5, inp_times=[0], weights=[200], delay=3, du=4095, vth=100)
    assert u == [0, 0, 0, 200 << 6, 0] and s == [3] and v[3] == 0
    # weight exponent -1: the two weights onto one (post, delay) are summed, then floored: (1 + 1) >> 1
    assert one(2, inp_times=[0], weights=[1, 1], exp=-1, du=4095, vth=131071)[0][1] == 1 << 6
    # u wraps once at 24 bits: 8386552 * 4095 >> 12 = 8384504, + 255 << 6 = 8400824 > 2**23 -> - 2**24
    u = one(2, inp_times=[0], weights=[255], u=2 ** 23 - 8, vth=131071, dv=4095)[0]
    assert u == [8386552, 8400824 - 2 ** 24]
    # v saturates at -(2**23 - 1)
    assert one(2, v=-(2 ** 23 - 1), bias_mant=-4096, bias_exp=7, vth=131071)[1] == [-(2 ** 23 - 1)] * 2


def test_engines_equal_core_oracle_every_step(engine):
    """Random hardware-unit networks (and the same with stressed neuron constants) on every engine (the
    ``engine`` fixture; Lava keeps one vth per population, see :attr:`Engine.per_neuron_vth`)."""
    @settings(max_examples=engine.examples(25, lava=1), deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2 ** 31 - 1), st.one_of(st.none(), st.integers(0, 1000)))
    @example(4, None)
    @example(10, 2)
    def check(net_seed, stress_seed):
        img = compile_network(core_net(net_seed), passes=HW_PASSES).image
        if stress_seed is not None:
            img = stress(img, stress_seed, per_neuron_vth=engine.per_neuron_vth)
        steps = 50
        ref = loihi_core.run(img, steps)
        got = engine.run(img, steps)
        assert np.array_equal(got.spikes, ref.spikes)
        assert np.array_equal(got.u, ref.u)
        assert np.array_equal(got.v, ref.v)
        if net_seed in (4, 10):   # the explicit examples' neurons spike: the comparison is not vacuous
            assert np.any(ref.spikes[:, 1] < img.n_neurons)

    check()
