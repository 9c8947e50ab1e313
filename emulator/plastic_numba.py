"""The plastic time loop compiled whole: many steps per numba call, learning inside the loop.

Same integers and order as :func:`emulator.plastic.emulate_plastic` with per step t (0-based):
the LIF update and delivery of :func:`emulator.engine_numba._run` (its inline helpers ``step_sources``
and ``deliver``: refractory periods, per-axon delays and dendrite slots included), then every plastic projection's
seed-rule kernel with ``t + 1``, then the learned weights written into ``syn_add`` (``w << weight_exp``,
or the raw weight when ``weight_exp < 0``; stored into the int16 field like numpy's cast), then the
weights recorded when ``(t + 1) % weight_every == 0`` or at the last step.

Supported: images whose plastic projections all use engines of :data:`KERNELS` (``homeostatic_stdp``
incl. nn_stdp, ``vogels_isp``, ``pool_stdp``), any mix of them; each engine's projections are flattened
into one group (:mod:`neuromap.learning_engines.packing`). Anything else (``loihi``, ``clopath``) runs on the
per-step path of :mod:`emulator.plastic`.

Inputs: the per-chunk schedule of :class:`emulator.inputs.InputSchedule` (explicit spikes and the
Poisson stream, ids sorted within a step).
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.engine_numba import deliver, step_sources
from emulator.inputs import InputSchedule
from emulator.state import State
from neuromap.learning_engines import homeostatic_stdp, pool_stdp, vogels_isp

KERNELS = {homeostatic_stdp: homeostatic_stdp.KERNEL, vogels_isp: vogels_isp.KERNEL, pool_stdp: pool_stdp.KERNEL}
_ORDER = (homeostatic_stdp, vogels_isp, pool_stdp)
#: spike-buffer entries per chunk (chunk length = this // (neurons + inputs), at most 4096 steps)
_BUF = 1 << 21


def supported(projs) -> bool:
    """True when the fused loop can run every plastic projection of ``projs`` (emulator.plastic)."""
    return bool(projs) and all(pp.engine in KERNELS for pp in projs)


def _link(projs) -> tuple:
    """Where a group meets the network: per projection pre sources and post neurons (concatenated), image
    synapse ids and weight exponents per synapse, bool buffers for the gathered spikes, and the write-back
    run ``[start, exp]`` when the synapse ids are one contiguous run ``start ..`` with one exponent >= 0
    (``[-1, 0]`` otherwise)."""
    pre_src = np.concatenate([pp.pre_src for pp in projs]).astype(np.int64)
    post_ids = np.concatenate([pp.post_ids for pp in projs]).astype(np.int64)
    syn = np.concatenate([pp.syn for pp in projs]).astype(np.int64)
    wexp = np.concatenate([np.full(pp.syn.size, pp.weight_exp, np.int64) for pp in projs])
    run = np.array([-1, 0], np.int64)
    if syn.size and np.array_equal(syn, np.arange(syn[0], syn[0] + syn.size)) and wexp.min() == wexp.max() >= 0:
        run[:] = syn[0], wexp[0]
    return (pre_src, post_ids, syn, wexp, np.zeros(pre_src.size, np.bool_), np.zeros(post_ids.size, np.bool_), run)


@numba.njit(inline="always")
def _gather(pre_src, post_ids, spk, pre_b, post_b):
    for i in range(pre_src.shape[0]):
        pre_b[i] = spk[pre_src[i]]
    for i in range(post_ids.shape[0]):
        post_b[i] = spk[post_ids[i]]


@numba.njit(inline="always")
def _write_back(syn, wexp, run, weights, syn_add):
    if run[0] >= 0:                                      # one contiguous run: a loop that vectorizes
        s0, e = np.uint64(run[0]), run[1]
        for q in range(np.uint64(syn.shape[0])):
            syn_add[s0 + q] = np.int64(weights[q]) << e
        return
    for q in range(syn.shape[0]):
        w = np.int64(weights[q])
        syn_add[syn[q]] = w << wexp[q] if wexp[q] >= 0 else w


@numba.njit(inline="always")
def _record(rec, r, weights):
    for q in range(weights.shape[0]):
        rec[r, q] = weights[q]


@numba.njit(cache=True, nogil=True)
def _run(t0, n_steps, last_step, rec_every, N, D, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core,
         src_ptr, route_axon, route_core, src_core, syn_ptr, axon_delay, axon_slotted, syn_post, syn_delay, syn_add,
         syn_slot, slot_post, slot_delay, slot_shift, u, v, ring, slot_acc, core_spikes, link_spikes,
         in_ptr, in_ids, probe, spk_step, spk_src, trace_u, trace_v, spk,
         hg, hlink, hrec, vg, vlink, vrec, pg, plink, prec):
    """``n_steps`` steps from ``t0``; returns (spikes written, weight records written). The group and link
    tuples are unpacked once here: numba reference-counts (atomically) every array taken out of a tuple."""
    (h0, h1, h2, h3, h4, h5, h6, h7, h8, h_w, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22) = hg
    (v0, v1, v2, v3, v4, v5, v6, v_w, v8, v9, v10, v11, v12) = vg
    (p0, p1, p2, p3, p4, p5, p6, p7, p8, p_w, p10, p11, p12, p13, p14, p15, p16, p17, p18, p19, p20, p21, p22, p23,
     p24, p25) = pg
    h_pre, h_post, h_syn, h_exp, h_preb, h_postb, h_run = hlink
    v_pre, v_post, v_syn, v_exp, v_preb, v_postb, v_run = vlink
    p_pre, p_post, p_syn, p_exp, p_preb, p_postb, p_run = plink
    has_h, has_v, has_p = h6.shape[0] > 0, v4.shape[0] > 0, p7.shape[0] > 0   # projections (rows of prm)
    fired = np.empty(N + in_ids.shape[0], np.int64)                 # a step's spikes: neurons, then inputs
    touched = np.empty(slot_post.shape[0], np.int64)
    marked = np.zeros(slot_post.shape[0], np.bool_)
    row_off = np.empty(D, np.int64)
    n_spk = 0
    n_rec = 0
    for k in range(n_steps):
        t = t0 + k
        nf = step_sources(k, t, N, D, row_off, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                          neuron_core, core_spikes, probe, trace_u, trace_v, in_ptr, in_ids, fired)
        for f in range(nf):
            spk[fired[f]] = True
        n_spk = deliver(t, fired, nf, row_off, ring, src_ptr, route_axon, route_core, src_core, syn_ptr,  # weights
                        axon_delay, axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post,  # up to t-1
                        slot_delay, slot_shift, slot_acc, touched, marked, link_spikes, spk_step, spk_src, n_spk)
        if has_h:                                            # learning, then weights into delivery
            _gather(h_pre, h_post, spk, h_preb, h_postb)
            homeostatic_stdp.step_fields(t + 1, h0, h1, h2, h3, h4, h5, h6, h7, h8, h_w, h10, h11, h12, h13,
                                               h14, h15, h16, h17, h18, h19, h20, h21, h22, h_preb, h_postb)
            _write_back(h_syn, h_exp, h_run, h_w, syn_add)
        if has_v:
            _gather(v_pre, v_post, spk, v_preb, v_postb)
            vogels_isp.step_fields(t + 1, v0, v1, v2, v3, v4, v5, v6, v_w, v8, v9, v10, v11, v12, v_preb,
                                         v_postb)
            _write_back(v_syn, v_exp, v_run, v_w, syn_add)
        if has_p:
            _gather(p_pre, p_post, spk, p_preb, p_postb)
            pool_stdp.step_fields(t + 1, p0, p1, p2, p3, p4, p5, p6, p7, p8, p_w, p10, p11, p12, p13, p14, p15,
                                        p16, p17, p18, p19, p20, p21, p22, p23, p24, p25, p_preb, p_postb)
            _write_back(p_syn, p_exp, p_run, p_w, syn_add)
        for f in range(nf):
            spk[fired[f]] = False
        if (rec_every > 0 and (t + 1) % rec_every == 0) or t == last_step:
            _record(hrec, n_rec, h_w)
            _record(vrec, n_rec, v_w)
            _record(prec, n_rec, p_w)
            n_rec += 1
    return n_spk, n_rec


def emulate_fused(image, p, projs, steps: int, probe: np.ndarray, weight_every: int | None):
    """:func:`emulator.plastic.emulate_plastic` for ``supported(projs)`` images (``p``: the prepared
    program; ``projs``: its plastic projections). Same return value."""
    from emulator.plastic import PlasticRun
    groups = []
    for mod in _ORDER:
        mine = [pp for pp in projs if pp.engine is mod]
        kern = KERNELS[mod]
        states = [pp.state for pp in mine]
        g = kern.pack(states, [pp.weights for pp in mine])
        empty = [_empty_pp()] if not mine else mine
        groups.append((mine, kern, states, g, _link(empty)))
    st = State.initial(p)
    width = p.n_neurons + p.n_inputs
    chunk = max(1, min(steps, 4096, _BUF // max(width, 1)))
    sched = InputSchedule(p)
    spk = np.zeros(width, np.bool_)
    spk_step, spk_src = np.empty(0, np.int64), np.empty(0, np.int64)
    us, vs = np.zeros((steps, probe.size), np.int64), np.zeros((steps, probe.size), np.int64)
    every = int(weight_every) if weight_every is not None else 0
    ev, rec_steps, rec = [], [], {pp.index: [] for pp in projs}
    probe = np.ascontiguousarray(probe, np.int64)
    ring = st.ring.reshape(-1)
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        in_ptr, in_ids = sched.chunk(t0, n)
        need = n * p.n_neurons + in_ids.size
        if need > spk_step.size:
            spk_step, spk_src = np.empty(need, np.int64), np.empty(need, np.int64)
        ts = np.arange(t0, t0 + n)
        r_steps = ts[((ts + 1) % every == 0 if every else False) | (ts == steps - 1)].tolist()
        recs = [np.zeros((len(r_steps), grp[3][grp[1].weights].size), np.int16) for grp in groups]
        (_, _, _, hg, hl), (_, _, _, vg, vl), (_, _, _, pg, pl) = groups
        n_spk, n_rec = _run(t0, n, steps - 1, every, p.n_neurons, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth,
                            p.arith, p.ref_period, st.ref_until, p.neuron_core, p.src_ptr, p.route_axon, p.route_core,
                            p.src_core, p.syn_ptr, p.axon_delay, p.axon_slotted, p.syn_post, p.syn_delay, p.syn_add,
                            p.syn_slot, p.slot_post, p.slot_delay, p.slot_shift, st.u, st.v, ring, st.slot_acc,
                            st.core_spikes, st.link_spikes, in_ptr, in_ids, probe, spk_step, spk_src,
                            us[t0:t0 + n], vs[t0:t0 + n], spk, hg, hl, recs[0], vg, vl, recs[1], pg, pl, recs[2])
        assert n_rec == len(r_steps)
        ev.append(np.stack([spk_step[:n_spk], spk_src[:n_spk]], axis=1))
        rec_steps += r_steps
        for (mine, kern, _, g, _), r in zip(groups, recs):
            off = g[0]
            for j, pp in enumerate(mine):
                rec[pp.index] += list(r[:, off[j]:off[j + 1]])
    for mine, kern, states, g, _ in groups:
        if mine:
            kern.unpack(g, states, [pp.weights for pp in mine])
    spikes = np.concatenate(ev) if ev else np.zeros((0, 2), np.int64)
    weights = {k: np.stack(v) if v else np.zeros((0, pp.syn.size), np.int16) for (k, v), pp in zip(rec.items(), projs)}
    return spikes, us, vs, st, PlasticRun(np.asarray(rec_steps, np.int64), weights)


class _EmptyProjection:
    """Stands in for an engine with no projections (the loop's link arrays are then empty)."""

    pre_src = post_ids = syn = np.zeros(0, np.int64)
    weight_exp = 0


def _empty_pp():
    return _EmptyProjection()
