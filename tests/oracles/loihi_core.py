"""Scalar reference of an image of ``loihi_lif`` cores, written from docs/emulator.md (*One step*,
*Delivery*), docs/targets.md (*Neuron arithmetic*: the image's widths) and, for plastic projections,
docs/learning.md (*Learning in networks*) with the engine oracles of :mod:`oracles.seed_rules`.
Plain Python ints, one neuron and one synapse at a time; it reads only the image (the contract).

Per step t = 0, 1, ... (``D = decay_bits``, ``U = 2**D``, ``A``/``T`` activation/threshold shifts,
``H = 2**(current_bits-1)``, ``L = 2**(voltage_bits-1) - 1``):

1. every neuron n, in order: ``a = wrap32(wrap32(S) << A)`` with S the input that arrives now;
   ``d = wrap32(decay(u, U - du - 1) + a)``, ``u = d - 2H if d > H, d + 2H if d <= -H, else d``;
   unless n is refractory (it spiked in one of the last R steps): ``v = clip(wrap32(decay(v, U - dv) + u +
   (bias_mant << bias_exp)), -L, L)``, and a spike where ``v > vth << T``, which sets ``v = 0``;
   with dendrite compartments (``neurons.join_parent``, docs/image-format.md *Compartments*): first every
   neuron's u, then every dendrite's v (the formula above, never a spike), then every other neuron's v with its
   dendrite's new v added inside the wrap32 (join ADD);
2. the inputs emit their spikes of step t (explicit spike times only);
3. every spike walks its source's route entries to the axon's synapses; per (projection, post, delay) the
   weights are summed, shifted by the projection's ``weight_exp`` (left, or floor right when negative) and
   added to the input of step ``t + delay`` (delay = synapse delay + route delay);
4. every plastic projection's engine oracle gets the step's pre and post spikes, ``t + 1`` and the post
   v, and updates the projection's stored weights, which deliver from step t + 1 on; before that, when
   ``t % period == 0``, each embedded-core controller of the image (:mod:`oracles.esn_q`) reads its
   projection oracle's per-post state and writes its parameters (docs/learning.md, *Embedded-core controllers*).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.oracles.esn_q import EsnQ
from tests.oracles.fixed_point import clip, decay_toward_zero, wrap32
from tests.oracles.seed_rules import ENGINES

#: controller kind -> oracle
CONTROLLERS = {"esn_q": EsnQ}


@dataclass
class CoreRun:
    """Spikes ``(step, source)`` (k, 2) sorted by step then source, ``u``/``v`` (steps, N) after each step,
    and per plastic projection index its stored weights after every step (steps, S_k), image order."""

    spikes: np.ndarray
    u: np.ndarray
    v: np.ndarray
    weights: dict[int, np.ndarray] = field(default_factory=dict)


def _synapse_sources(img) -> list[int]:
    """Source id of every synapse: the route entry that reaches its axon (one per plastic axon)."""
    rt, ax = img.routes, img.axons
    src = [-1] * img.n_synapses
    for s in range(img.n_neurons + img.n_inputs):
        for r in range(int(rt["src_ptr"][s]), int(rt["src_ptr"][s + 1])):
            g = int(img.cores["axon_ptr"][rt["core"][r]]) + int(rt["axon"][r])
            for q in range(int(ax["syn_ptr"][g]), int(ax["syn_ptr"][g + 1])):
                src[q] = s
    return src


def _plastic(img, weight: list[int]):
    """Per plastic projection: (index, its synapse ids, pre source ids, post neuron ids, engine oracle)."""
    out = []
    syn_proj = img.synapse_projections().tolist()
    src = _synapse_sources(img)
    for k, pm in enumerate(img.projections):
        if not pm.learning:
            continue
        name = pm.learning["engine"]
        if name not in ENGINES:
            raise NotImplementedError(f"no oracle for learning engine {name!r}")
        pre, post = img.population(pm.pre), img.population(pm.post)
        pre_base = (0 if pre.kind == "neuron" else img.n_neurons) + pre.start
        syn = [q for q in range(img.n_synapses) if syn_proj[q] == k]
        eng = ENGINES[name](pm.learning, pm.learning_arrays, [src[q] - pre_base for q in syn],
                            [int(img.synapses["post"][q]) - post.start for q in syn], pre.size, post.size)
        out.append((k, syn, list(range(pre_base, pre_base + pre.size)),
                    list(range(post.start, post.start + post.size)), eng))
    return out


def run(img, steps: int) -> CoreRun:
    """Run ``img`` for ``steps`` steps from its initial state."""
    a = img.arithmetic
    D = a.decay_bits
    U, H, L = 2 ** D, 2 ** (a.current_bits - 1), 2 ** (a.voltage_bits - 1) - 1
    nu, sy, ax, rt = img.neurons, img.synapses, img.axons, img.routes
    N = img.n_neurons
    if not np.all(np.isnan(img.inputs["poisson_p"])):
        raise NotImplementedError("the core oracle replays explicit input spike times only (no Poisson inputs)")
    du, dv, vth = (nu[f].tolist() for f in ("du", "dv", "vth"))
    bias = [int(m) << int(e) for m, e in zip(nu["bias_mant"].tolist(), nu["bias_exp"].tolist())]
    refractory = nu["refractory"].tolist() if "refractory" in nu else [0] * N
    parent = nu["join_parent"].tolist() if "join_parent" in nu else [-1] * N
    u, v = nu["u_init"].tolist(), nu["v_init"].tolist()
    last_spike = [None] * N
    weight = sy["weight"].tolist()
    post_of, delay_of = sy["post"].tolist(), sy["delay"].tolist()
    exps = [int(p.weight_exp) for p in img.projections]
    proj_of_axon = ax["proj"].tolist()
    inputs: dict[int, list[int]] = {}
    for t, i in zip(img.inputs["spike_step"].tolist(), img.inputs["spike_index"].tolist()):
        inputs.setdefault(t, []).append(i)
    plastic = _plastic(img, weight)
    engine_of = {k: eng for k, _, _, _, eng in plastic}
    controllers = [(c, CONTROLLERS[c.kind](c, img.population(img.projections[c.projection].post).size),
                    engine_of[c.projection]) for c in img.controllers]
    arriving: dict[int, list[int]] = {}           # step -> input S per neuron
    spikes, us, vs = [], [], []
    rec = {k: [] for k, *_ in plastic}
    for t in range(steps):
        S = arriving.pop(t, [0] * N)
        fired = []
        for n in range(N):
            act = wrap32(wrap32(S[n]) << a.activation_shift)
            d = wrap32(decay_toward_zero(u[n], U - du[n] - 1, D) + act)
            u[n] = d - 2 * H if d > H else d + 2 * H if d <= -H else d
        join = [0] * N                            # dendrites first: their v joins the parent's update (ADD)
        for n in range(N):
            if parent[n] >= 0:
                v[n] = clip(wrap32(decay_toward_zero(v[n], U - dv[n], D) + u[n] + bias[n]), -L, L)
                join[parent[n]] = v[n]
        for n in range(N):
            if parent[n] >= 0:
                continue                          # a dendrite never spikes
            if last_spike[n] is not None and t - last_spike[n] <= refractory[n]:
                continue                          # refractory: v held (at 0), no spike
            v[n] = clip(wrap32(decay_toward_zero(v[n], U - dv[n], D) + u[n] + join[n] + bias[n]), -L, L)
            if v[n] > vth[n] << a.threshold_shift:
                v[n] = 0
                fired.append(n)
                last_spike[n] = t
        us.append(list(u))
        vs.append(list(v))
        sources = fired + [N + i for i in inputs.get(t, [])]
        sums: dict[tuple[int, int, int], int] = {}
        for s in sources:
            spikes.append((t, s))
            for r in range(int(rt["src_ptr"][s]), int(rt["src_ptr"][s + 1])):
                g = int(img.cores["axon_ptr"][rt["core"][r]]) + int(rt["axon"][r])
                for q in range(int(ax["syn_ptr"][g]), int(ax["syn_ptr"][g + 1])):
                    key = (proj_of_axon[g], post_of[q], delay_of[q] + int(rt["delay"][r]))
                    sums[key] = sums.get(key, 0) + weight[q]
        for (k, post, delay), x in sums.items():
            row = arriving.setdefault(t + delay, [0] * N)
            row[post] += x << exps[k] if exps[k] >= 0 else x >> -exps[k]
        spiked = set(sources)
        for c, ctl, eng in controllers:
            if t % c.period == 0:
                eng.secr_scale = ctl.decide({name: list(getattr(eng, name)) for name in ctl.READS})
        for k, syn, pre_ids, post_ids, eng in plastic:
            w = [weight[q] for q in syn]
            eng.step(w, [s in spiked for s in pre_ids], [n in spiked for n in post_ids], t + 1,
                     [v[n] for n in post_ids])
            for q, x in zip(syn, w):
                weight[q] = x
            rec[k].append(w)
    ev = np.array(sorted(spikes), np.int64).reshape(-1, 2)
    return CoreRun(ev, np.array(us, np.int64).reshape(steps, N), np.array(vs, np.int64).reshape(steps, N),
                   {k: np.array(x, np.int64).reshape(steps, -1) for k, x in rec.items()})
