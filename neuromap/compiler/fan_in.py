"""Fan-in legalization of a hardware-unit (``loihi_lif``) network: split inputs a core cannot feed.

A neuron's inputs are its distinct (projection, source) pairs; each needs an input axon on
its core (a plastic one ``core.plastic_axon_slots``), so a neuron with more than
``K = core.max_input_axons`` inputs cannot be placed. Such a neuron sheds only its excess: its first
inputs (projections in network order, each projection's excitatory then inhibitory synapses in source
order), in groups of at most K synapses of one projection and sign, each group replaced by a bank of ``m``
*partial-sum* relay neurons (one level of a tree; ``docs/quantization.md``), until it has at most K
inputs; the rest stay direct synapses:

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
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neuromap.compiler.analysis import Analysis
from neuromap.compiler.lower import integer_weights
from neuromap.compiler.quantize import DU_OFFSET
from neuromap.errors import TargetError
from neuromap.network import Network, Projection
from neuromap.placement.graph import pairs_increasing, sorted_groups


def add_relay_population(out: Network, name: str, size: int, target: Any, bias_mant: Any = 0) -> None:
    """Add ``size`` relay neurons to ``out``: ``loihi_lif`` that keep no current (``du + DU_OFFSET =
    2**decay_bits``) and no voltage (``dv = 2**decay_bits - 1``), threshold 0, u = v = 0, and bias
    ``bias_mant`` (exponent 0): the partial-sum relays of this pass (a per-relay bias) and the spike
    repeaters of :mod:`neuromap.compiler.fan_out` (no bias)."""
    unity = 1 << target.neuron.decay_bits
    out.add_population(name, size, "loihi_lif", du=unity - 1 - DU_OFFSET, dv=unity - 1, vth=0,
                       bias_mant=bias_mant, bias_exp=0, u=0, v=0)


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


def _narrow_weights(w: np.ndarray) -> np.ndarray:
    """Integer weights ``w`` (int64) as int16 when every value fits (the quantize pass's dtype for weight
    mantissas; consumers read weights with ``np.asarray(w, float)``), else float64 as before."""
    if w.dtype == np.int16:
        return w
    w = integer_weights(w) if w.dtype.kind not in "iu" else w
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
    need: dict[str, np.ndarray] = {}
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
            need[name] = np.maximum(fi - K, 0)          # inputs to shed: a bank replaces a group by m <= M inputs
            rep.neurons_split[name] = int(bad.sum())
    if not over:
        return network, rep
    if L < 1:
        raise TargetError(f"{where}target {target.name!r}: 2**decay_bits >> activation_shift = 0 relay levels; "
                          f"fan-in above {K} cannot be legalized")
    out = Network(name=network.name, dt=network.dt, seed=network.seed)
    out.source = network.source
    out.populations = dict(network.populations)
    out.probes = list(network.probes)
    bank = _Banks(target, K, L, L_use, cover, shift, where)
    new_proj: list[Projection] = []
    for k, pr in enumerate(network.projections):
        if pr.post not in over or not pr.n_synapses or not np.any(need[pr.post] > 0):
            new_proj.append(pr)
            continue
        new_proj.append(bank.relay(k, pr, network.populations[pr.pre].size, need[pr.post], rep))
    for post, count in bank.count.items():
        rname = f"{post}__fan_in_relay"
        bias = np.concatenate(bank.bias[post])
        if np.any(np.abs(bias) > (1 << (target.neuron.bias_mantissa_bits - 1))):
            raise TargetError(f"{where}relay bias {bias.min()} does not fit the bias mantissa")
        add_relay_population(out, rname, count, target, bias)
        rep.relay_neurons += count
        for pre_pop, parts in bank.inputs[post].items():
            pre_i, relay_i, units, dly = parts[0] if len(parts) == 1 else (np.concatenate([q[i] for q in parts])
                                                                          for i in range(4))
            new_proj.append(Projection(f"{pre_pop}_to_{rname}", pre_pop, rname, pre_i, relay_i, units, dly,
                                       ("exc",), None,
                                       {"weight_exp": 0, "num_weight_bits": target.synapse.weight_bits_max,
                                        "sign_mode": "excitatory"}, {}))
            rep.relay_synapses += int(pre_i.size)
    for (post, pname), (parts, pr) in bank.outputs.items():
        r, n, wv = (np.concatenate([q[i] for q in parts]) for i in range(3))
        order = np.lexsort((r, n))                          # by neuron, then relay (relays of both signs)
        new_proj.append(Projection(f"{post}__fan_in_relay_to_{pname}", f"{post}__fan_in_relay", post,
                                   r[order].astype(np.int32), n[order].astype(np.int32), _narrow_weights(wv[order]),
                                   np.ones(r.size, pr.delay.dtype), ("exc",), None, dict(pr.hw), {}))
        rep.relay_synapses += int(r.size)
    out.projections = new_proj
    for name, e in need.items():
        if np.any(e > 0):
            nn = int(np.argmax(e))
            raise TargetError(f"{where}populations.{name}[{nn}]: still {int(e[nn]) + K} inputs after one relay level "
                              f"(limit {K}); the fan-in needs a deeper tree than neuromap builds")
    return out, rep


class _Banks:
    """The relay banks of one legalization, built projection by projection (:meth:`relay`): per post
    population the relays' count and biases, their input synapses per presynaptic population and their
    output synapses per original projection (arrays, no per-synapse Python)."""

    def __init__(self, target: Any, K: int, L: int, L_use: int, cover: int, shift: int, where: str):
        self.target, self.K, self.L, self.M = target, K, L, L_use
        self.cover, self.shift, self.where = cover, shift, where
        self.count: dict[str, int] = {}
        self.bias: dict[str, list[np.ndarray]] = {}
        self.inputs: dict[str, dict[str, list]] = {}     # post -> pre pop -> [(pre, relay, units, delay)]
        self.outputs: dict[tuple[str, str], tuple[list, Projection]] = {}   # (post, projection) -> [(relay, post, w)]

    def relay(self, k: int, pr: Projection, n_pre: int, need: np.ndarray, rep: FanInReport) -> Projection:
        """Relay the first inputs (by source) of every neuron with ``need > 0`` (updated: inputs still to shed)
        until it is within the limit; return what ``pr`` keeps (``pr`` itself when nothing of it is relayed)."""
        pre, post, w, d = _sorted_unique(pr, n_pre, need.size)
        wi = w if w.dtype.kind in "iu" else integer_weights(w)
        starts = np.zeros(need.size + 1, np.int64)
        np.cumsum(np.bincount(post, minlength=need.size), out=starts[1:])
        taken = []
        for sign in (1, -1):
            idx, gstart, gpost = _select(starts, wi, need, sign, self.K, self.M)
            if gpost.size:
                taken.append(self._banks(k, pr, sign, pre, wi, d, idx, gstart, gpost, need, rep))
        taken = [t for t in taken if t.size]
        if not taken:
            return pr
        mask = np.ones(post.size, bool)
        for t in taken:
            mask[t] = False
        return Projection(pr.name, pr.pre, pr.post, pre[mask], post[mask], _narrow_weights(w[mask]), d[mask],
                          pr.target, pr.plasticity, pr.hw, {})

    def _banks(self, k, pr, sign, pre, wi, d, idx, gstart, gpost, need, rep) -> np.ndarray:
        """Bank per group (one neuron's chunk of at most K inputs of one sign): quantum q, levels m; groups that
        would not shed inputs (size <= m) are left alone. Returns the relayed synapse indices."""
        t, L = self.target, self.L
        size = np.diff(gstart)
        aw = np.abs(wi[idx]).astype(np.int64)
        g = np.gcd.reduceat(aw, gstart[:-1])
        units = aw // np.repeat(g, size)
        umax, umin = np.maximum.reduceat(units, gstart[:-1]), np.minimum.reduceat(units, gstart[:-1])
        usum = np.add.reduceat(units, gstart[:-1])
        hi = _mantissa_max(t, pr.hw["sign_mode"], sign)
        q = np.maximum(1, -(-(umax * np.where(umax == umin, 1, self.cover)) // L))
        q = np.where(g <= hi, np.maximum(1, np.minimum(q, hi // g)), 1)
        bad = (q * g > hi) | (umax > _mantissa_max(t, "excitatory", 1))
        if bad.any():
            b = int(np.argmax(bad))
            raise TargetError(f"{self.where}projections[{k}] ({pr.name}): cannot relay weight quantum "
                              f"{int(q[b] * g[b])} (largest mantissa {hi}) for neuron {int(gpost[b])}")
        m = np.minimum(np.minimum(L // q, self.M), -(-usum // q))
        use = size > m
        np.subtract.at(need, gpost[use], (size - m)[use])
        if not use.all():                                   # keep the useful groups only
            sel = np.repeat(use, size)
            idx, units, size = idx[sel], units[sel], size[use]
            g, q, m, gpost = g[use], q[use], m[use], gpost[use]
            gstart = np.zeros(size.size + 1, np.int64)
            np.cumsum(size, out=gstart[1:])
        if not size.size:
            return idx
        rep.groups += int(size.size)
        rep.levels += m.tolist()
        rep.quantum += (q * g).tolist()
        rep.exact_up_to += (m * q * g).tolist()
        rep.inexact_groups += int(np.count_nonzero(np.add.reduceat(units % np.repeat(q, size) != 0, gstart[:-1])))
        late = d[idx] < 2
        rep.late_synapses += int(np.count_nonzero(late))
        rep.extra_latency_steps = max(rep.extra_latency_steps, int(late.any()))
        base = self.count.get(pr.post, 0)
        r0 = np.zeros(m.size + 1, np.int64)
        np.cumsum(m, out=r0[1:])
        total = int(r0[-1])
        self.count[pr.post] = base + total
        grp = np.repeat(np.arange(m.size), m)
        j = np.arange(total) - r0[grp] + 1                  # level of every relay, 1..m
        self.bias.setdefault(pr.post, []).append(-((j * q[grp]) << self.shift) + 1)
        n_syn = int((size * m).sum())
        umax = int(units.max())
        out = (np.empty(n_syn, np.int32), np.empty(n_syn, np.int32),
               np.empty(n_syn, np.int16 if umax <= np.iinfo(np.int16).max else float), np.empty(n_syn, d.dtype))
        _fill_banks(gstart, m, r0 + base, pre[idx], units, d[idx], *out)
        self.inputs.setdefault(pr.post, {}).setdefault(pr.pre, []).append(out)
        rel = np.arange(base, base + total)
        self.outputs.setdefault((pr.post, pr.name), ([], pr))[0].append(
            (rel, gpost[grp], sign * (q * g)[grp]))
        return idx


def _sorted_unique(pr: Projection, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``pr``'s (pre, post, weight, delay) sorted by (post, pre) with multapses merged (weights summed as int64,
    the last delay): the projection's own arrays when they already are (the connect rules' order), else a
    counting sort (no int64 keys, no comparison sort)."""
    pre, post = np.asarray(pr.pre_idx), np.asarray(pr.post_idx)
    if post.size < 2 or pairs_increasing(post, pre, n_pre + 1):
        return pre, post, np.asarray(pr.weight), np.asarray(pr.delay)
    perm, starts = sorted_groups(post, n_post, pre, n_pre)
    first = perm[starts]
    last = perm[np.append(starts[1:], perm.size) - 1]
    w = np.add.reduceat(integer_weights(pr.weight)[perm], starts)
    return pre[first], post[first], w, np.asarray(pr.delay)[last]


@numba.njit(cache=True)
def _select(starts, w, need, sign, K, M):  # pragma: no cover - compiled
    """Synapses to relay, per neuron ``n`` with ``need[n] > 0`` (post-sorted runs ``starts[n]:starts[n+1]``): the
    first ``t`` of sign ``sign``, t = need + M ceil(need / (K - M)) (all of them if fewer, or if K <= M), so that
    the chunks of at most K (each replaced by at most M relays) shed ``need`` inputs. Returns the synapse
    indices, the chunks' offsets into them and each chunk's neuron."""
    n_post = starts.shape[0] - 1
    take = np.zeros(n_post, np.int64)
    total = 0
    groups = 0
    for n in range(n_post):
        e = need[n]
        if e <= 0:
            continue
        c = 0
        for i in range(starts[n], starts[n + 1]):
            if (w[i] > 0 and sign > 0) or (w[i] < 0 and sign < 0):
                c += 1
        t = c if K <= M else min(c, e + M * ((e + K - M - 1) // (K - M)))
        take[n] = t
        total += t
        groups += (t + K - 1) // K
    idx = np.empty(total, np.int64)
    gstart = np.empty(groups + 1, np.int64)
    gpost = np.empty(groups, np.int64)
    p = 0
    gi = 0
    for n in range(n_post):
        t = take[n]
        if t == 0:
            continue
        got = 0
        for i in range(starts[n], starts[n + 1]):
            if got == t:
                break
            if (w[i] > 0 and sign > 0) or (w[i] < 0 and sign < 0):
                if got % K == 0:
                    gstart[gi] = p
                    gpost[gi] = n
                    gi += 1
                idx[p] = i
                p += 1
                got += 1
    gstart[groups] = total
    return idx, gstart, gpost


@numba.njit(cache=True)
def _fill_banks(gstart, m, r0, pre, units, delay, out_pre, out_relay, out_units, out_delay):  # pragma: no cover
    """Every relay of group ``g`` (``r0[g] .. r0[g] + m[g] - 1``) receives the group's synapses: by relay, then
    source; delay ``max(d - 1, 1)``."""
    p = 0
    for g in range(m.shape[0]):
        for j in range(m[g]):
            for i in range(gstart[g], gstart[g + 1]):
                out_pre[p] = pre[i]
                out_relay[p] = r0[g] + j
                out_units[p] = units[i]
                out_delay[p] = max(delay[i] - 1, 1)
                p += 1


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
