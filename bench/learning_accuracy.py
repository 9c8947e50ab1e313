"""Float reference vs integer seed rules on the emulator: what quantized learning costs (docs/accuracy.md).

Each seed experiment runs twice: the float network on the reference simulator
(``neuromap.simulate``) and the same network compiled for ``loihi`` (quantize maps the
rule onto its integer engine, neuromap/learning_engines) on the emulator. Both draw their own
Poisson inputs (different random streams), so rates are compared as statistics:

- seed 000 (``examples/pool_neuron.py``, explicit input spikes): output rate per input window;
- seed 003 (``examples/ramp_lif.py``): sliding-window rate of pop1/pop2, mean weight,
  weight-vs-input-rate correlation, weights of slow/fast inputs (``seconds`` of model time);
- seed 004 (``examples/balanced_ei.py``): E/I rates per second, final E rate vs rho0, mean ISP weight;
- pair ``stdp`` (additive and soft bounds) on Loihi's learning engine (``neuromap.compare`` on the same
  input spikes): rates, mean learned weight, rms per-synapse weight error, the rule's parameter errors.

Also times the integer Ramp (``ramp_seconds``, emulator ``numba`` engine: the fused compiled plastic
loop of emulator/plastic_numba.py; compile excluded by a 10-step warm-up run) against the float
reference run of the same length and ANNarchy's 1.26 s for 1000 s: medians of ``REPEATS`` runs of each,
alternating float and integer runs; records every run and the 1-minute load average (the machine is
shared).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

NAME = "learning_accuracy"
DESCRIPTION = "seed experiments: float reference vs integer seed rules on the emulator (rates, weights, time)"
ANNARCHY_S = 1.26
REPEATS = 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Run:
    """Spikes (pop -> (t, i)), steps, and learned weights in float units (projection -> network order)."""

    def __init__(self, steps, spikes, weights):
        self.steps, self.spikes, self.weights = steps, spikes, weights


def emulate_network(net, steps: int, engine: str = "numba") -> tuple[_Run, float]:
    """Compile ``net`` for loihi, run it on the emulator; returns (run, emulation wall time in s).
    Learned weights come back in the network's synapse order, divided by the weight scale."""
    from emulator import emulate
    from neuromap.compare import align_weights, learned_weights
    from neuromap.toolchain import compile_network
    img = compile_network(net, "loihi").image
    emulate(img, min(steps, 10), engine)      # numba: load/compile the kernels outside the timing
    t0 = time.perf_counter()
    raw = emulate(img, steps, engine)
    wall = time.perf_counter() - t0
    spikes = {}
    N = img.n_neurons
    for pop in img.populations:
        base = pop.start + (0 if pop.kind == "neuron" else N)
        m = (raw.spikes[:, 1] >= base) & (raw.spikes[:, 1] < base + pop.size)
        spikes[pop.name] = (raw.spikes[m, 0], raw.spikes[m, 1] - base)
    quant = {p["name"]: p for p in img.options["quantization"]["projections"]}
    weights = {}
    for name, (pre, post, w) in learned_weights(img, raw).items():
        pr = next(p for p in net.projections if p.name == name)
        weights[name] = np.abs(align_weights(pr, pre, post, w)) / quant[name]["learning"]["weight_scale"]
    return _Run(raw.steps, spikes, weights), wall


def _sys_path():
    for p in (ROOT, os.path.join(ROOT, "examples")):
        if p not in sys.path:
            sys.path.insert(0, p)


def pool_windows() -> dict:
    _sys_path()
    import pool_neuron
    net = pool_neuron.build("pool")
    flt = pool_neuron.run("pool")
    run, _ = emulate_network(net, pool_neuron.STEPS)
    t = np.zeros(pool_neuron.STEPS, bool)
    t[run.spikes["out"][0]] = True
    itg = pool_neuron.window_rates(t)
    return {"windows": {k: {"float": round(flt[k], 4), "int": round(itg[k], 4)} for k in flt},
            "max_abs_diff": round(max(abs(flt[k] - itg[k]) for k in flt), 4)}


def _ramp_summary(res, net) -> dict:
    from ramp_izhikevich import mean_sliding_rate
    rate_in = np.asarray(net.populations["inp"].neuron["rate"])
    out = {}
    for pop, proj in (("pop1", "inp_pop1"), ("pop2", "inp_pop2")):
        w = np.asarray(res.weights[proj], float)
        pre = net.projections[[p.name for p in net.projections].index(proj)].pre_idx
        out[pop] = {"mean_r_hz": round(mean_sliding_rate(res.spikes[pop][0], res.steps, net.dt), 2),
                    "w_mean": round(float(w.mean()), 4),
                    "w_rate_corr": round(float(np.corrcoef(rate_in[pre], w)[0, 1]), 3),
                    "w_low_inputs": round(float(w[pre < 20].mean()), 4),
                    "w_high_inputs": round(float(w[pre >= 80].mean()), 4)}
    return out


