"""Flatten a Network into the arrays both backends run on.

Neurons of all populations share global index space ``[start, start+size)``
per population. State, constants and synaptic input are matrices with one
column per neuron (``S[k]`` is the k-th STATE variable of the column's model),
so a population's variables are views the numpy update and the rules read live.

Each projection's synapses are sorted by (pre neuron, delay) and indexed as
CSR rows ``pre * n_delays + delay_index``: delivering the spikes emitted ``d``
steps ago touches only the rows of neurons that spiked (event-driven, no dense
matrix). ``perm`` maps back to the Projection's synapse order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuromap.errors import NetworkFormatError
from neuromap.network import Network
from neuromap.neurons import INPUT_MODELS, neuron_module
from neuromap.plasticity import rule_class
from neuromap.params import validate_params

NEVER = -10**9  # last_spike of a neuron that has not spiked
MODEL_CODES = {"input": 0, "lif": 1, "if": 2, "izhikevich": 3, "eif": 4, "adex": 5, "two_compartment": 6}


@dataclass
class PopLayout:
    name: str
    model: str
    module: object
    start: int
    size: int
    code: int
    state: dict = field(default_factory=dict)   # name -> view of S
    consts: dict = field(default_factory=dict)  # name -> view of C
    source: object = None                       # input populations: spike Source


@dataclass
class ProjLayout:
    name: str
    pre: int                 # population indices
    post: int
    perm: np.ndarray         # sorted position -> original synapse index
    pre_idx: np.ndarray      # sorted, local
    post_idx: np.ndarray     # sorted, local
    post_g: np.ndarray       # sorted, global post index
    delays: np.ndarray       # unique delays (steps), ascending
    rowptr: np.ndarray       # CSR over pre * n_delays + k
    channels: list           # [(input channel, sign)]
    syn_off: int             # offset in the global synapse arrays
    rule: object = None
    post_state: dict = field(default_factory=dict)


@dataclass
class Layout:
    dt: float
    pops: list
    projs: list
    S: np.ndarray
    C: np.ndarray
    IN: np.ndarray
    refr: np.ndarray
    last_spike: np.ndarray
    spiked: np.ndarray       # bool[n], spiked this step
    W: np.ndarray            # all weights, projection after projection (sorted order)
    hist_len: int            # ring length of the spike history (max delay + 1)
    n: int


def _neuron_params(pop, field: str) -> dict:
    mod = neuron_module(pop.model, f"{field}.model")
    extra = getattr(mod, "EXTRA", ())
    return validate_params(mod.PARAMS, pop.neuron, field, size=pop.size, ignore=("model",) + tuple(extra))


def build(net: Network, seed: int | None = None) -> Layout:
    """Flatten ``net``; input sources are seeded with ``seed`` (default: the network's)."""
    seed = net.seed if seed is None else seed
    pops, start = [], 0
    names = list(net.populations)
    for k, name in enumerate(names):
        pop = net.populations[name]
        field = f"populations.{name}.neuron"
        if pop.size < 0:
            raise NetworkFormatError(f"negative size {pop.size}", field=f"populations.{name}.size")
        mod = neuron_module(pop.model, f"{field}.model")
        code = MODEL_CODES["input"] if pop.model in INPUT_MODELS else MODEL_CODES.get(pop.model)
        if code is None:
            raise NetworkFormatError(f"model {pop.model!r} is a hardware-unit model, not simulated in float",
                                     field=f"{field}.model", fix="use lif, if, izhikevich, eif, poisson, spike_source")
        pl = PopLayout(name, pop.model, mod, start, pop.size, code)
        params = _neuron_params(pop, field)
        if code == 0:
            pl.source = mod.Source(params, pop.size, net.dt, np.random.default_rng([seed, k]))
        else:
            pl.state = mod.init_state(params, pop.size)
            pl.consts = mod.constants(params, pop.size, net.dt)
        pops.append(pl)
        start += pop.size
    n = start
    ns = max([len(p.module.STATE) for p in pops] + [1])
    nc = max([len(getattr(p.module, "CONSTS", ())) for p in pops] + [1])
    nch = max([p.module.N_CHANNELS for p in pops] + [1])
    S, C, IN = np.zeros((ns, n)), np.zeros((nc, n)), np.zeros((nch, n))
    for p in pops:
        sl = slice(p.start, p.start + p.size)
        for k, v in enumerate(p.module.STATE):
            S[k, sl] = p.state[v]
            p.state[v] = S[k, sl]
        for k, v in enumerate(getattr(p.module, "CONSTS", ())):
            C[k, sl] = p.consts[v]
            p.consts[v] = C[k, sl]

    index = {name: k for k, name in enumerate(names)}
    projs, weights, off, max_d = [], [], 0, 1
    for j, pr in enumerate(net.projections):
        field = f"projections[{j}]"
        for side in ("pre", "post"):
            if getattr(pr, side) not in index:
                raise NetworkFormatError(f"unknown population {getattr(pr, side)!r}", field=f"{field}.{side}",
                                         fix="use one of " + ", ".join(names))
        pre, post = pops[index[pr.pre]], pops[index[pr.post]]
        chans = []
        for tgt in pr.target:
            if tgt not in post.module.TARGETS:
                raise NetworkFormatError(f"model {post.model!r} has no target {tgt!r}", field=f"{field}.target",
                                         fix="use one of " + ", ".join(post.module.TARGETS) if post.module.TARGETS
                                         else "inputs cannot receive synapses")
            chans.append(post.module.TARGETS[tgt])
        delay = np.asarray(pr.delay, dtype=np.int64)
        if delay.size and delay.min() < 1:
            raise NetworkFormatError("delay < 1 step", field=f"{field}.delay", fix="use delays >= 1")
        w = np.asarray(pr.weight, dtype=np.float64)
        if not np.all(np.isfinite(w)):
            raise NetworkFormatError("weights must be finite", field=f"{field}.weight")
        perm = np.lexsort((delay, pr.pre_idx)) if delay.size else np.zeros(0, np.int64)
        dvals, dk = np.unique(delay[perm], return_inverse=True)
        nd = max(len(dvals), 1)
        pre_s, post_s = np.asarray(pr.pre_idx)[perm], np.asarray(pr.post_idx)[perm]
        rows = pre_s * nd + dk.reshape(-1)
        rowptr = np.zeros(pre.size * nd + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=pre.size * nd), out=rowptr[1:])
        pl = ProjLayout(pr.name or f"proj{j}", index[pr.pre], index[pr.post], perm, pre_s.astype(np.int64),
                        post_s.astype(np.int64), (post_s + post.start).astype(np.int64), dvals.astype(np.int64),
                        rowptr, chans, off)
        if pr.plasticity:
            rc = rule_class(pr.plasticity.get("rule"), f"{field}.plasticity.rule")
            params = validate_params(rc.PARAMS, pr.plasticity, f"{field}.plasticity", ignore=("rule",))
            pl.rule = rc(params, pl.pre_idx, pl.post_idx, pre.size, post.size, net.dt)
            pl.rule.syn_delay = delay[perm].astype(np.int64)  # steps, per synapse in the rule's order
        weights.append(w[perm])
        off += w.size
        if dvals.size:
            max_d = max(max_d, int(dvals[-1]))
        projs.append(pl)
    W = np.concatenate(weights) if weights else np.zeros(0)
    lay = Layout(net.dt, pops, projs, S, C, IN, np.zeros(n, np.int64), np.full(n, NEVER, dtype=np.int64),
                 np.zeros(n, dtype=bool), W, max_d + 1, n)
    for pl in projs:
        if pl.rule is not None:
            pl.rule.pre_state = pop_state(pops[pl.pre], lay, type(pl.rule).needs_pre_state)
            pl.post_state = pop_state(pops[pl.post], lay, type(pl.rule).needs_post_state)
    return lay


def pop_state(pop: PopLayout, lay: Layout, names) -> dict:
    """Live views of ``names`` of ``pop`` (model state, ``last_spike``, ``spiked``)."""
    out = {}
    sl = slice(pop.start, pop.start + pop.size)
    for nm in names:
        if nm == "last_spike":
            out[nm] = lay.last_spike[sl]
        elif nm == "spiked":
            out[nm] = lay.spiked[sl]
        elif nm in pop.state:
            out[nm] = pop.state[nm]
        else:
            raise NetworkFormatError(f"plasticity needs {nm!r}, which model {pop.model!r} does not have",
                                     field=f"populations.{pop.name}.neuron.model")
    return out
