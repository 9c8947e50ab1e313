"""Clopath spike pairing (seed 001 / Clopath 2010 Fig. 2b): float reference vs the integer engine on the emulator.

The pairing protocol of ``examples/clopath_pairing.py`` on a **LIF** post neuron (the ``loihi``
target runs LIF compartments, not AdEx): one pre input -> one ``lif`` post through a ``clopath``
synapse, ``N_PAIRS`` pairs per frequency; the post spike is forced by a ``drive`` input sent
``DRIVE_LEAD`` ms before the nominal post time (a LIF spike has no 2 ms depolarized shape, so the
LTP of a pre-post pair comes from the ramp towards threshold; theta_+ sits below v_th and the
amplitudes are larger than Clopath's AdEx values, see ``RULE``).

Per (lag, frequency): the float run (``neuromap.simulate``, numpy backend, event-driven rule) and
the same network compiled for ``loihi`` and run on the emulator (integer rule,
``neuromap/learning_engines/clopath.py``). Reported: w_end / w_init of both, the integer one from the
stored 8-bit mantissa (what the core uses) and from the engine's fine weight (the mantissa plus
16 fraction bits; obtained by replaying the engine on the emulator's recorded post v and spikes,
checked to give the emulator's mantissa), and their errors vs float; ``rule_only``: the engine replayed
on the float run's post v rounded to hardware units (the integer rule's own error).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

NAME = "clopath_accuracy"
DESCRIPTION = "Clopath spike pairing on a LIF post: float reference vs integer clopath engine on the emulator"

DT = 0.1
W_INIT = 0.5
N_PAIRS = 5
DRIVE_W = 200.0
DRIVE_LEAD = 1.0
FREQS = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0)
LAGS = (10.0, -10.0)
LIF = dict(tau_m=10.0, tau_syn=2.0, v_rest=-70.6, v_reset=-70.6, v_th=-50.4, v_init=-70.6)
RULE = dict(rule="clopath", A_LTD=7e-4, A_LTP=5e-3, theta_minus=-70.6, theta_plus=-60.0, tau_minus=10.0,
            tau_plus=7.0, tau_x=15.0, delay_u=0, u_init=-70.6, w_min=0.0, w_max=1.0)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pairing_network(freq_hz: float, lag_ms: float, n_pairs: int = N_PAIRS, rule: dict | None = None):
    """(network, steps): pre spikes arrive at 50 ms + k / f, the drive makes the post fire about lag ms later."""
    import neuromap
    period = 1000.0 / freq_hz
    t_pre = [50.0 + k * period for k in range(n_pairs)]
    t_post = [t + lag_ms for t in t_pre]
    net = neuromap.Network(name="clopath_pairing_lif", dt=DT, seed=1)
    net.add_population("pre", 1, "spike_source", times=[[t - DT for t in t_pre]])
    net.add_population("drive", 1, "spike_source", times=[[t - DT - DRIVE_LEAD for t in t_post]])
    net.add_population("post", 1, "lif", **LIF)
    net.connect("pre", "post", "all_to_all", weight=W_INIT, delay=1, name="syn", plasticity=dict(rule or RULE))
    net.connect("drive", "post", "all_to_all", weight=DRIVE_W, delay=1)
    return net, int(round((max(t_pre + t_post) + 100.0) / DT))


def run_float(net, steps: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(w_end / w_init, post spike steps, post v per step (float units)) of the float reference."""
    import neuromap
    net.add_probe("post", ("spikes", "v"))
    res = neuromap.simulate(net, steps, backend="numpy")
    v = np.asarray(res.traces["post"]["v"], float).reshape(steps, -1)[:, 0]
    return float(res.weights["syn"][0]) / W_INIT, np.asarray(res.spikes["post"][0], np.int64), v


def replay(learning: dict, w0: int, pre_steps, v_hw: np.ndarray):
    """Run the integer engine alone (one synapse) on given pre spike steps and post v (hardware units);
    returns (stored mantissa, fine weight)."""
    from neuromap.learning_engines import clopath
    w = np.array([w0], np.int32)
    st = clopath.make_state(learning, {}, 1, 1, np.zeros(1, np.int64), np.zeros(1, np.int64))
    pre = set(int(x) for x in pre_steps)
    for t in range(len(v_hw)):
        clopath.step(learning, st, w, np.array([t in pre]), np.zeros(1, bool), t + 1, v_hw[t:t + 1])
    return int(w[0]), int(st.syn.w_fine[0])


