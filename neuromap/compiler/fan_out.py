"""Fan-out legalization of a hardware-unit (``loihi_lif``) network: relay neurons for sources a core cannot send.

A neuron's output axons are its distinct (projection, target core) pairs, and a core's neurons share
``core.max_output_axons`` of them (and, where the target has one, ``synapse.max_fan_out_cores`` target
cores per neuron). Once the input-axon limit leaves one or two neurons per core (the cortical
microcircuit from scale ~0.4), a neuron's output axons are about its out-degree, and a neuron whose
out-degree passes the limit cannot be placed at all (``place``: "neuron ... needs N output axons").

**Where the pass runs: before partitioning, conservatively.** Output axons depend on the placement,
but a neuron's distinct (projection, post neuron) pairs -- its *units* -- bound them from above whatever
the placement: ``U(n) = sum over projections of distinct post neurons >= output axons``. The pass splits
exactly the neurons with ``U(n) > K`` (K: the smaller nonzero of ``max_output_axons`` and
``max_fan_out_cores``), so every neuron it leaves and every relay it adds has ``U <= K`` and no placement
can exceed the per-neuron limit; ``place`` then packs the relays under every core capacity as it packs
any neuron (the per-core sum of output axons included). The alternative, splitting after a partition by
the actual target cores and re-partitioning, needs a second partition of the whole network (the
microcircuit's ``place`` is ~23 s and ~3 GB at scale 0.6) and its result would still move when the
relays are placed; at the scales where the pass triggers the conservative count is the actual one
(one neuron per target core), so it costs no extra relays there. Its price is on networks whose
large fan-outs land on densely packed targets (a broadcast neuron onto 10 000 neurons of 10 cores
needs 10 output axons but gets relays): the relays are exact (below) and delay-1 targets stay direct
first, so such a network computes the same; it only has more neurons and cores.

**The split.** A neuron n with ``U > K`` gets ``R = ceil((U - K) / (K - 1))`` relay neurons and keeps
``B = K - R`` units direct, so ``U(n) = B + R = K``. The direct units are, in order: every unit of a
plastic projection, units with a delay-1 synapse (a relay adds a step to them), then the others in
(projection, post) order; the remaining ``U - B`` units go, in (projection, post) order, to the R
relays in equal contiguous runs (at most ``ceil((U - B) / R) <= K`` units each). All synapses of a
unit (multapses) take the same path, so the post neuron's input axons are unchanged: it had one from
(projection, n) and now has one from (the relayed projection, one relay); contiguous post runs keep the
neurons of one target core on one relay wherever the core's neurons are consecutive (always when a
core holds one neuron), so a target core's input-axon count does not change either.

**The relay is exact.** Relay r of n is a ``loihi_lif`` neuron with ``du = 4095`` (Lava's
``du + ds_offset = 4096``: the current keeps nothing), ``dv = 4095``, ``vth = 0``, no bias, no
refractory period, initial u = v = 0. It has one input: n -> r, mantissa 1, ``weight_exp`` 0,
excitatory, delay 1. Each relayed synapse n -> p with delay d becomes r -> p with the same projection
format (weight, ``weight_exp``, sign mode, targets) and delay ``d - 1``. By Lava 0.10's fixed_pt LIF
(docs/emulator.md, *One step*; ``tests/oracles/loihi_core.py``), with ``a_t = s_n(t - 1) << 6`` the
relay's input at step t (n fires at most once per step, so a_t is 0 or 64):
``u_t = decay(u_{t-1}, 4096 - 4095 - 1 = 0) + a_t = a_t`` (nothing carried over);
``v_t = decay(v_{t-1}, 4096 - 4095 = 1) + u_t``, where ``decay(v, 1) = sign(v) (|v| >> 12) = 0`` because
v is 0 after every step (0 when nothing arrived, reset to 0 after a spike); so ``v_t = a_t`` and the relay
fires at t iff ``a_t = 64 > vth << 6 = 0``, iff n fired at t - 1, and is back at u = v = 0. A relay
therefore repeats n's spike train exactly one step later, spikes on consecutive steps included, and
r -> p with delay d - 1 delivers at ``(t + 1) + (d - 1) = t + d``: the same step, weight and format as
n -> p. Delay-1 synapses that do not fit the direct budget are relayed with delay 1 and arrive one
step late (``late_synapses``: a loss in the fidelity report, refused by ``compile --strict``).
``tests/compiler/test_fan_out.py`` checks spikes of the original neurons identical to the unrelayed
network's on the scalar oracle.

**Plastic projections are never relayed.** The learning engine of a plastic projection pairs the
pre neuron's spikes with the post's (docs/learning.md); behind a relay the pre spikes would be the
relay's, one step after n's, and the pre trace would be shifted. Their units stay direct; a neuron
whose plastic units alone exceed the direct budget B is a one-line error naming the projection.
Inputs (``poisson``/``spike_source``) are not relayed (a Poisson input may emit several events per step,
which one relay spike cannot repeat); ``place`` reports an input above the limit as before.

Linear and vectorized: two compiled passes over each projection from a split population (unit counts,
then the assignment), O(synapses); indices stay int32, delays and weights keep their dtypes (relayed
delays ``d - 1`` in the delay dtype); projections without a relayed synapse are kept as they are.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neuromap.compiler.analysis import Analysis
from neuromap.compiler.fan_in import add_relay_population
from neuromap.errors import TargetError
from neuromap.network import Network, Projection
from neuromap.placement.graph import is_plastic, pairs_increasing, sorted_groups

RELAY_SUFFIX = "__fan_out_relay"


@dataclass
class FanOutReport:
    """What ``legalize_fan_out`` did: the per-neuron output-axon limit ``limit``, per population the largest
    unit count before (``max_fan_out``) and the neurons split, relay neurons added, synapses added
    (``relay_synapses``: one source -> relay synapse per relay), synapses moved onto relays
    (``synapses_relayed``) and delay-1 synapses among them (``late_synapses``: one step late)."""

    limit: int = 0
    max_fan_out: dict[str, int] = field(default_factory=dict)
    neurons_split: dict[str, int] = field(default_factory=dict)
    relay_neurons: int = 0
    relay_synapses: int = 0
    synapses_relayed: int = 0
    late_synapses: int = 0
    extra_latency_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fan_out_limit(target: Any) -> int:
    """Output axons (and target cores) one neuron may use: the smaller nonzero of ``core.max_output_axons`` and
    ``synapse.max_fan_out_cores`` (0: unlimited)."""
    limits = [int(x) for x in (target.core.max_output_axons, target.synapse.max_fan_out_cores) if int(x) > 0]
    return min(limits) if limits else 0


# ---------------------------------------------------------------------- compiled kernels
@numba.njit(cache=True)
def _unit_end(pre, post, delay, perm, use_perm, i):  # pragma: no cover - compiled
    """(end, late) of the unit starting at position i of the (post, pre) order (``perm`` when ``use_perm``):
    the position after its last synapse, and whether one of its synapses has delay 1."""
    s = perm[i] if use_perm else i
    p, q = pre[s], post[s]
    one = False
    while i < pre.shape[0]:
        s = perm[i] if use_perm else i
        if pre[s] != p or post[s] != q:
            break
        one = one or delay[s] < 2
        i += 1
    return i, one


@numba.njit(cache=True)
def _unit_counts(pre, post, delay, perm, use_perm, units, late):  # pragma: no cover - compiled
    """Per pre neuron add its units (distinct posts) to ``units`` and those with a delay-1 synapse to ``late``;
    synapses visited in (post, pre) order (``perm`` when ``use_perm``), so a unit is one run."""
    i = 0
    while i < pre.shape[0]:
        p = pre[perm[i] if use_perm else i]
        i, one = _unit_end(pre, post, delay, perm, use_perm, i)
        units[p] += 1
        if one:
            late[p] += 1


@numba.njit(cache=True)
def _assign(pre, post, delay, perm, use_perm, slot, plastic, late_left, free_left, rank, chunk, base,
            out):  # pragma: no cover - compiled
    """``out[s]``: -1 (synapse s stays direct) or the relay (index in the relay population) that takes it.
    ``slot[pre]``: the split neuron's index (-1: not split); per split neuron the direct units left for delay-1
    units (``late_left``) and for the others (``free_left``), its relayed units so far (``rank``), units per
    relay (``chunk``) and first relay (``base``). Units in (post, pre) order, a unit's synapses together."""
    i = 0
    while i < pre.shape[0]:
        o = slot[pre[perm[i] if use_perm else i]]
        j, one = _unit_end(pre, post, delay, perm, use_perm, i)
        r = -1
        if o >= 0 and not plastic:
            if one and late_left[o] > 0:
                late_left[o] -= 1
            elif not one and free_left[o] > 0:
                free_left[o] -= 1
            else:
                r = base[o] + rank[o] // chunk[o]
                rank[o] += 1
        for k in range(i, j):
            out[perm[k] if use_perm else k] = r
        i = j


