"""Urbanczik-Senn learning task (seed 001 Fig. 4 = Urbanczik & Senn 2014 Fig. 1b), as numbers.

``n_in`` Poisson inputs reach the dendrite of a ``two_compartment`` neuron through
plastic ``urbanczik_senn`` synapses (initial weights 0). The same inputs also reach
the soma as teaching conductances (``soma_exc``/``soma_inh``) whose weights follow
hidden teacher weights w*: excitatory for w* > 0, inhibitory for w* < 0. The soma's
firing thus carries the teacher's signal and the dendrite learns to predict it.
Printed: the prediction error mean (phi(U) - phi(V_w*))^2 (kHz^2) per window of
``window_ms``, and the correlation of learned and teacher weights. With eta = 0 (no
learning) the error stays where it starts.

``python examples/urbanczik_senn.py [--time]``; ``--chip``: the same task compiled for ``loihi`` and emulated
(:func:`chip_learning_curve`, docs/voltage-rules.md).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

DT = 0.1


def build(update: str = "event", eta: float = 20.0, n_in: int = 40, seed: int = 7) -> neuromap.Network:
    rng = np.random.default_rng(seed)
    w_star = rng.uniform(-1.0, 1.0, n_in)                 # hidden teacher weights
    net = neuromap.Network(name="urbanczik_senn", dt=DT, seed=seed)
    net.add_population("inp", n_in, "poisson", rate=20.0)
    net.add_population("post", 1, "two_compartment", seed=seed)
    net.connect("inp", "post", "all_to_all", weight=0.0, name="dend",
                plasticity=dict(rule="urbanczik_senn", eta=eta, tau_Delta=100.0, update=update))
    g = 15.0                                               # nS per unit teacher weight
    net.connect("inp", "post", "all_to_all", weight=g * np.maximum(w_star, 0.0), target="soma_exc", name="t_exc")
    net.connect("inp", "post", "all_to_all", weight=g * np.maximum(-w_star, 0.0), target="soma_inh", name="t_inh")
    net.add_probe("post", ["phi", "phi_pred"])
    return net


def learning_curve(update: str = "event", eta: float = 20.0, t_ms: float = 20000.0, window_ms: float = 2000.0,
                   seed: int = 7) -> dict:
    """Prediction error per window and the learned/teacher weight correlation."""
    net = build(update, eta, seed=seed)
    steps = int(round(t_ms / DT))
    res = neuromap.simulate(net, steps, backend="numpy")
    tr = res.traces["post"]
    err = (tr["phi"][:, 0] - tr["phi_pred"][:, 0]) ** 2
    nw = int(round(window_ms / DT))
    windows = err[: steps // nw * nw].reshape(-1, nw).mean(axis=1)
    w_star = np.asarray(net.projections[1].weight) - np.asarray(net.projections[2].weight)
    w = res.weights["dend"]
    corr = float(np.corrcoef(w, w_star)[0, 1]) if np.std(w) > 0 else 0.0
    return {"error": windows, "corr": corr, "weights": w, "rate_hz": float(res.rates["post"][0])}


def chip_learning_curve(eta: float = 20.0, t_ms: float = 20000.0, window_ms: float = 2000.0, seed: int = 7,
                        engine: str = "numba") -> dict:
    """The same task compiled for ``loihi`` and emulated (two joined compartments, engine ``loihi3f_us``; eta = 0:
    the dendritic projection static). The error is measured from the chip's own v: U = v_soma / s + E_L,
    V_w* = E_L + g_D/(g_L + g_D) v_dend / s_d (docs/voltage-rules.md, *On chip: Urbanczik-Senn ...*)."""
    from emulator import emulate  # lazy: the float example needs no emulator
    from neuromap.neurons import two_compartment  # lazy: as above
    from neuromap.toolchain import compile_network  # lazy: as above
    net = build("time", eta if eta else 20.0, seed=seed)
    if not eta:
        net.projections[0].plasticity = None
    res = compile_network(net, "loihi")
    soma, dend = res.reports.quantization.populations[:2]
    img = res.image
    steps = int(round(t_ms / DT))
    ids = np.array([img.population("post").start, img.population("post_dend").start])
    run = emulate(img, steps, engine, probe=ids, weight_every=steps)
    n = net.populations["post"].neuron
    c = {k: float(np.asarray(n[k]).reshape(-1)[0]) for k in ("phi_max", "k", "beta", "theta", "E_L", "g_L", "g_D")}
    U = run.v[:, 0] / soma.v_scale + c["E_L"]
    v_pred = c["E_L"] + c["g_D"] / (c["g_L"] + c["g_D"]) * run.v[:, 1] / dend.v_scale
    err = (two_compartment.phi(U, c) - two_compartment.phi(v_pred, c)) ** 2
    nw = int(round(window_ms / DT))
    k = next((k for k, pm in enumerate(img.projections) if pm.learning), None)
    w = run.weights[k][-1] / res.reports.quantization.projections[0].learning["weight_scale"] if k is not None \
        else np.zeros(0)
    return {"error": err[: steps // nw * nw].reshape(-1, nw).mean(axis=1), "weights": w}


def main() -> None:
    if "--chip" in sys.argv:
        for eta in (20.0, 0.0):
            c = chip_learning_curve(eta)
            print(f"chip eta={eta:g}: error per 2 s window (kHz^2): " + " ".join(f"{e:.2e}" for e in c["error"]))
        return
    upd = "time" if "--time" in sys.argv else "event"
    for eta in (20.0, 0.0):
        c = learning_curve(upd, eta)
        print(f"eta={eta:g} ({upd}-driven): post rate {c['rate_hz']:.1f} Hz, corr(w, w*) = {c['corr']:.3f}")
        print("  error per 2 s window (kHz^2): " + " ".join(f"{e:.2e}" for e in c["error"]))


if __name__ == "__main__":
    main()
