"""The compiled time loop (numba): the same steps, equations and floating-point order as numpy_backend.

Every model update and rule below is the scalar twin of the vectorized numpy
code in ``neuromap/neurons/*.py`` and ``neuromap/plasticity/*.py``; each
expression is written in the same order so both backends give bit-identical
spikes and weights (tests/model/test_simulator_backends.py checks it). Changing an
equation means changing it in both places.

All helpers are inlined into ``run_chunk`` (the only function with machine code in
numba's on-disk cache), so the cache cannot mix versions of them.

Models compiled here: MODEL_CODES 1-4 of layout.py (lif, if, izhikevich, eif).
Rules compiled here: ``stdp``, ``nn_stdp``, ``homeostatic_stdp`` (RULE_CODES);
a network with any other rule runs on the numpy backend.
"""
from __future__ import annotations

import math

import numpy as np

try:
    import numba  # noqa: F401  (availability check: HAVE_NUMBA)
    from numba import njit
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

RULE_CODES = {"stdp": 1, "nn_stdp": 2, "homeostatic_stdp": 3}
N_RPAR = 16

if HAVE_NUMBA:
    @njit(cache=True, inline="always")
    def _fire(i, S, C, refr, held, th, reset, nref, sub):
        """Threshold test on S[0, i] (not when held), reset to C[reset] (or by subtraction of
        C[th] - C[reset] when sub >= 0 and C[sub] != 0), refractory C[nref] steps."""
        if (not held) and S[0, i] >= C[th, i]:
            if sub >= 0 and C[sub, i] != 0.0:
                S[0, i] = S[0, i] - (C[th, i] - C[reset, i])
            else:
                S[0, i] = C[reset, i]
            refr[i] = np.int64(C[nref, i])
            return True
        return False

    @njit(cache=True, inline="always")
    def _lif(i, S, C, IN, refr):
        # S: v, I   C: a, b, p, c0, v_th, v_reset, refractory, subtract
        S[1, i] = S[1, i] + IN[0, i]
        held = refr[i] > 0
        if held:
            S[0, i] = C[5, i]
            refr[i] -= 1
        else:
            S[0, i] = S[0, i] * C[0, i] + C[3, i] + C[2, i] * S[1, i]
        S[1, i] = S[1, i] * C[1, i]
        return _fire(i, S, C, refr, held, 4, 5, 6, 7)

    @njit(cache=True, inline="always")
    def _if(i, S, C, IN, refr):
        # S: v   C: drift, v_th, v_reset, refractory, subtract
        held = refr[i] > 0
        if held:
            S[0, i] = C[2, i]
            refr[i] -= 1
        else:
            S[0, i] = S[0, i] + IN[0, i] + C[0, i]
        return _fire(i, S, C, refr, held, 1, 2, 3, 4)

    @njit(cache=True, inline="always")
    def _izh(i, S, C, IN):
        # S: v, u, g_ampa, g_nmda, g_gaba
        # C: a, b, c, d, s_ampa, s_nmda, s_gaba, vrev, E_gaba, I_ext, v_peak, dt
        S[2, i] = S[2, i] + IN[0, i]
        S[3, i] = S[3, i] + IN[1, i]
        S[4, i] = S[4, i] + IN[2, i]
        v, u, ga, gn, gg = S[0, i], S[1, i], S[2, i], S[3, i], S[4, i]
        dt, a, b = C[11, i], C[0, i], C[1, i]
        x = (v + 80.0) / 60.0
        x2 = x * x
        i_syn = ga * (C[7, i] - v) + gn * (x2 / (1.0 + x2)) * (C[7, i] - v) + gg * (C[8, i] - v) + C[9, i]
        kv = (0.04 * v + 5.0) * v + 140.0 - u + i_syn
        ku = a * (b * v - u)
        vm = v + 0.5 * dt * kv
        um = u + 0.5 * dt * ku
        v_new = v + dt * ((0.04 * vm + 5.0) * vm + 140.0 - um + i_syn)
        u_new = u + dt * (a * (b * vm - um))
        S[2, i] = ga + C[4, i] * (0.0 - ga)
        S[3, i] = gn + C[5, i] * (0.0 - gn)
        S[4, i] = gg + C[6, i] * (0.0 - gg)
        if v_new >= C[10, i]:
            S[0, i] = C[2, i]
            S[1, i] = u_new + C[3, i]
            return True
        S[0, i] = v_new
        S[1, i] = u_new
        return False

    @njit(cache=True, inline="always")
    def _eif(i, S, C, IN, refr):
        # S: v, I_e, I_i
        # C: dt_C, g_L, E_L, V_T, Delta_T, gLDT, bias, v_lb, v_th, v_reset, refractory,
        #    inv_tau_e, inv_tau_i, d_e, d_i
        S[1, i] = S[1, i] + IN[0, i] * C[11, i]
        S[2, i] = S[2, i] + IN[1, i] * C[12, i]
        v = S[0, i]
        held = refr[i] > 0
        ex = math.exp((v - C[3, i]) / C[4, i])
        dv = C[0, i] * (-C[1, i] * (v - C[2, i]) + C[5, i] * ex + S[1, i] + S[2, i] + C[6, i])
        if held:
            S[0, i] = C[9, i]
            refr[i] -= 1
        else:
            vn = v + dv
            S[0, i] = vn if vn >= C[7, i] else C[7, i]
        S[1, i] = S[1, i] * C[13, i]
        S[2, i] = S[2, i] * C[14, i]
        return _fire(i, S, C, refr, held, 8, 9, 10, -1)

    @njit(cache=True, inline="always")
    def _clip(x, lo, hi):
        if x < lo:
            return lo
        if x > hi:
            return hi
        return x

    @njit(cache=True, inline="always")
    def _rule_stdp(p, W, a, b, pre_l, post_l, arrived, spiked, post0, rp, rs, rpo):
        # rp: d_plus, d_minus, A_plus, A_minus, w_min, w_max, soft ; rs: x per synapse ; rpo: y per post (offset)
        dp, dm, ap0, am0, wmin, wmax, soft = rp[0], rp[1], rp[2], rp[3], rp[4], rp[5], rp[6] > 0.5
        for s in range(a, b):
            rs[s] = rs[s] * dp
        npost = rpo.shape[0]  # rpo is this projection's slice: one entry per post neuron
        for j in range(npost):
            rpo[j] = rpo[j] * dm
        for s in range(a, b):
            if arrived[s]:
                ws = W[s]
                am = (ws - wmin) * am0 if soft else am0
                W[s] = _clip(ws - am * rpo[post_l[s - a]], wmin, wmax)
                rs[s] = rs[s] + 1.0
        any_post = False
        for j in range(npost):
            if spiked[post0 + j]:
                any_post = True
        if any_post:
            for s in range(a, b):
                if spiked[post0 + post_l[s - a]]:
                    ws = W[s]
                    ap = (wmax - ws) * ap0 if soft else ap0
                    W[s] = _clip(ws + ap * rs[s], wmin, wmax)
            for j in range(npost):
                if spiked[post0 + j]:
                    rpo[j] = rpo[j] + 1.0

    @njit(cache=True, inline="always")
    def _rule_nn(code, W, a, b, pre_g, post_l, arrived, spiked, last, post0, rp, rs, rpo, ring, cnt, tcount,
                 scratch):
        # rp: s_plus, s_minus, A_plus, A_minus, w_min, w_max, [alpha, beta, gamma, Rtarget, T, rate_factor, window]
        # per post neuron first (values identical to the numpy rule's per-synapse gathers), then one synapse pass
        sp, sm, ap, am, wmin, wmax = rp[0], rp[1], rp[2], rp[3], rp[4], rp[5]
        alpha, beta = rp[6], rp[7]
        npost = cnt.shape[0]
        for j in range(npost):
            rpo[j] = rpo[j] + sm * (0.0 - rpo[j])
        if code == 3:
            gamma, rt, T, rf = rp[8], rp[9], rp[10], rp[11]
            win = np.int64(rp[12])
            slot = tcount[0] % win
            for j in range(npost):
                sj = np.int64(1) if spiked[post0 + j] else np.int64(0)
                cnt[j] = cnt[j] + (sj - np.int64(ring[slot * npost + j]))
                ring[slot * npost + j] = np.int8(sj)
                r = rf * np.float64(cnt[j])
                scratch[0, j] = r / (T * (1.0 + abs(1.0 - r / rt) * gamma))  # K
                scratch[1, j] = 1.0 - r / rt
            tcount[0] += 1
        for s in range(a, b):
            if arrived[s]:
                rs[s] = ap
                arrived[s] = False
            rs[s] = rs[s] + sp * (0.0 - rs[s])
            j = post_l[s - a]
            if last[post0 + j] >= last[pre_g[s - a]]:
                stdp = rs[s]
            else:
                stdp = -rpo[j]
            if code == 3:
                W[s] = _clip(W[s] + (alpha * W[s] * scratch[1, j] + beta * stdp) * scratch[0, j], wmin, wmax)
            else:
                W[s] = _clip(W[s] + stdp, wmin, wmax)
        for j in range(npost):
            if spiked[post0 + j]:
                rpo[j] = am

    @njit(cache=True, inline="always")
    def _record_spike(i, t, slot, nh, n_spk, spiked, last, hist, spk_t, spk_i):
        """Neuron ``i`` spiked at step ``t``: flag, last-spike step, history row ``slot`` and the
        (t, i) output record; returns the advanced (history, output) counts."""
        spiked[i] = True
        last[i] = t
        hist[slot, nh] = i
        spk_t[n_spk] = t
        spk_i[n_spk] = i
        return nh + 1, n_spk + 1

    @njit(cache=True)
    def run_chunk(t0, t1, S, C, IN, refr, last, spiked, pop_start, pop_code, hist, hist_off,
                  proj_pre, proj_post, proj_chan, proj_sign, proj_nch, syn_off, post_g, pre_l, post_l, pre_g, W,
                  row_off, rowptr, d_off, dvals, arrived, rule_code, rpar, rs, rpo_off, rpo, ring_off, ring,
                  cnt, tcount, ev_t, ev_i, e0, rec_rows, rec_cols, rec_buf, spk_t, spk_i, n_spk):
        """Steps [t0, t1); returns (first step not done, neuron spikes recorded, next event index).

        Input events enter the history ring (``hist`` is wide enough for the neurons plus the chunk's
        busiest step of input events) but not ``spk_t``/``spk_i``. Stops early (before a step) when the
        spike buffers could overflow.
        """
        H = hist.shape[0]
        P = pop_start.shape[0] - 1
        NP = proj_pre.shape[0]
        N = S.shape[1]
        cap = spk_t.shape[0]
        NCH = IN.shape[0]
        max_post = 1
        for p in range(NP):
            m = rpo_off[p + 1] - rpo_off[p]
            if m > max_post:
                max_post = m
        scratch = np.zeros((2, max_post))
        e = e0
        for t in range(t0, t1):
            if n_spk + N > cap:
                return t, n_spk, e
            # 1. delivery
            for p in range(NP):
                pre = proj_pre[p]
                p0 = pop_start[pre]
                nd = d_off[p + 1] - d_off[p]
                plastic = rule_code[p] > 0
                nch = proj_nch[p]
                off = syn_off[p]
                ch0 = proj_chan[p, 0]
                sg0 = proj_sign[p, 0]
                for k in range(nd):
                    d = dvals[d_off[p] + k]
                    if t - d < 0:
                        continue
                    slot = (t - d) % H
                    for h in range(hist_off[slot, pre], hist_off[slot, pre + 1]):
                        row = row_off[p] + (hist[slot, h] - p0) * nd + k
                        lo = rowptr[row] + off
                        hi = rowptr[row + 1] + off
                        if nch == 1:                # the common case: one channel, a tight loop
                            for gs in range(lo, hi):
                                IN[ch0, post_g[gs]] += sg0 * W[gs]
                        else:
                            for gs in range(lo, hi):
                                for c in range(nch):
                                    IN[proj_chan[p, c], post_g[gs]] += proj_sign[p, c] * W[gs]
                        if plastic:
                            for gs in range(lo, hi):
                                arrived[gs] = True
            # 2. neurons (spiked is cleared for the previous step's spikers only)
            prev = (t - 1) % H
            if t > 0:
                for h in range(hist_off[prev, P]):
                    spiked[hist[prev, h]] = False
            slot = t % H
            nh = 0
            for q in range(P):
                code = pop_code[q]
                hist_off[slot, q] = nh
                if code == 0:   # input events (once per event): history only, not the spike output
                    while e < ev_t.shape[0] and ev_t[e] == t and ev_i[e] < pop_start[q + 1]:
                        i = ev_i[e]
                        spiked[i] = True
                        last[i] = t
                        hist[slot, nh] = i
                        nh += 1
                        e += 1
                    continue
                for i in range(pop_start[q], pop_start[q + 1]):
                    if code == 1:
                        spk = _lif(i, S, C, IN, refr)
                    elif code == 2:
                        spk = _if(i, S, C, IN, refr)
                    elif code == 3:
                        spk = _izh(i, S, C, IN)
                    elif code == 4:
                        spk = _eif(i, S, C, IN, refr)
                    else:  # no compiled version: core._choose_backend must send such networks to numpy
                        spk = False
                    for c in range(NCH):
                        IN[c, i] = 0.0
                    spiked[i] = spk
                    if spk:
                        nh, n_spk = _record_spike(i, t, slot, nh, n_spk, spiked, last, hist, spk_t, spk_i)
            hist_off[slot, P] = nh
            for r in range(rec_rows.shape[0]):
                rec_buf[t - t0, r] = S[rec_rows[r], rec_cols[r]]
            # 3. plasticity
            for p in range(NP):
                code = rule_code[p]
                if code == 0:
                    continue
                a, b = syn_off[p], syn_off[p + 1]
                post0 = pop_start[proj_post[p]]
                if code == 1:
                    _rule_stdp(p, W, a, b, pre_l[a:b], post_l[a:b], arrived, spiked, post0, rpar[p],
                               rs, rpo[rpo_off[p]:rpo_off[p + 1]])
                else:
                    _rule_nn(code, W, a, b, pre_g[a:b], post_l[a:b], arrived, spiked, last, post0, rpar[p],
                             rs, rpo[rpo_off[p]:rpo_off[p + 1]], ring[ring_off[p]:ring_off[p + 1]],
                             cnt[rpo_off[p]:rpo_off[p + 1]], tcount[p:p + 1], scratch)
                    continue
                for s in range(a, b):
                    arrived[s] = False
        return t1, n_spk, e