def _unit_order(pr: Projection, n_pre: int, n_post: int) -> tuple[np.ndarray, bool]:
    """(perm, use_perm): the synapses in (post, pre) order; no permutation when they already are (the connect
    rules' order)."""
    pre, post = pr.pre_idx, pr.post_idx
    if pre.size < 2 or pairs_increasing(post, pre, max(n_pre, 1)):
        return np.zeros(0, np.int32), False
    perm, _ = sorted_groups(post, n_post, pre, max(n_pre, 1))
    return perm, True


def _counts(network: Network, pr: Projection, units: np.ndarray, late: np.ndarray) -> None:
    if not pr.n_synapses:
        return
    perm, use = _unit_order(pr, network.populations[pr.pre].size, network.populations[pr.post].size)
    _unit_counts(pr.pre_idx, pr.post_idx, pr.delay, perm, use, units, late)


def fan_out(network: Network, population: str) -> np.ndarray:
    """Units of each neuron of ``population``: distinct (projection, post neuron) pairs, an upper bound of its
    output axons and target cores under any placement."""
    units = np.zeros(network.populations[population].size, np.int64)
    scratch = np.zeros_like(units)
    for pr in network.projections:
        if pr.pre == population:
            _counts(network, pr, units, scratch)
    return units


def population_fan_outs(network: Network) -> dict[str, np.ndarray]:
    """:func:`fan_out` of every ``loihi_lif`` population of ``network``."""
    return {name: fan_out(network, name) for name, pop in network.populations.items() if pop.model == "loihi_lif"}


