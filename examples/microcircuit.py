"""The cortical microcircuit of Potjans & Diesmann (2014), Cereb. Cortex 24:785, as NEST's
``Potjans_2014`` example builds it (network_params.py / helpers.py of NEST 3), with a ``scale`` for
neurons and in-degrees.

8 populations (L2/3, L4, L5, L6; E and I), 77 169 neurons and ~0.3 billion synapses at full scale.
Parameters (published table): population sizes ``N_FULL``; connection probabilities ``CONN_PROBS``
(rows target, columns source); total synapse numbers ``K = log(1 - p) / log(1 - 1 / (N_pre N_post))``
(NEST draws them as fixed_total_number with multapses; here each pair is connected with probability
``K / (N_pre N_post)``, the same mean and nearly the same binomial spread of in-degrees, without
multapses: a Loihi axon holds one synapse per neuron pair);
``iaf_psc_exp`` neurons (C_m 250 pF, tau_m 10 ms, tau_syn 0.5 ms, t_ref 2 ms, E_L = V_reset = -65 mV,
V_th = -50 mV) as ``lif`` in mV relative to E_L (v_rest = v_reset = 0, v_th = 15, ``tau_m dv/dt =
-v + R I`` with R = tau_m / C_m = 0.04 GOhm, so a current of w pA is a jump of ``0.04 w`` mV in I);
mean PSP 0.15 mV -> PSC 87.8 pA (NEST's postsynaptic_potential_to_current), 10 % sd, doubled from L4E
to L2/3E, g = -4 for inhibitory sources; delays normal(1.5, 0.75) ms (E) and (0.75, 0.375) ms (I),
rounded to steps of dt and at least one step; background 8 Hz x K_ext Poisson input per neuron
(one Poisson source per neuron, delay 1.5 ms; at full scale 12.8-23.2 kHz: 1.3-2.3 events per 0.1 ms
step, several events per step as NEST's poisson_generator) or the equivalent DC current;
initial potentials normal per population (NEST's 'optimized' V0).

Scaling (NEST's helpers.adjust_weights_and_input_to_synapse_scaling): ``scale`` multiplies population
sizes and in-degrees (``k_scale`` the in-degrees alone if given); with in-degrees scaled by K < 1 the
weights grow by 1/sqrt(K) and a DC current ``0.001 tau_syn (1 - sqrt(K)) sum(PSC x indegree x rate)``
(full-scale rates ``FULL_MEAN_RATES``) keeps the mean input. ``PUBLISHED_RATES``: full-scale rates
(spikes/s) the model is known for (Potjans & Diesmann 2014 Fig. 6; van Albada et al. 2018 Fig. 4).

``python examples/microcircuit.py [--scale 0.1] [--ms 1000] [--drive poisson|dc] [--emulator]``
prints per-population rates of the float reference (and of the emulator on the compiled image).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
import neuromap  # noqa: E402
from neuromap.connectivity import connect_synapses  # noqa: E402

POPS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
#: full-scale rates NEST's example uses for the DC compensation of scaled in-degrees (spikes/s)
FULL_MEAN_RATES = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])
#: published full-scale rates (spikes/s, one decimal, read off Potjans & Diesmann 2014 Fig. 6 and van Albada
#: et al. 2018 Fig. 4; the figures give no table, so they are approximate)
PUBLISHED_RATES = np.array([0.9, 2.8, 4.4, 5.8, 7.6, 8.7, 1.1, 7.7])
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]) + 65.0   # mV above E_L
V0_SD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
C_M, TAU_M, TAU_SYN, T_REF, V_TH = 250.0, 10.0, 0.5, 2.0, 15.0        # pF, ms, ms, ms, mV above E_L
PSP_E, PSP_SD, G, BG_RATE = 0.15, 0.1, -4.0, 8.0                      # mV, relative, -, Hz
DELAY_E, DELAY_I, DELAY_REL_SD, POISSON_DELAY = 1.5, 0.75, 0.5, 1.5  # ms
R_MOHM = TAU_M / C_M * 1000.0                                         # 40 MOhm: pA -> mV / 1000


def psc_over_psp(c_m: float = C_M, tau_m: float = TAU_M, tau_syn: float = TAU_SYN) -> float:
    """pA of exponential PSC per mV of PSP peak for iaf_psc_exp (NEST's postsynaptic_potential_to_current)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def full_synapses() -> np.ndarray:
    """(8, 8) total synapse numbers at full scale (target, source), NEST's num_synapses_from_conn_probs."""
    prod = np.outer(N_FULL, N_FULL).astype(float)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def parameters(scale: float = 0.1, k_scale: float | None = None, drive: str = "poisson") -> dict:
    """Sizes, synapse numbers and weights (pA) (target, source), external rates (Hz) and DC (pA) per population."""
    k_scale = scale if k_scale is None else k_scale
    if not 0 < scale <= 1 or not 0 < k_scale <= 1:
        raise ValueError("scale and k_scale must be in (0, 1]")
    if drive not in ("poisson", "dc"):
        raise ValueError("drive must be 'poisson' or 'dc'")
    sizes = np.maximum(1, np.round(N_FULL * scale)).astype(int)
    k_full = full_synapses()
    total = np.round(k_full * scale * k_scale).astype(np.int64)
    psc = PSP_E * psc_over_psp()                                       # 87.8 pA
    w = np.tile(np.where(np.arange(8) % 2 == 0, psc, psc * G), (8, 1))  # (target, source)
    w[0, 2] *= 2.0                                                      # L4E -> L2/3E doubled
    dc = np.zeros(8) if drive == "poisson" else 0.001 * TAU_SYN * BG_RATE * K_EXT * psc
    rec_in = np.sum(w * (k_full / N_FULL[:, None]) * FULL_MEAN_RATES, axis=1)   # pA of the full network
    dc = dc + 0.001 * TAU_SYN * (1.0 - math.sqrt(k_scale)) * rec_in
    if drive == "poisson":
        dc = dc + 0.001 * TAU_SYN * (1.0 - math.sqrt(k_scale)) * psc * K_EXT * BG_RATE
    return dict(sizes=sizes, synapses=total, weight_pa=w / math.sqrt(k_scale), psc_ext_pa=psc / math.sqrt(k_scale),
                ext_rate_hz=BG_RATE * K_EXT * k_scale if drive == "poisson" else np.zeros(8), dc_pa=dc,
                scale=scale, k_scale=k_scale, drive=drive)


def _delays(rng: np.random.Generator, n: int, mean: float, dt: float) -> np.ndarray:
    """Normal(mean, mean * DELAY_REL_SD) ms rounded to steps, at least one step (NEST clips at dt)."""
    d = rng.normal(mean, mean * DELAY_REL_SD, n)
    return np.maximum(1, np.rint(d / dt)).astype(np.int64)


def build(scale: float = 0.1, k_scale: float | None = None, drive: str = "poisson", dt: float = 0.1,
          seed: int = 55) -> neuromap.Network:
    """The microcircuit as a neuromap Network (spike probes on every population)."""
    par = parameters(scale, k_scale, drive)
    sizes = par["sizes"]
    net = neuromap.Network(name=f"microcircuit_{scale:g}", dt=dt, seed=seed)
    rng = np.random.default_rng([seed, 1])
    to_mv = R_MOHM / 1000.0                                             # pA -> mV of I (R = 40 MOhm)
    for i, name in enumerate(POPS):
        v0 = np.minimum(rng.normal(V0_MEAN[i], V0_SD[i], sizes[i]), V_TH - 1e-3)
        net.add_population(name, int(sizes[i]), "lif", tau_m=TAU_M, tau_syn=TAU_SYN, v_rest=0.0, v_th=V_TH,
                           v_reset=0.0, refractory=int(round(T_REF / dt)), v_init=v0,
                           bias=float(par["dc_pa"][i] * to_mv))
    if drive == "poisson":
        for i, name in enumerate(POPS):
            net.add_population(f"bg_{name}", int(sizes[i]), "poisson", rate=float(par["ext_rate_hz"][i]))
            w = par["psc_ext_pa"] * to_mv
            net.connect(f"bg_{name}", name, "one_to_one", weight=w, delay=int(round(POISSON_DELAY / dt)),
                        name=f"bg_{name}")
    for i, post in enumerate(POPS):
        for j, pre in enumerate(POPS):
            total = par["synapses"][i, j]
            if total == 0:
                continue
            p_pair = min(1.0, total / (float(sizes[i]) * float(sizes[j])))
            rng = np.random.default_rng([seed, 2, i, j])
            syn = connect_synapses({"rule": "fixed_probability", "p": p_pair}, int(sizes[j]), int(sizes[i]),
                                   False, rng, f"{pre}_to_{post}")
            mean = abs(par["weight_pa"][i, j]) * to_mv
            delay = _delays(rng, syn.pre_idx.size, DELAY_E if j % 2 == 0 else DELAY_I, dt)
            pr = net.connect(pre, post, {"rule": "list", "pre": syn.pre_idx, "post": syn.post_idx},
                             weight={"normal": [mean, PSP_SD * mean], "clip": [0.0, 1e9]}, delay=delay,
                             target="exc" if j % 2 == 0 else "inh", name=f"{pre}_to_{post}")
            # the spec keeps the index and delay arrays as given: let it share the projection's equal
            # arrays instead of holding copies (24 of the network's 56 bytes per synapse)
            pr.spec["connect"]["pre"], pr.spec["connect"]["post"], pr.spec["delay"] = pr.pre_idx, pr.post_idx, pr.delay
            del syn, delay
    for name in POPS:
        net.add_probe(name, "spikes")
    return net


def rates(spikes: dict, sizes, steps: int, dt: float, skip_ms: float = 0.0) -> np.ndarray:
    """Mean rate (spikes/s) per population after ``skip_ms``; spikes: population -> (steps, indices)."""
    skip = int(round(skip_ms / dt))
    secs = (steps - skip) * dt / 1000.0
    return np.array([np.count_nonzero(np.asarray(spikes[p][0]) >= skip) / (n * secs) for p, n in zip(POPS, sizes)])


def emulator_spikes(image, run) -> dict:
    """Population -> (steps, local indices) of an emulator run of ``image``."""
    out = {}
    for name in POPS:
        pm = image.population(name)
        m = (run.spikes[:, 1] >= pm.start) & (run.spikes[:, 1] < pm.start + pm.size)
        out[name] = (run.spikes[m, 0], run.spikes[m, 1] - pm.start)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Potjans & Diesmann (2014) cortical microcircuit")
    ap.add_argument("--scale", type=float, default=0.1, help="neurons and in-degrees (1 = full scale)")
    ap.add_argument("--k-scale", type=float, default=None, help="in-degrees alone (default: --scale)")
    ap.add_argument("--drive", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--ms", type=float, default=1000.0)
    ap.add_argument("--skip-ms", type=float, default=200.0, help="transient left out of the rates")
    ap.add_argument("--emulator", action="store_true", help="also compile and run on the emulator")
    ap.add_argument("--target-file", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets",
                                                          "loihi_microcircuit.toml"))
    a = ap.parse_args(argv)
    t = time.time()
    net = build(a.scale, a.k_scale, a.drive)
    n_syn = sum(p.n_synapses for p in net.projections)
    print(f"built: {sum(p.size for p in net.populations.values())} neurons/inputs, {n_syn} synapses, "
          f"{time.time() - t:.1f} s")
    steps = int(round(a.ms / net.dt))
    t = time.time()
    ref = neuromap.simulate(net, steps)
    sizes = [net.populations[p].size for p in POPS]
    r_ref = rates(ref.spikes, sizes, steps, net.dt, a.skip_ms)
    print(f"float reference: {time.time() - t:.1f} s")
    cols = {"published": PUBLISHED_RATES, "float": r_ref}
    if a.emulator:
        from emulator import emulate
        from neuromap.toolchain import compile_network
        from neuromap.targets import load_target
        t = time.time()
        img = compile_network(net, load_target(a.target_file)).image
        print(f"compiled: {img.n_cores} cores, {time.time() - t:.1f} s")
        t = time.time()
        run = emulate(img, steps)
        print(f"emulator: {time.time() - t:.1f} s")
        cols["emulator"] = rates(emulator_spikes(img, run), sizes, steps, net.dt, a.skip_ms)
    print("population " + " ".join(f"{c:>10}" for c in cols))
    for i, p in enumerate(POPS):
        print(f"{p:<10} " + " ".join(f"{v[i]:>10.3f}" for v in cols.values()))


if __name__ == "__main__":
    main()