def ramp(seconds: float) -> dict:
    _sys_path()
    import ramp_lif

    import neuromap
    net = ramp_lif.build()
    steps = int(seconds * 1000 / net.dt)
    neuromap.simulate(net, 10)                    # numba: load/compile the simulator outside the timing
    t0 = time.perf_counter()
    res = neuromap.simulate(net, steps)
    t_float = time.perf_counter() - t0
    flt = _ramp_summary(res, net)
    run, t_int = emulate_network(net, steps)
    itg = _ramp_summary(run, net)
    w_f = np.asarray(res.weights["inp_pop2"], float)
    t_floats, t_ints = [t_float], [t_int]
    from emulator import emulate
    from neuromap.toolchain import compile_network
    img = compile_network(net, "loihi").image
    for _ in range(REPEATS - 1):                  # alternate float / int runs (shared machine)
        t0 = time.perf_counter()
        neuromap.simulate(net, steps)
        t_floats.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        emulate(img, steps)
        t_ints.append(time.perf_counter() - t0)
    return {"seconds": seconds, "float": flt, "int": itg,
            "pop2_weight_rms_diff": round(float(np.sqrt(np.mean((run.weights["inp_pop2"] - w_f) ** 2))), 4),
            "float_sim_s": round(float(np.median(t_floats)), 2), "int_emulator_s": round(float(np.median(t_ints)), 2),
            "float_sim_runs_s": " ".join(f"{x:.2f}" for x in t_floats),
            "int_emulator_runs_s": " ".join(f"{x:.2f}" for x in t_ints),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def balanced(steps: int) -> dict:
    _sys_path()
    import balanced_ei
    net = balanced_ei.build()
    flt = balanced_ei.run(steps)
    run, _ = emulate_network(net, steps)
    itg = {p: balanced_ei.rates(balanced_ei.spike_matrix(run, p, n))
           for p, n in (("E", balanced_ei.NE), ("I", balanced_ei.NI))}
    import neuromap
    res = neuromap.simulate(net, steps)
    w_f = np.asarray(res.weights["I_to_E"], float)
    return {"steps": steps, "rho0_hz": balanced_ei.RHO0,
            "E_hz_per_s": {"float": np.round(flt["E"], 2).tolist(), "int": np.round(itg["E"], 2).tolist()},
            "I_hz_per_s": {"float": np.round(flt["I"], 2).tolist(), "int": np.round(itg["I"], 2).tolist()},
            "E_final_2s_hz": {"float": round(float(flt["E"][-2:].mean()), 2),
                              "int": round(float(itg["E"][-2:].mean()), 2)},
            "w_isp_mean": {"float": round(float(w_f.mean()), 4), "int": round(float(run.weights["I_to_E"].mean()), 4)}}


def pair_stdp_net(bound: str, sign: str, seed: int = 5):
    """40 Poisson inputs -> 8 LIF, all-to-all pair ``stdp`` (tau 20 ms, A+ 0.01, A- 0.012, w in [0, 0.3]);
    inhibitory plastic weights get a static 60 Hz excitatory drive."""
    from neuromap.network import Network
    net = Network(name=f"pair_stdp_{bound}_{sign}", dt=1.0, seed=seed)
    net.add_population("inp", 40, "poisson", rate=40.0 if sign == "exc" else 15.0)
    net.add_population("out", 8, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
    net.connect("inp", "out", "all_to_all", weight={"uniform": [0.05, 0.2]}, delay=1, target=sign,
                plasticity={"rule": "stdp", "tau_plus": 20.0, "tau_minus": 20.0, "A_plus": 0.01, "A_minus": 0.012,
                            "w_min": 0.0, "w_max": 0.3, "bound": bound})
    if sign == "inh":
        net.add_population("drive", 20, "poisson", rate=60.0)
        net.connect("drive", "out", "all_to_all", weight=0.3, delay=1)
    return net


def pair_stdp(steps: int) -> dict:
    """Float pair STDP vs the same rule compiled onto Loihi's learning engine (docs/learning.md)."""
    from neuromap.compare import compare
    out = {}
    for bound in ("soft", "additive"):
        for sign in ("exc", "inh"):
            rep = compare(pair_stdp_net(bound, sign), "loihi", steps)
            (pop,), (w,) = rep.populations, rep.weights
            q = next(p for p in rep.quantization["projections"] if p["plasticity"] == "stdp")["learning"]
            out[f"{bound}_{sign}"] = {
                "rate_hz": {"float": round(pop.rate_ref_hz, 2), "loihi": round(pop.rate_hw_hz, 2)},
                "w_mean": {"float": round(w.mean_ref, 4), "loihi": round(w.mean_hw, 4)},
                "w_rms_rel_error": round(w.rms_rel_error, 3), "rule": q["rule"],
                "param_rel_error": {k: float(f"{v:.2g}") for k, v in q["param_rel_error"].items()}}
    return {"steps": steps, **out}


def run(quick: bool = False) -> dict:
    ramp_s = 100 if quick else 1000
    out = {"pool_000": pool_windows(), "balanced_004": balanced(4000 if quick else 8000),
           "ramp_003": ramp(ramp_s), "pair_stdp": pair_stdp(5000 if quick else 10000)}
    r = out["ramp_003"]
    out["ramp_int_1000s_s_vs_annarchy"] = f"{r['int_emulator_s'] * 1000 / ramp_s:.2f} s vs {ANNARCHY_S} s"
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