def run_int(net, steps: int, v_float: np.ndarray | None = None, engine: str = "numpy") -> dict:
    """Compile for loihi and emulate. Returns w_end / w_init from the stored mantissa (``mantissa``) and
    from the fine weight (``fine``; the engine replayed on the emulator's post v, checked to end on the
    emulator's mantissa), post spike steps, and, given the float run's post v, ``rule_only``: the engine
    on that v rounded to hardware units (the integer rule's own error, without the neuron's)."""
    from emulator import emulate
    from neuromap.toolchain import compile_network
    img = compile_network(net, "loihi").image
    k = next(i for i, pm in enumerate(img.projections) if pm.name == "syn")
    pm = img.projections[k]
    post = img.population("post")
    pre_src = img.source_ids(img.population("pre"))[0]
    raw = emulate(img, steps, engine, probe=np.array([post.start], np.int64))
    post_steps = raw.spikes[raw.spikes[:, 1] == post.start, 0]
    pre_steps = raw.spikes[raw.spikes[:, 1] == pre_src, 0]
    syn = np.flatnonzero(img.synapse_projections() == k)
    w0 = int(img.synapses["weight"][syn][0])
    m, fine = replay(pm.learning, w0, pre_steps, raw.v[:, 0])
    if m != int(raw.weights[k][-1][0]):
        raise RuntimeError("replayed clopath engine disagrees with the emulator's stored weight")
    out = {"mantissa": m / w0, "fine": fine / (w0 << 16), "post_steps": post_steps, "learning": pm.learning,
           "w0_mantissa": w0}
    if v_float is not None:
        qp = next(p for p in img.options["quantization"]["populations"] if p["name"] == "post")
        v_hw = np.rint(qp["v_scale"] * (v_float - LIF["v_reset"])).astype(np.int64)
        out["rule_only"] = replay(pm.learning, w0, pre_steps, v_hw)[1] / (w0 << 16)
    return out


def curves(freqs=FREQS, lags=LAGS) -> dict:
    """lag -> per-frequency lists: float, int_mantissa, int_fine, rule_only (w_end / w_init) and spike_shift
    (largest |float - integer| post spike step; -1: different spike counts)."""
    out = {}
    for lag in lags:
        row = {"float": [], "int_mantissa": [], "int_fine": [], "rule_only": [], "spike_shift": []}
        for f in freqs:
            net, steps = pairing_network(f, lag)
            wf, sf, vf = run_float(net, steps)
            ri = run_int(net, steps, vf)
            row["float"].append(wf)
            row["int_mantissa"].append(ri["mantissa"])
            row["int_fine"].append(ri["fine"])
            row["rule_only"].append(ri["rule_only"])
            same = sf.size == ri["post_steps"].size
            row["spike_shift"].append(int(np.max(np.abs(sf - ri["post_steps"]))) if same else -1)
        out[lag] = row
    return out


def run(quick: bool = False) -> dict:
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    freqs = (1.0, 20.0, 50.0) if quick else FREQS
    t0 = time.perf_counter()
    c = curves(freqs)
    res = {"_description": DESCRIPTION, "freqs_hz": list(freqs), "n_pairs": N_PAIRS}
    for lag, row in c.items():
        tag = f"{lag:+.0f}ms"
        f, m, q, r = (np.array(row[k]) for k in ("float", "int_mantissa", "int_fine", "rule_only"))
        res[f"{tag}_float"] = [round(x, 5) for x in f]
        res[f"{tag}_int_mantissa"] = [round(x, 5) for x in m]
        res[f"{tag}_int_fine"] = [round(x, 5) for x in q]
        res[f"{tag}_max_abs_err_mantissa"] = round(float(np.max(np.abs(m - f))), 5)
        res[f"{tag}_int_rule_only"] = [round(x, 5) for x in r]
        res[f"{tag}_max_abs_err_fine"] = round(float(np.max(np.abs(q - f))), 5)
        res[f"{tag}_max_abs_err_rule_only"] = round(float(np.max(np.abs(r - f))), 6)
        dw = f - 1.0
        res[f"{tag}_max_rel_err_dw_fine"] = round(float(np.max(np.abs((q - 1.0) - dw) / np.maximum(np.abs(dw), 1e-9))), 4)
        res[f"{tag}_post_spike_shift_steps"] = row["spike_shift"]
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    return res


def main() -> None:
    import json
    res = run("--quick" in sys.argv)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"{NAME}.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
