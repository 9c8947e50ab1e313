"""``simulate``: run a Network on the float64 reference simulator."""
from __future__ import annotations

import numpy as np

from neuromap.errors import NetworkFormatError, NeuromapError
from neuromap.network import Network
from neuromap.poisson_stream import DEFAULT_KIND, check_kind
from neuromap.simulator import numba_backend, numpy_backend
from neuromap.simulator.inputs import InputEvents
from neuromap.simulator.layout import Layout, build
from neuromap.simulator.result import SimResult

CHUNK = 16384  # steps per chunk at most (fewer when inputs are dense: neuromap.simulator.inputs.EVENT_BUDGET)


def _probes(net: Network, lay: Layout):
    """(rows, cols) into S of every probed variable, and how to split the buffer afterwards."""
    pops = {p.name: p for p in lay.pops}
    rows, cols, parts = [], [], []
    for j, pr in enumerate(net.probes):
        field = f"probes[{j}]"
        if pr.population not in pops:
            raise NetworkFormatError(f"unknown population {pr.population!r}", field=f"{field}.population",
                                     fix="use one of " + ", ".join(pops))
        p = pops[pr.population]
        idx = np.arange(p.size) if pr.neurons is None else np.asarray(pr.neurons, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= p.size):
            raise NetworkFormatError("neuron index out of range", field=f"{field}.neurons",
                                     fix=f"use indices in [0, {p.size})")
        for var in pr.variables:
            if var == "spikes":
                continue
            if var not in p.module.STATE:
                raise NetworkFormatError(f"model {p.model!r} has no variable {var!r}", field=f"{field}.variables",
                                         fix="use spikes or one of " + ", ".join(p.module.STATE))
            k = p.module.STATE.index(var)
            parts.append((p.name, var, idx))
            rows.append(np.full(idx.size, k, np.int64))
            cols.append(idx + p.start)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return r, c, parts


def _choose_backend(lay: Layout, backend: str) -> str:
    if backend not in ("auto", "numpy", "numba"):
        raise NeuromapError(f"backend: unknown backend {backend!r} (use auto, numpy or numba)")
    unsupported = [pl.rule.name for pl in lay.projs
                   if pl.rule is not None and pl.rule.name not in numba_backend.RULE_CODES]
    unsupported += [p.model for p in lay.pops if p.code > 4]  # models without a compiled update (adex ...)
    if backend == "numba":
        if not numba_backend.HAVE_NUMBA:
            raise NeuromapError("backend: numba is not installed (pip install numba, or use backend='numpy')")
        if unsupported:
            raise NeuromapError(f"backend: rule {unsupported[0]!r} has no compiled version (use backend='numpy')")
        return "numba"
    if backend == "auto":
        return "numba" if numba_backend.HAVE_NUMBA and not unsupported else "numpy"
    return "numpy"


def simulate(network: Network, steps: int, seed: int | None = None, backend: str = "auto",
             progress=None, poisson_stream: str = DEFAULT_KIND) -> SimResult:
    """Simulate ``network`` for ``steps`` steps of ``network.dt`` ms (float64).

    seed: seeds the input generators (default ``network.seed``). backend:
    ``numpy`` (vectorized reference loop), ``numba`` (compiled loop, bit-identical
    results), ``auto`` (numba when every rule has a compiled version).
    progress: ``progress(done_steps, steps)`` after each chunk (:mod:`neuromap.progress`).
    poisson_stream: the Poisson inputs' stream kind (:mod:`neuromap.poisson_stream`; the default is what
    ``compile`` writes; an image's ``poisson_stream`` replays that image's input events).
    """
    if int(steps) != steps or steps < 0:
        raise NeuromapError(f"steps: {steps!r} is not a step count >= 0")
    steps = int(steps)
    lay = build(network)
    backend = _choose_backend(lay, backend)
    rec_rows, rec_cols, parts = _probes(network, lay)
    inputs = InputEvents(lay, network.seed if seed is None else seed, check_kind(poisson_stream))
    is_input = np.zeros(lay.n, bool)
    for p in lay.pops:
        if p.code == 0:
            is_input[p.start:p.start + p.size] = True
    in_count = np.zeros(lay.n, np.int64)            # input events per input neuron (their rates)
    hist = History(lay)
    traces = np.zeros((steps, rec_rows.size))
    runner = _NumbaRun(lay) if backend == "numba" else None
    spk: list = []
    chunk = inputs.chunk_steps(CHUNK)
    for t0 in range(0, steps, chunk):
        t1 = min(t0 + chunk, steps)
        ev_t, ev_i = inputs.events(t0, t1)
        if ev_i.size:
            in_count += np.bincount(ev_i, minlength=lay.n)
            hist.fit(int(np.bincount(ev_t - t0).max()))
        rec = traces[t0:t1]
        if runner is None:
            numpy_backend.run(lay, hist.ids, hist.off, t0, t1, ev_t, ev_i, is_input, rec_rows, rec_cols, rec, spk)
        else:
            runner.run(hist.ids, hist.off, t0, t1, ev_t, ev_i, rec_rows, rec_cols, rec, spk)
        if progress is not None:
            progress(t1, steps)
    if runner is not None:
        runner.finish()
    for pl in lay.projs:  # event-driven rules (clopath, urbanczik_senn) apply their pending weight changes
        if hasattr(pl.rule, "finish"):
            pl.rule.finish(lay.W[pl.syn_off:pl.syn_off + pl.perm.size])
    return _result(network, lay, steps, backend, spk, traces, parts, inputs, in_count)