#: units per neuron of every loihi_lif population, shared by the pass and its verifier (computed once while the
#: network is the same object: the pass keeps it when nothing is over the limit)
FAN_OUT = Analysis("fan_out", ("network",), lambda st: population_fan_outs(st.network), ("legalize_fan_out",))


def legalize_fan_out(network: Network, target: Any, fan_outs: dict[str, np.ndarray] | None = None
                     ) -> tuple[Network, FanOutReport]:
    """Return a network where no ``loihi_lif`` neuron has more than :func:`fan_out_limit` units (module
    docstring), and the report. ``fan_outs``: :func:`population_fan_outs` of ``network`` when the caller has it
    (the :data:`FAN_OUT` analysis). The network is returned as it is when no neuron is over the limit."""
    K = fan_out_limit(target)
    rep = FanOutReport(limit=K)
    if K == 0:
        return network, rep
    where = f"{network.source}: " if network.source else ""
    fan_outs = population_fan_outs(network) if fan_outs is None else fan_outs
    plan: dict[str, dict[str, Any]] = {}
    for name, pop in network.populations.items():
        if pop.model != "loihi_lif":
            continue
        u = fan_outs[name]
        rep.max_fan_out[name] = int(u.max(initial=0))
        over = np.flatnonzero(u > K)
        if not over.size:
            continue
        if K < 2:
            raise TargetError(f"{where}populations.{name}[{int(over[0])}]: fan-out {int(u[over[0]])} exceeds "
                              f"{K} output axon per neuron on target {target.name!r}, and relays need at least 2 "
                              "(one to the relay, one direct); raise core.max_output_axons")
        late = np.zeros(pop.size, np.int64)
        plastic = np.zeros(pop.size, np.int64)
        scratch = np.zeros(pop.size, np.int64)
        for pr in network.projections:
            if pr.pre == name and pr.n_synapses:
                _counts(network, pr, *((plastic, scratch) if is_plastic(pr) else (scratch, late)))
        U = u[over]
        R = -(-(U - K) // (K - 1))
        B = K - R
        bad = plastic[over] > B
        if bad.any():
            n = int(over[np.argmax(bad)])
            k = next(k for k, pr in enumerate(network.projections)
                     if pr.pre == name and is_plastic(pr) and np.any(pr.pre_idx == n))
            raise TargetError(f"{where}projections[{k}] ({network.projections[k].name}): neuron {name}[{n}] has "
                              f"{int(u[n])} targets ({int(plastic[n])} through plastic synapses), above the {K} "
                              f"output axons per core of target {target.name!r}, and plastic synapses cannot be "
                              "relayed (learning pairs the source's own spikes with the post's); reduce the "
                              "plastic projection's fan-out")
        late_direct = np.minimum(late[over], B - plastic[over])
        chunk = -(-(U - B) // R)
        rep.neurons_split[name] = int(over.size)
        plan[name] = dict(over=over, R=R, late_left=late_direct, free_left=B - plastic[over] - late_direct,
                          chunk=chunk, base=np.concatenate([[0], np.cumsum(R)[:-1]]), n_relays=int(R.sum()))
    if not plan:
        return network, rep

    out = Network(name=network.name, dt=network.dt, seed=network.seed)
    out.source = network.source
    out.probes = list(network.probes)
    for name, pop in network.populations.items():    # each relay population right after its sources
        out.populations[name] = pop
        if name in plan:
            add_relay_population(out, name + RELAY_SUFFIX, plan[name]["n_relays"], target)
    projections: list[Projection] = []
    state = {name: dict(slot=np.full(network.populations[name].size, -1, np.int32), rank=np.zeros(p["over"].size,
                                                                                                    np.int64))
             for name, p in plan.items()}
    for name, p in plan.items():
        state[name]["slot"][p["over"]] = np.arange(p["over"].size, dtype=np.int32)
    for pr in network.projections:
        if pr.pre not in plan or not pr.n_synapses:
            projections.append(pr)
            continue
        p, s = plan[pr.pre], state[pr.pre]
        perm, use = _unit_order(pr, network.populations[pr.pre].size, network.populations[pr.post].size)
        asg = np.empty(pr.n_synapses, np.int32)
        _assign(pr.pre_idx, pr.post_idx, pr.delay, perm, use, s["slot"], is_plastic(pr), p["late_left"],
                p["free_left"], s["rank"], p["chunk"], p["base"], asg)
        del perm
        moved = asg >= 0
        n_moved = int(np.count_nonzero(moved))
        if not n_moved:
            projections.append(pr)
            continue
        keep = ~moved
        projections.append(dataclasses.replace(pr, pre_idx=pr.pre_idx[keep], post_idx=pr.post_idx[keep],
                                               weight=pr.weight[keep], delay=pr.delay[keep], spec={}))
        del keep
        d = pr.delay[moved]
        late = d < 2
        rep.late_synapses += int(np.count_nonzero(late))
        rep.extra_latency_steps = max(rep.extra_latency_steps, int(late.any()))
        d = np.maximum(d - 1, 1).astype(pr.delay.dtype, copy=False)
        projections.append(Projection(f"{pr.name}{RELAY_SUFFIX}", pr.pre + RELAY_SUFFIX, pr.post, asg[moved],
                                      pr.post_idx[moved], pr.weight[moved], d, pr.target, None, dict(pr.hw), {}))
        rep.synapses_relayed += n_moved
    for name, p in plan.items():                      # source -> relay: mantissa 1, exponent 0, delay 1
        owner = np.repeat(p["over"].astype(np.int32), p["R"])
        projections.append(Projection(f"{name}_to_{name}{RELAY_SUFFIX}", name, name + RELAY_SUFFIX, owner,
                                      np.arange(owner.size, dtype=np.int32), np.ones(owner.size, np.int16),
                                      np.ones(owner.size, np.int16), ("exc",), None,
                                      {"weight_exp": 0, "num_weight_bits": int(target.synapse.weight_bits_max),
                                       "sign_mode": "excitatory"}, {}))
        rep.relay_neurons += int(owner.size)
        rep.relay_synapses += int(owner.size)
    out.projections = projections
    return out, rep


# ---------------------------------------------------------------------- compiler pass (neuromap.compiler.pipeline)
def fan_out_pass(st):
    """Pass ``legalize_fan_out``: relay neurons for neurons above the output-axon limit; report in
    ``reports.fan_out``."""
    net, rep = legalize_fan_out(st.network, st.target, fan_outs=st.analyses.get(FAN_OUT, st))
    return dataclasses.replace(st, network=net, reports=dataclasses.replace(st.reports, fan_out=rep))


def verify_fan_out(st) -> None:
    K = fan_out_limit(st.target)
    if K == 0:
        return
    for name, u in st.analyses.get(FAN_OUT, st).items():   # cached: the pass kept the network when nothing was over
        if u.size and u.max() > K:
            raise TargetError(f"legalize_fan_out left neuron {name}[{int(u.argmax())}] with {int(u.max())} "
                              f"targets > {K} output axons")
