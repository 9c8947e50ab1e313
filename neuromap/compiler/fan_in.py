"""Fan-in legalization of a hardware-unit (``loihi_lif``) network: split inputs a core cannot feed.

A neuron's inputs are its distinct (projection, source) pairs; each needs an input axon on
its core (a plastic one ``core.plastic_axon_slots``), so a neuron with more than
``K = core.max_input_axons`` inputs cannot be placed. Each input synapse group of such a
neuron (same projection and sign, at most K synapses) is replaced by a bank of ``m``
*partial-sum* relay neurons (one level of a tree; ``docs/quantization.md``):

* Relay j (1..m) receives every synapse of the group with mantissa ``|w_i| / g``
  (g = gcd of the group's |w|, exponent 0), keeps no current (``du + 1 = 2**decay_bits``),
  no voltage (``dv = 2**decay_bits - 1`` and |v| < 2**decay_bits truncates to 0), threshold 0
  and bias ``-(j q << act_shift) + 1``: it fires at step t iff S_t >= j q, where
  S_t = sum_i |w_i| s_i(t) / g.
* Every relay projects onto the neuron with mantissa ``sign * q * g`` in the original
  projection's format, delay 1; the input synapse keeps delay ``d - 1``.

So the neuron receives ``min(floor(S_t / q), m) q g`` instead of ``S_t g``: **exact** when the
group's partial sum is a multiple of q and at most ``m q`` (q = 1 whenever every |w| of the
group is equal or ``cover`` maximal spikes fit in ``m q <= 2**decay_bits >> act_shift`` levels),
and with **the same latency** when every delay is >= 2 (delay-1 synapses arrive one step late,
counted in the report). Plastic inputs cannot be relayed (the weight would live in the relay):
a clear error, as is a neuron whose relays alone exceed K.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.compiler.analysis import Analysis
from neuromap.compiler.lower import integer_weights
from neuromap.compiler.quantize import DU_OFFSET
from neuromap.errors import TargetError
from neuromap.network import Network, Projection
from neuromap.placement.graph import pairs_increasing, sorted_groups


@dataclass
class FanInReport:
    """Per legalized population: neurons split, relay neurons and synapses added, what is approximate."""

    limit: int                                  # K: input axons one neuron may use
    max_fan_in: dict[str, int] = field(default_factory=dict)   # population -> largest fan-in before
    neurons_split: dict[str, int] = field(default_factory=dict)
    relay_neurons: int = 0
    relay_synapses: int = 0
    groups: int = 0
    levels: list[int] = field(default_factory=list)             # m per group
    quantum: list[int] = field(default_factory=list)            # q*g per group (hw mantissa units)
    exact_up_to: list[int] = field(default_factory=list)        # largest exact partial sum per group (mantissa units)
    inexact_groups: int = 0                                     # groups whose weights are not all multiples of q*g
    late_synapses: int = 0                                      # delay-1 synapses: +1 step latency
    extra_latency_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fan_in_limit(target: Any) -> int:
    """Input axons one neuron may use: a whole core's ``max_input_axons``."""
    return int(target.core.max_input_axons)


def fan_in(network: Network, population: str) -> np.ndarray:
    """Inputs of each neuron of ``population``: distinct (projection, pre) pairs (one input axon each;
    :func:`legalize_fan_in` counts plastic ones ``plastic_axon_slots`` times)."""
    size = network.populations[population].size
    total = np.zeros(size, np.int64)
    for pr in network.projections:
        if pr.post == population and pr.n_synapses:
            post, pre = np.asarray(pr.post_idx), np.asarray(pr.pre_idx)
            n_pre = network.populations[pr.pre].size + 1
            if post.size > 1 and not pairs_increasing(post, pre, n_pre):   # repeated pairs or unsorted: the
                perm, starts = sorted_groups(post, size, pre, n_pre)        # distinct pairs (counting sorts)
                post = post[perm[starts]]   # (the usual post-major order without repeats needs neither)
                del perm, starts
            total += np.bincount(post, minlength=size)
    return total


