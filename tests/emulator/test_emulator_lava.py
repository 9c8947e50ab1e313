"""Differential tests: the emulator (numpy and numba engines) against Lava 0.10.0 fixed_pt, bit for bit.

Lava is built straight from the *network* (raw integer weights, Lava's own clip /
truncate / sign handling), not from the image, so the compiler's encoding is under
test too. Several random networks share one Lava run (one Monitor probes them all),
keeping the number of Lava runs (each spawns processes) small.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.lava.compat import lava_available
from emulator import emulate
from neuromap.toolchain import compile_network
from neuromap.network import Network

pytestmark = pytest.mark.lava
if not lava_available():
    pytest.skip("lava-nc not installed", allow_module_level=True)


def run_lava(nets: list[Network], steps: int, sparse: bool = False) -> list[dict]:
    """Run every network in one Lava fixed_pt run; per network {pop: {"s","u","v"}: (steps, n) int arrays}."""
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense, DelayDense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    monitors = []
    handles = []
    for net in nets:
        procs = {}
        for name, pop in net.populations.items():
            nu = pop.neuron
            if pop.model == "loihi_lif":
                full = lambda x: np.broadcast_to(np.asarray(x), (pop.size,)).copy()  # noqa: E731
                procs[name] = LIF(shape=(pop.size,), du=nu["du"], dv=nu["dv"], vth=nu["vth"],
                                  bias_mant=full(nu["bias_mant"]), bias_exp=full(nu["bias_exp"]),
                                  u=full(nu["u"]), v=full(nu["v"]))
            else:  # spike_source
                data = np.zeros((pop.size, steps), dtype=np.int32)
                for i, tt in enumerate(nu["times"]):  # ms, dt = 1
                    tt = np.asarray(tt, float).astype(int)
                    data[i, tt[tt < steps]] = 1
                procs[name] = RingBuffer(data=data)
        for pr in net.projections:
            npre, npost = net.populations[pr.pre].size, net.populations[pr.post].size
            w = pr.dense_weights(npre, npost).astype(np.int32)
            kw = dict(weight_exp=pr.hw["weight_exp"], num_weight_bits=pr.hw["num_weight_bits"],
                      sign_mode=SignMode[pr.hw["sign_mode"].upper()])
            if np.all(pr.delay == 1):
                conn = Sparse(weights=csr_matrix(w), **kw) if sparse else Dense(weights=w, **kw)
            else:
                dly = np.zeros((npost, npre), np.int64)  # Lava DelayDense checks delays.dtype == int
                dly[pr.post_idx, pr.pre_idx] = pr.delay - 1
                conn = (DelaySparse(weights=csr_matrix(w), delays=csr_matrix(dly), max_delay=int(dly.max()), **kw)
                        if sparse else DelayDense(weights=w, delays=dly, max_delay=int(dly.max()), **kw))
            procs[pr.pre].s_out.connect(conn.s_in)
            conn.a_out.connect(procs[pr.post].a_in)
        lifs = {n: p for n, p in procs.items() if net.populations[n].model == "loihi_lif"}
        for n, p in lifs.items():  # a Monitor records one target
            for k, target in (("s", p.s_out), ("u", p.u), ("v", p.v)):
                monitors.append((len(handles), n, k, Monitor()))
                monitors[-1][3].probe(target, steps)
        handles.append(lifs)
    # a run compiles the processes connected to one process: chain all populations with all-zero
    # Dense bridges (they add exactly 0 to the input of the next population)
    # (every LIF, not one per network: a population connected to nothing else would not be compiled,
    # and its Monitors would return the initial values)
    chain = [p for lifs in handles for p in lifs.values()]
    for pa, pb in zip(chain, chain[1:]):
        bridge = Dense(weights=np.zeros((pb.a_in.shape[0], pa.s_out.shape[0]), np.int32))
        pa.s_out.connect(bridge.s_in)
        bridge.a_out.connect(pb.a_in)
    first = monitors[0][3]
    try:
        first.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = [{n: {} for n in lifs} for lifs in handles]
        for i, n, k, mon in monitors:
            d = mon.get_data()[handles[i][n].name]
            out[i][n][k] = np.asarray(next(iter(d.values()))).astype(np.int64).reshape(steps, -1)
    finally:
        first.stop()
    return out


#: hardware-unit passes only: weights beyond 8 bits must reach the encoder (Lava clips them; so do we)
HW_PASSES = ["check_hw_units", "partition", "lower"]


def emulator_arrays(net: Network, steps: int, engine: str) -> dict:
    img = compile_network(net, passes=HW_PASSES).image
    run = emulate(img, steps, engine, probe=np.arange(img.n_neurons))
    out = {}
    for pop in img.populations:
        if pop.kind != "neuron":
            continue
        s = np.zeros((steps, pop.size), np.int64)
        m = (run.spikes[:, 1] >= pop.start) & (run.spikes[:, 1] < pop.start + pop.size)
        s[run.spikes[m, 0], run.spikes[m, 1] - pop.start] = 1
        sl = slice(pop.start, pop.start + pop.size)
        out[pop.name] = {"s": s, "u": run.u[:, sl], "v": run.v[:, sl]}
    return out


def assert_same(lava: dict, emu: dict, label: str) -> None:
    for pop, d in lava.items():
        for k in ("s", "u", "v"):
            a, b = d[k], emu[pop][k]
            if not np.array_equal(a, b):
                t, i = np.argwhere(a != b)[0]
                raise AssertionError(f"{label}: {pop}.{k} differs first at step {t}, neuron {i}: "
                                     f"lava {a[t, i]} emulator {b[t, i]}")


# ---------------------------------------------------------------- random networks
EDGE_DECAY = st.one_of(st.sampled_from([0, 1, 2048, 4094, 4095]), st.integers(0, 4095))


@st.composite
def hw_networks(draw, max_size=50):
    seed = draw(st.integers(0, 2 ** 16))
    net = Network(seed=seed)
    n_pops = draw(st.integers(1, 3))
    names = []
    for k in range(n_pops):
        size = draw(st.integers(1, max_size))
        vth = draw(st.one_of(st.sampled_from([0, 1, 131071]), st.integers(0, 131071), st.integers(0, 300)))
        bias_exp = draw(st.sampled_from([0, 3, 6, 7]))
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
        bias = rng.integers(-4096, 4096, size) if draw(st.booleans()) else np.full(size, draw(
            st.sampled_from([-4096, 0, 100, 4095])))
        net.add_population(f"p{k}", size, neuron="loihi_lif", du=draw(EDGE_DECAY), dv=draw(EDGE_DECAY), vth=vth,
                           bias_mant=bias.tolist(), bias_exp=bias_exp,
                           v=int(draw(st.sampled_from([0, -(2 ** 23 - 1), 2 ** 23 - 1]))))
        names.append(f"p{k}")
    n_in = draw(st.integers(1, 8))
    times = [sorted(set(draw(st.lists(st.integers(0, 39), max_size=12)))) for _ in range(n_in)]
    net.add_population("inp", n_in, neuron="spike_source", times=times)
    for _ in range(draw(st.integers(1, 4))):
        pre = draw(st.sampled_from(names + ["inp"]))
        post = draw(st.sampled_from(names))  # pre == post: self-recurrence
        mode = draw(st.sampled_from(["mixed", "excitatory", "inhibitory"]))
        lo, hi = {"mixed": (-400, 400), "excitatory": (0, 400), "inhibitory": (-400, 0)}[mode]
        delay = 1 if draw(st.booleans()) else {"uniform_int": [1, draw(st.integers(1, 8))]}
        net.connect(pre, post, connect={"rule": "fixed_probability", "p": draw(st.floats(0.1, 1.0))},
                    weight={"uniform_int": [lo, hi]}, delay=delay, weight_exp=draw(st.integers(-8, 7)),
                    num_weight_bits=draw(st.integers(1, 8)), sign_mode=mode)
    return net


STEPS = 40


def check_batch(nets, sparse=False):
    lava = run_lava(nets, STEPS, sparse=sparse)
    for k, net in enumerate(nets):
        for engine in ("numba", "numpy"):
            assert_same(lava[k], emulator_arrays(net, STEPS, engine), f"net {k} ({engine})")


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(hw_networks(), min_size=6, max_size=6), st.booleans())
def test_random_networks_match_lava(nets, sparse):
    check_batch(nets, sparse)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(hw_networks(), min_size=8, max_size=8), st.booleans())
def test_random_networks_match_lava_sweep(nets, sparse):
    check_batch(nets, sparse)
