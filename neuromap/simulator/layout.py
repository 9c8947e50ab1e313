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

import numba
import numpy as np

from neuromap.counting_sort import index_dtype
from neuromap.errors import NetworkFormatError
from neuromap.network import Network
from neuromap.neurons import INPUT_MODELS, neuron_module
from neuromap.neurons.poisson import events_per_step
from neuromap.params import validate_params
from neuromap.plasticity import rule_class

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
    source: object = None                       # spike_source populations: their explicit-time Source


@dataclass
class ProjLayout:
    name: str
    pre: int                 # population indices
    post: int
    perm: np.ndarray         # sorted position -> original synapse index (int32 below 2**31 synapses)
    pre_idx: np.ndarray      # sorted, local, int64 (plastic projections only; empty otherwise)
    post_idx: np.ndarray     # sorted, local, int64 (plastic projections only; empty otherwise)
    post_g: np.ndarray       # sorted, global post index (a view of Layout.post_g, int32 below 2**31)
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
    # the poisson populations' members as one stream (neuromap.neurons.poisson): expected events per step
    # (float64) and global neuron index (int64) of each stream input
    poisson_p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    poisson_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    post_g: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # every projection's post_g


def _neuron_params(pop, field: str) -> dict:
    mod = neuron_module(pop.model, f"{field}.model")
    extra = getattr(mod, "EXTRA", ())
    return validate_params(mod.PARAMS, pop.neuron, field, size=pop.size, ignore=("model",) + tuple(extra))


def build(net: Network) -> Layout:
    """Flatten ``net``; the Poisson populations' members become one stream (:mod:`neuromap.neurons.poisson`:
    populations in network order, as the compiled image numbers its inputs)."""
    pops, start = [], 0
    poisson_p, poisson_index = [], []
    names = list(net.populations)
    for name in names:
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
        if pop.model == "poisson":
            poisson_p.append(np.broadcast_to(events_per_step(params["rate"], net.dt), (pop.size,)))
            poisson_index.append(np.arange(start, start + pop.size, dtype=np.int64))
        elif code == 0:
            pl.source = mod.Source(params, pop.size, net.dt)
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
    n_syn = sum(int(pr.n_synapses) for pr in net.projections)
    idx_t = index_dtype(max(n_syn, n))
    W = np.zeros(n_syn)                       # float64 weights, projection after projection (sorted order)
    post_g_all = np.zeros(n_syn, idx_t)       # global post index per synapse (same order)
    projs, off, max_d = [], 0, 1
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
        delay = np.asarray(pr.delay)
        if delay.size and delay.min() < 1:
            raise NetworkFormatError("delay < 1 step", field=f"{field}.delay", fix="use delays >= 1")
        w = np.asarray(pr.weight, dtype=np.float64)
        if not np.all(np.isfinite(w)):
            raise NetworkFormatError("weights must be finite", field=f"{field}.weight")
        m = w.size
        dvals, dk = _delay_index(delay)
        nd = max(len(dvals), 1)
        perm = np.empty(m, idx_t)
        rowptr = sort_rows(np.asarray(pr.pre_idx), dk, nd, pre.size * nd, perm)
        np.take(w, perm, out=W[off:off + m], mode="clip")   # clip: no buffered copy (perm is in range)
        post_g = post_g_all[off:off + m]
        np.take(np.asarray(pr.post_idx), perm, out=post_g, mode="clip")
        post_g += post.start
        if pr.plasticity:                      # rules address synapses by local pre/post (int64)
            pre_s, post_s = np.asarray(pr.pre_idx, np.int64)[perm], post_g.astype(np.int64) - post.start
        else:
            pre_s = post_s = np.zeros(0, np.int64)
        pl = ProjLayout(pr.name or f"proj{j}", index[pr.pre], index[pr.post], perm, pre_s, post_s, post_g,
                        dvals.astype(np.int64), rowptr, chans, off)
        if pr.plasticity:
            rc = rule_class(pr.plasticity.get("rule"), f"{field}.plasticity.rule")
            params = validate_params(rc.PARAMS, pr.plasticity, f"{field}.plasticity", ignore=("rule",))
            pl.rule = rc(params, pl.pre_idx, pl.post_idx, pre.size, post.size, net.dt)
            pl.rule.syn_delay = np.asarray(delay, np.int64)[perm]  # steps, per synapse in the rule's order
        off += m
        if dvals.size:
            max_d = max(max_d, int(dvals[-1]))
        projs.append(pl)
    lay = Layout(net.dt, pops, projs, S, C, IN, np.zeros(n, np.int64), np.full(n, NEVER, dtype=np.int64),
                 np.zeros(n, dtype=bool), W, max_d + 1, n, post_g=post_g_all)
    if poisson_p:
        lay.poisson_p = np.concatenate(poisson_p)
        lay.poisson_index = np.concatenate(poisson_index)
    for pl in projs:
        if pl.rule is not None:
            pl.rule.pre_state = pop_state(pops[pl.pre], lay, type(pl.rule).needs_pre_state)
            pl.post_state = pop_state(pops[pl.post], lay, type(pl.rule).needs_post_state)
    return lay


#: largest delay (steps) indexed through a lookup table; larger ones go through np.unique
_LUT_DELAY = 1 << 16


def _delay_index(delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique delays ascending, index of each synapse's delay in them as int16/int32/int64)."""
    if delay.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int16)
    top = int(delay.max())
    if top <= _LUT_DELAY:                          # O(synapses), no sort
        present = np.bincount(delay, minlength=top + 1) > 0
        dvals = np.flatnonzero(present)
        lut = np.cumsum(present, dtype=np.int32) - 1
        dt = np.int16 if dvals.size < 2**15 else np.int32
        return dvals, lut.astype(dt)[delay]
    dvals, dk = np.unique(delay, return_inverse=True)
    return dvals, dk.reshape(-1)


@numba.njit(cache=True)
def _counting_sort(pre, dk, nd, n_rows, perm):
    rowptr = np.zeros(n_rows + 1, np.int64)
    for s in range(pre.shape[0]):
        rowptr[pre[s] * nd + dk[s] + 1] += 1
    for r in range(n_rows):
        rowptr[r + 1] += rowptr[r]
    pos = rowptr[:-1].copy()
    for s in range(pre.shape[0]):
        r = pre[s] * nd + dk[s]
        perm[pos[r]] = s
        pos[r] += 1
    return rowptr


def sort_rows(pre: np.ndarray, dk: np.ndarray, nd: int, n_rows: int, perm: np.ndarray) -> np.ndarray:
    """Stable counting sort of synapses by CSR row ``pre * nd + dk`` (pre neuron, then delay index, then
    original order: ``np.lexsort((delay, pre))``'s order) in O(synapses): fills ``perm`` (sorted position ->
    synapse) and returns ``rowptr`` (int64[n_rows + 1])."""
    return _counting_sort(pre, dk, np.int64(nd), np.int64(n_rows), perm)


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