def _merged(pr: Projection, n_pre: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``pr``'s synapses with multapses merged (weights summed), sorted by (post, pre): pre and post in the
    projection's own index dtypes (int32 from the connect rules), weights int64, delays in the projection's
    delay dtype (no widened copies of the whole projection: this runs on every projection into a population
    above the fan-in limit, at the microcircuit's scale ~0.7 most of its 147 M synapses)."""
    key = pr.post_idx.astype(np.int64) * n_pre + pr.pre_idx
    uniq, inv = np.unique(key, return_inverse=True)
    del key
    w = np.zeros(uniq.size, np.int64)
    np.add.at(w, inv, integer_weights(pr.weight))
    d = np.zeros(uniq.size, pr.delay.dtype)
    d[inv] = pr.delay
    del inv
    return ((uniq % n_pre).astype(pr.pre_idx.dtype, copy=False), (uniq // n_pre).astype(pr.post_idx.dtype, copy=False),
            w, d)


def _narrow_weights(w: np.ndarray) -> np.ndarray:
    """Integer weights ``w`` (int64) as int16 when every value fits (the quantize pass's dtype for weight
    mantissas; consumers read weights with ``np.asarray(w, float)``), else float64 as before."""
    if w.size == 0 or (w.min() >= np.iinfo(np.int16).min and w.max() <= np.iinfo(np.int16).max):
        return w.astype(np.int16)
    return w.astype(float)


def population_fan_ins(network: Network) -> dict[str, np.ndarray]:
    """:func:`fan_in` of every ``loihi_lif`` population of ``network``."""
    return {name: fan_in(network, name) for name, pop in network.populations.items() if pop.model == "loihi_lif"}


#: inputs per neuron of every loihi_lif population, shared by the legalize_fan_in pass and its verifier (an
#: analysis: computed once while the network is the same object, :mod:`neuromap.compiler.analysis`)
FAN_IN = Analysis("fan_in", ("network",), lambda st: population_fan_ins(st.network), ("legalize_fan_in",))


def legalize_fan_in(network: Network, target: Any, cover: int = 4,
                    levels: int | None = None, fan_ins: dict[str, np.ndarray] | None = None
                    ) -> tuple[Network, FanInReport]:
    """Return a network where no ``loihi_lif`` neuron has more than ``fan_in_limit(target)`` inputs.

    ``cover``: for a group of unequal weights, the relay quantum q is chosen so that ``cover``
    simultaneous spikes of the group's largest weight fit in the relay levels. ``levels``: at most this
    many relays per group (default and maximum ``2**decay_bits >> activation_shift``); fewer relays
    keep the relayed neuron's own fan-in small, at the price of clipping larger partial sums.
    ``fan_ins``: :func:`population_fan_ins` of ``network`` when the caller has it (the :data:`FAN_IN` analysis).
    """
    K = fan_in_limit(target)
    rep = FanInReport(limit=K)
    unity = 1 << target.neuron.decay_bits
    shift = target.neuron.activation_shift
    L = unity >> shift                    # levels a relay bank can hold with zero residual voltage
    L_use = L if levels is None else max(1, min(int(levels), L))
    slots = int(target.core.plastic_axon_slots)
    where = f"{network.source}: " if network.source else ""
    over: dict[str, np.ndarray] = {}
    for name, pop in network.populations.items():
        if pop.model != "loihi_lif":
            continue
        fi = fan_ins[name] if fan_ins is not None else fan_in(network, name)
        plastic = np.zeros(pop.size, np.int64)
        for pr in network.projections:
            if pr.post == name and pr.plasticity is not None and pr.n_synapses:
                plastic += fan_in(_only(network, pr), name)
        fi = fi + (slots - 1) * plastic
        rep.max_fan_in[name] = int(fi.max()) if fi.size else 0
        bad = fi > K
        if bad.any():
            if np.any(plastic[bad]):
                n = int(np.flatnonzero(bad & (plastic > 0))[0])
                raise TargetError(f"{where}populations.{name}[{n}]: fan-in {int(fi[n])} exceeds {K} input axons "
                                  f"per core and {int(plastic[n])} inputs are plastic (a relay tree cannot carry "
                                  "learning; reduce the in-degree or the plastic inputs)")
            over[name] = np.flatnonzero(bad)
            rep.neurons_split[name] = int(bad.sum())
    if not over:
        return network, rep
    if L < 1:
        raise TargetError(f"{where}target {target.name!r}: 2**decay_bits >> activation_shift = 0 relay levels; "
                          "fan-in above {K} cannot be legalized")
    out = Network(name=network.name, dt=network.dt, seed=network.seed)
    out.source = network.source
    out.populations = dict(network.populations)
    out.probes = list(network.probes)
    relay_bias: dict[str, list[int]] = {}
    new_proj: list[Projection] = []
    relay_in: dict[str, list] = {}    # post pop -> list of (pre pop, pre idx, relay idx, w, d)
    relay_out: dict[str, list] = {}   # (post pop, projection) -> (relay idx, post idx, w)
    relay_count: dict[str, int] = {}
    for k, pr in enumerate(network.projections):
        if pr.post not in over or not pr.n_synapses:
            new_proj.append(pr)
            continue
        n_pre = network.populations[pr.pre].size
        pre, post, w, d = _merged(pr, n_pre)
        relay_mask = np.isin(post, over[pr.post])
        keep = Projection(pr.name, pr.pre, pr.post, pre[~relay_mask], post[~relay_mask],
                          _narrow_weights(w[~relay_mask]), d[~relay_mask], pr.target, pr.plasticity, pr.hw, {})
        new_proj.append(keep)
        base = relay_count.get(pr.post, 0)
        outs = []
        relayed = np.unique(post[relay_mask])
        lo, hi = np.searchsorted(post, relayed), np.searchsorted(post, relayed, side="right")  # post is sorted
        for n, a, b in zip(relayed, lo, hi):       # one bank per relayed neuron (neurons above the limit only)
            sel = np.arange(a, b)
            for sign in (1, -1):
                g_sel = sel[np.sign(w[sel]) == sign]
                for chunk in range(0, g_sel.size, K):
                    idx = g_sel[chunk:chunk + K]
                    aw = np.abs(w[idx])
                    g = int(np.gcd.reduce(aw))
                    units = aw // g
                    hi = _mantissa_max(target, pr.hw["sign_mode"], sign)
                    q = max(1, math.ceil(int(units.max()) * (1 if np.all(units == units[0]) else cover) / L))
                    q = max(1, min(q, hi // g)) if g <= hi else 1
                    if q * g > hi or units.max() > _mantissa_max(target, "excitatory", 1):
                        raise TargetError(f"{where}projections[{k}] ({pr.name}): cannot relay weight quantum "
                                          f"{q * g} (largest mantissa {hi}) for neuron {int(n)}")
                    m = int(min(L // q, L_use, math.ceil(units.sum() / q)))
                    rep.groups += 1
                    rep.levels.append(m)
                    rep.quantum.append(q * g)
                    rep.exact_up_to.append(m * q * g)
                    rep.inexact_groups += int(np.any(units % q != 0))
                    late = d[idx] < 2
                    rep.late_synapses += int(late.sum())
                    rep.extra_latency_steps = max(rep.extra_latency_steps, int(late.any()))
                    for j in range(1, m + 1):
                        r = base
                        base += 1
                        relay_bias.setdefault(pr.post, []).append(-(j * q << shift) + 1)
                        relay_in.setdefault(pr.post, []).append(
                            (pr.pre, pre[idx], np.full(idx.size, r), units, np.maximum(d[idx] - 1, 1)))
                        outs.append((r, int(n), sign * q * g))
        relay_count[pr.post] = base
        if outs:
            relay_out[(pr.post, pr.name)] = (outs, pr)
    for post, count in relay_count.items():
        rname = f"{post}__fan_in_relay"
        bias = np.asarray(relay_bias[post], np.int64)
        if np.any(np.abs(bias) > (1 << (target.neuron.bias_mantissa_bits - 1))):
            raise TargetError(f"{where}relay bias {bias.min()} does not fit the bias mantissa")
        out.add_population(rname, count, "loihi_lif", du=unity - 1 - DU_OFFSET, dv=unity - 1, vth=0,
                           bias_mant=bias, bias_exp=0, u=0, v=0)
        rep.relay_neurons += count
        by_pre: dict[str, list] = {}
        for pre_pop, pidx, ridx, units, dd in relay_in[post]:
            by_pre.setdefault(pre_pop, []).append((pidx, ridx, units, dd))
        for pre_pop, parts in by_pre.items():
            pre_i, relay_i, units, dly = (np.concatenate([p[i] for p in parts]) for i in range(4))
            order = np.lexsort((pre_i, relay_i))             # by relay, then pre (each array built once)
            new_proj.append(Projection(f"{pre_pop}_to_{rname}", pre_pop, rname, pre_i[order].astype(np.int32),
                                       relay_i[order].astype(np.int32), _narrow_weights(units[order]), dly[order],
                                       ("exc",), None,
                                       {"weight_exp": 0, "num_weight_bits": target.synapse.weight_bits_max,
                                        "sign_mode": "excitatory"}, {}))
            rep.relay_synapses += int(order.size)
    for (post, pname), (outs, pr) in relay_out.items():
        r = np.array([o[0] for o in outs], np.int64)
        n = np.array([o[1] for o in outs], np.int64)
        wv = np.array([o[2] for o in outs], float)
        order = np.lexsort((r, n))
        new_proj.append(Projection(f"{post}__fan_in_relay_to_{pname}", f"{post}__fan_in_relay", post, r[order],
                                   n[order], wv[order], np.ones(r.size, np.int64), ("exc",), None, dict(pr.hw), {}))
        rep.relay_synapses += int(r.size)
    out.projections = new_proj
    for name in over:
        fi = fan_in(out, name)
        if fi.max() > K:
            nn = int(np.argmax(fi))
            raise TargetError(f"{where}populations.{name}[{nn}]: still {int(fi[nn])} inputs after one relay level "
                              f"(limit {K}); the fan-in needs a deeper tree than neuromap builds")
    return out, rep


def _only(network: Network, pr: Projection) -> Network:
    n = Network(name=network.name, dt=network.dt, seed=network.seed)
    n.populations = network.populations
    n.projections = [pr]
    return n


def _mantissa_max(target: Any, sign_mode: str, sign: int) -> int:
    """Largest |mantissa| of a stored weight (Lava clip_weights: [-2**b, 2**b - 1] mixed, 2**b - 1 one-signed)."""
    b = target.synapse.weight_bits_max
    return (1 << b) - 1 if sign > 0 or sign_mode == "inhibitory" else 1 << b


# ---------------------------------------------------------------------- compiler pass (neuromap.compiler.pipeline)
def fan_in_pass(st):
    """Pass ``legalize_fan_in``: relay trees for neurons above the fan-in limit; report in ``reports.fan_in``.
    Options ``fan_in_cover`` (default 4), ``fan_in_levels`` (default: the most the target allows)."""
    net, rep = legalize_fan_in(st.network, st.target, cover=st.options.fan_in_cover, levels=st.options.fan_in_levels,
                               fan_ins=st.analyses.get(FAN_IN, st))
    return dataclasses.replace(st, network=net, reports=dataclasses.replace(st.reports, fan_in=rep))


def verify_fan_in(st) -> None:
    K = fan_in_limit(st.target)
    for name, fi in st.analyses.get(FAN_IN, st).items():   # cached: the pass kept the network when nothing was over
        if fi.size and fi.max() > K:
            raise TargetError(f"legalize_fan_in left neuron {name}[{int(fi.argmax())}] with fan-in "
                              f"{int(fi.max())} > {K}")