class History:
    """The spike-history ring: row ``t % hist_len`` lists the sources that spiked at step t (int64, by
    population, ascending; an input once per event), ``off[row, q]`` where population q starts."""

    def __init__(self, lay: Layout):
        self.neurons = sum(p.size for p in lay.pops if p.code != 0)
        self.ids = np.zeros((lay.hist_len, max(lay.n, 1)), dtype=np.int64)
        self.off = np.zeros((lay.hist_len, len(lay.pops) + 1), dtype=np.int64)

    def fit(self, input_events: int) -> None:
        """Make room for steps with up to ``input_events`` input events (kept rows are copied)."""
        need = self.neurons + input_events
        if need > self.ids.shape[1]:
            grown = np.zeros((self.ids.shape[0], max(need, 2 * self.ids.shape[1])), np.int64)
            grown[:, :self.ids.shape[1]] = self.ids
            self.ids = grown


def _result(net, lay, steps, backend, spk, traces, parts, inputs, in_count) -> SimResult:
    res = SimResult(steps=steps, dt=lay.dt, backend=backend)
    st = np.concatenate([s[0] for s in spk]) if spk else np.zeros(0, np.int64)
    si = np.concatenate([s[1] for s in spk]) if spk else np.zeros(0, np.int64)
    secs = steps * lay.dt / 1000.0
    for p in lay.pops:
        if p.code == 0:
            res.spikes.later(p.name, lambda p=p: inputs.replay(lay, steps, p.start, p.size))
            counts = in_count[p.start:p.start + p.size].astype(float)
        else:
            m = (si >= p.start) & (si < p.start + p.size)
            res.spikes[p.name] = (st[m], si[m] - p.start)
            counts = np.bincount(si[m] - p.start, minlength=p.size).astype(float)
        res.rates[p.name] = counts / secs if secs > 0 else np.zeros(p.size)
    col = 0
    for name, var, idx in parts:
        res.traces.setdefault(name, {})[var] = traces[:, col:col + idx.size]
        res.trace_neurons[name] = idx
        col += idx.size
    for pl, pr in zip(lay.projs, net.projections):
        if pl.rule is None and isinstance(pr.weight, np.ndarray) and pr.weight.dtype == np.float64:
            w = pr.weight.view()          # static: the network's own weights, unchanged (read-only, no copy)
            w.flags.writeable = False
        else:
            w = np.empty(pl.perm.size)
            w[pl.perm] = lay.W[pl.syn_off:pl.syn_off + pl.perm.size]
        res.weights[pr.name or pl.name] = w
    return res


