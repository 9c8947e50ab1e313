"""The vectorized numpy time loop: one Python iteration per step, numpy over neurons and synapses.

Step t (order of :mod:`neuromap.plasticity.base`):
  1. for every projection and each of its delays d, the pre neurons that spiked
     at t - d (spike-history ring) deliver their CSR rows: ``IN[channel, post] += sign*w``
     in synapse order (np.add.at, sequential, so sums round exactly as the
     compiled loop's); plastic projections flag the arrived synapses;
  2. every population updates (inputs: this step's events, an input once per event), records
     spikes, ``last_spike`` and the history ring; IN is cleared;
  3. every rule steps with this step's arrivals and post spikes.
"""
from __future__ import annotations

import numpy as np

from neuromap.simulator.layout import Layout


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, e) for each pair, in order."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return np.arange(total, dtype=np.int64) + offs


def run(lay: Layout, hist: np.ndarray, hist_off: np.ndarray, t0: int, t1: int,
        ev_t: np.ndarray, ev_i: np.ndarray, is_input: np.ndarray, rec_rows: np.ndarray, rec_cols: np.ndarray,
        rec_buf: np.ndarray, spk: list) -> None:
    """Advance ``lay`` from step t0 to t1 in place; neuron spikes go to ``spk`` as (t, global idx) arrays.
    Input events (``ev_t``, ``ev_i``, an input once per event) enter the history ring, not ``spk``."""
    H = lay.hist_len
    IN, W, spiked = lay.IN, lay.W, lay.spiked
    e0 = 0
    plastic = [(pl, np.zeros(pl.perm.size, dtype=bool)) for pl in lay.projs if pl.rule is not None]
    arrived_of = {id(pl): a for pl, a in plastic}
    for t in range(t0, t1):
        # 1. delivery
        for pl in lay.projs:
            pre = lay.pops[pl.pre]
            nd = max(len(pl.delays), 1)
            n_syn = pl.perm.size
            wv = W[pl.syn_off:pl.syn_off + n_syn]
            arr = arrived_of.get(id(pl))
            for k, d in enumerate(pl.delays):
                if t - d < 0:
                    continue
                slot = (t - d) % H
                sp = hist[slot, hist_off[slot, pl.pre]:hist_off[slot, pl.pre + 1]] - pre.start
                if sp.size == 0:
                    continue
                rows = sp * nd + k
                syn = _ranges(pl.rowptr[rows], pl.rowptr[rows + 1])
                for ch, sign in pl.channels:
                    np.add.at(IN[ch], pl.post_g[syn], sign * wv[syn])
                if arr is not None:
                    arr[syn] = True
        # 2. neurons
        slot = t % H
        e1 = e0
        while e1 < ev_t.size and ev_t[e1] == t:
            e1 += 1
        spiked[:] = False
        spiked[ev_i[e0:e1]] = True
        e_step, e0 = e0, e1
        for p in lay.pops:
            if p.code == 0:
                continue
            sl = slice(p.start, p.start + p.size)
            spiked[sl] = p.module.update(p.state, p.consts, IN[:, sl], lay.refr[sl])
        IN[:] = 0.0
        fired = np.flatnonzero(spiked & ~is_input)
        idx = np.sort(np.concatenate([fired, ev_i[e_step:e0]]))    # by population, an input once per event
        lay.last_spike[idx] = t
        hist[slot, :idx.size] = idx
        hist_off[slot, 1:] = np.searchsorted(idx, [p.start + p.size for p in lay.pops])
        if fired.size:
            spk.append((np.full(fired.size, t, np.int64), fired))
        if rec_rows.size:
            rec_buf[t - t0] = lay.S[rec_rows, rec_cols]
        # 3. plasticity
        for pl, arr in plastic:
            post = lay.pops[pl.post]
            n_syn = pl.perm.size
            pl.rule.step(W[pl.syn_off:pl.syn_off + n_syn], arr, spiked[post.start:post.start + post.size],
                         pl.post_state)
            arr[:] = False