class _NumbaRun:
    """Packs the layout (and the compiled rules' state) into flat arrays for ``numba_backend.run_chunk``."""

    def __init__(self, lay: Layout):
        self.lay = lay
        projs = lay.projs
        NP = len(projs)
        i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
        self.pop_start = i64([p.start for p in lay.pops] + [lay.n])
        self.pop_code = i64([p.code for p in lay.pops])
        self.proj_pre = i64([pl.pre for pl in projs])
        self.proj_post = i64([pl.post for pl in projs])
        mc = max([len(pl.channels) for pl in projs] + [1])
        self.proj_chan = np.zeros((NP, mc), np.int64)
        self.proj_sign = np.zeros((NP, mc))
        self.proj_nch = i64([len(pl.channels) for pl in projs])
        for p, pl in enumerate(projs):
            for c, (ch, sg) in enumerate(pl.channels):
                self.proj_chan[p, c], self.proj_sign[p, c] = ch, sg
        self.syn_off = i64([pl.syn_off for pl in projs] + [lay.W.size])
        cat = lambda xs: i64(np.concatenate(xs)) if xs else np.zeros(0, np.int64)  # noqa: E731
        self.post_g = lay.post_g                  # every projection's, one array (int32 below 2**31)
        # per-synapse pre/post indices and rule state only matter for plastic networks (memory at Brunel scale)
        # (aligned with the global synapse order; static projections keep no indices: zeros fill their range)
        plastic = any(pl.rule is not None for pl in projs)
        pad = lambda pl, a: a if pl.rule is not None else np.zeros(pl.perm.size, np.int64)  # noqa: E731
        pick = (lambda xs: cat(xs)) if plastic else (lambda xs: np.zeros(0, np.int64))  # noqa: E731
        self.pre_l = pick([pad(pl, pl.pre_idx) for pl in projs])
        self.post_l = pick([pad(pl, pl.post_idx) for pl in projs])
        self.pre_g = pick([pad(pl, pl.pre_idx + lay.pops[pl.pre].start) for pl in projs])
        self.row_off = i64(np.cumsum([0] + [pl.rowptr.size for pl in projs]))  # each block keeps its end entry
        # row r of projection p is row_off[p] + r; rowptr values are local to the projection's synapses
        self.rowptr = np.zeros(int(self.row_off[-1]), np.int64)
        for p, pl in enumerate(projs):
            self.rowptr[self.row_off[p]:self.row_off[p] + pl.rowptr.size] = pl.rowptr
        self.d_off = i64(np.cumsum([0] + [len(pl.delays) for pl in projs]))
        self.dvals = cat([pl.delays for pl in projs])
        self.arrived = np.zeros(lay.W.size if plastic else 0, dtype=np.bool_)
        self.rule_code = np.zeros(NP, np.int64)
        self.rpar = np.zeros((NP, numba_backend.N_RPAR))
        self.rs = np.zeros(lay.W.size if plastic else 0)
        post_sizes = [lay.pops[pl.post].size for pl in projs]
        self.rpo_off = i64(np.cumsum([0] + post_sizes))
        self.rpo = np.zeros(int(self.rpo_off[-1]))
        self.cnt = np.zeros(int(self.rpo_off[-1]), np.int64)
        ring_sizes = [pl.rule.ring.size if getattr(pl.rule, "ring", None) is not None else 0 for pl in projs]
        self.ring_off = i64(np.cumsum([0] + ring_sizes))
        self.ring = np.zeros(int(self.ring_off[-1]), np.int8)
        self.tcount = np.zeros(NP, np.int64)
        for p, pl in enumerate(projs):
            if pl.rule is not None:
                self._pack_rule(p, pl)
        cap = max(1 << 16, 4 * (lay.n + 1))
        self.spk_t = np.zeros(cap, np.int64)
        self.spk_i = np.zeros(cap, np.int64)

    def _pack_rule(self, p: int, pl) -> None:
        r, a, b = pl.rule, pl.syn_off, pl.syn_off + pl.perm.size
        lo, hi = self.rpo_off[p], self.rpo_off[p + 1]
        self.rule_code[p] = numba_backend.RULE_CODES[r.name]
        if r.name == "stdp":
            vals = [r.d_plus, r.d_minus, r.A_plus, r.A_minus, r.w_min, r.w_max, 1.0 if r.soft else 0.0]
            self.rs[a:b], self.rpo[lo:hi] = r.x, r.y
        else:
            vals = [r.s_plus, r.s_minus, r.A_plus, r.A_minus, r.w_min, r.w_max]
            self.rs[a:b], self.rpo[lo:hi] = r.ltp, r.ltd
            if r.name == "homeostatic_stdp":
                vals += [r.alpha, r.beta, r.gamma, r.Rtarget, r.T, r.rate_factor, float(r.window)]
                self.ring[self.ring_off[p]:self.ring_off[p + 1]] = r.ring.reshape(-1)
                self.cnt[lo:hi] = r.count
                self.tcount[p] = r.t
        self.rpar[p, :len(vals)] = vals

    def finish(self) -> None:
        """Copy the compiled rules' state back into the rule objects."""
        for p, pl in enumerate(self.lay.projs):
            r = pl.rule
            if r is None:
                continue
            a, b = pl.syn_off, pl.syn_off + pl.perm.size
            lo, hi = self.rpo_off[p], self.rpo_off[p + 1]
            if r.name == "stdp":
                r.x[:], r.y[:] = self.rs[a:b], self.rpo[lo:hi]
            else:
                r.ltp[:], r.ltd[:] = self.rs[a:b], self.rpo[lo:hi]
                if r.name == "homeostatic_stdp":
                    r.ring[:] = self.ring[self.ring_off[p]:self.ring_off[p + 1]].reshape(r.ring.shape)
                    r.count[:] = self.cnt[lo:hi]
                    r.t = int(self.tcount[p])

    def run(self, hist, hist_off, t0, t1, ev_t, ev_i, rec_rows, rec_cols, rec, spk) -> None:
        lay, t, e = self.lay, t0, 0
        while t < t1:
            t, n, e = numba_backend.run_chunk(
                t, t1, lay.S, lay.C, lay.IN, lay.refr, lay.last_spike, lay.spiked, self.pop_start,
                self.pop_code, hist, hist_off, self.proj_pre, self.proj_post, self.proj_chan, self.proj_sign,
                self.proj_nch, self.syn_off, self.post_g, self.pre_l, self.post_l, self.pre_g, lay.W,
                self.row_off, self.rowptr, self.d_off, self.dvals, self.arrived, self.rule_code, self.rpar,
                self.rs, self.rpo_off, self.rpo, self.ring_off, self.ring, self.cnt, self.tcount,
                ev_t, ev_i, e, rec_rows, rec_cols, rec, self.spk_t, self.spk_i, 0)
            if n:
                spk.append((self.spk_t[:n].copy(), self.spk_i[:n].copy()))
