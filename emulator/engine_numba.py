"""The time loop compiled with numba: the same integers as :mod:`emulator.engine_numpy`, one scalar
loop per step (LIF update of every neuron, then the synapses of the spiking sources).

Static programs deliver through their *delivery runs* (:func:`emulator.program.flatten`: per source, runs of
one delay, packed 4 bytes per synapse), so a spike costs the same whatever the number of cores and route
entries the placement produced; the per-link counters are the route table times per-source spike counts
(:func:`add_link_spikes`, once per run). The plastic loops walk the route entries (:func:`deliver`: they
rewrite image-order weights). :func:`lif_update` is the one implementation of the LIF equations of
:mod:`emulator.lif` (Lava ``PyLifModelBitAcc``) in the emulator: the numpy engine calls it (:func:`lif_step`) and
the plastic loops inline it.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

from emulator.program import Program
from emulator.state import ChunkOut, State
from emulator.threads import passive_wait


@numba.njit(inline="always")
def _wrap32(x):
    """int64 -> int32 two's-complement wrap (truncate, sign-extend), as int64."""
    return np.int64(np.int32(x))


@numba.njit(inline="always")
def _decay(x, factor, shift):
    """``sign(p) * (|p| >> shift)`` for ``p = x * factor``, branch-free (adds 2**shift - 1 to negative p)."""
    p = x * factor
    return (p + ((p >> 63) & ((np.int64(1) << shift) - 1))) >> shift


def _decay_any(x, factor, shift):
    """:func:`_decay` of ``x`` by a factor as :func:`emulator.program.prepare` stores it: an int64 factor, or a
    float64 ``factor / 2**shift`` (programs whose factors all lie in [0, 2**shift]); numba picks the code by
    the array's dtype (:func:`_decay_any_impl`)."""
    raise NotImplementedError("called from numba-compiled code only")


@overload(_decay_any, inline="always")
def _decay_any_impl(x, factor, shift):
    """The float factor (float32 ``f / 2**D``, exact: D <= 24, widened to float64 here): ``trunc(x * (f / 2**D))``
    is ``sign(x f) (|x f| >> D)`` exactly (|x| < 2**31 and
    0 <= f <= 2**D: the product has at most 47 significant bits and scaling by 2**-D is exact in float64), and
    its value lies in [-|x|, |x|], so it converts through int32; on AVX2 (no 64-bit integer multiply) this loop
    vectorizes where the int64 multiply does not."""
    if isinstance(factor, types.Float):
        return lambda x, factor, shift: np.int64(np.int32(np.float64(np.int32(x)) * np.float64(factor)))
    return lambda x, factor, shift: _decay(x, factor, shift)


@numba.njit(inline="always")
def _ix(i):
    """A non-negative index as uint64: numba then emits no negative-index wraparound."""
    return np.uint64(i)


@intrinsic
def prefetch(typingctx, arr, idx):
    """``prefetch(arr, i)`` (``i`` an integer or, for a 2-d array, a pair): a hint to load the cache line of
    ``arr[i]`` for reading (LLVM ``llvm.prefetch``, locality 3). No effect on any value: the address need not
    even lie inside the array (a prefetch never faults). Used a few runs ahead of the delivery, whose run tables
    and synapses are otherwise fetched from memory one spike at a time (on large images the latency, not the
    adds, bounded the delivery)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = cgutils.unpack_tuple(builder, args[1]) if isinstance(signature.args[1], types.BaseTuple) else [args[1]]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False,
                                       boundscheck=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


#: programs of at least this many run synapses (4 MB packed: beyond L2) prefetch their deliveries; smaller ones
#: stay in cache, where listing the step's runs first only costs (the 0.1 M-synapse image: 4.8 -> 7.8 us/step)
PREFETCH_MIN_SYNAPSES = 1 << 20
#: ... and only when their runs hold this many synapses on average: short runs (the microcircuit's ~8, its
#: inputs' 1) pay the list and the prefetches per run for little (its delivery 25 -> 85 us/step with them)
PREFETCH_MIN_RUN = 16


@numba.njit(inline="always")
def _prefetching(n_runs, n_synapses):
    """Whether the delivery of a program of ``n_runs`` runs and ``n_synapses`` run synapses lists its runs and
    prefetches (:data:`PREFETCH_MIN_SYNAPSES`, :data:`PREFETCH_MIN_RUN`)."""
    return n_synapses >= PREFETCH_MIN_SYNAPSES and n_synapses >= PREFETCH_MIN_RUN * n_runs
#: runs ahead whose table entries (first synapse, delay, post base) are prefetched
AHEAD_TABLES = 24
#: runs ahead whose first 256 bytes of packed synapses are prefetched (their tables are cached by then).
#: Isolated delivery of the 100 k image (10 k runs of ~50 synapses a step, the same spikes, alternating, load
#: 1.6, 2026-12-07 22:00 UTC): (8, 3) 0.70 ms/step, (24, 8) 0.57, (48, 16) 0.54: a run's adds (~0.1 us) are far
#: shorter than a miss to memory with its page walk
AHEAD_SYNAPSES = 8


@numba.njit(inline="always")
def _step_runs(fired, f0, f1, run_ptr):
    """The delivery runs of the spikes ``fired[f0:f1]``, in delivery order (spike by spike, each spike's runs
    ascending), as one int64 array: the list the prefetching delivery looks ahead in."""
    n = 0
    for f in range(f0, f1):
        s = fired[f]
        n += run_ptr[s + 1] - run_ptr[s]
    js = np.empty(n, np.int64)
    n = 0
    for f in range(f0, f1):
        s = fired[f]
        for j in range(run_ptr[s], run_ptr[s + 1]):
            js[n] = j
            n += 1
    return js


@numba.njit(inline="always")
def _add_packed(ring, off, syn_packed, lo, hi):
    """``ring[off + (x & 0xFFFF)] += x >> 16`` for the packed synapses ``x`` of ``syn_packed[lo:hi]``
    (int32 adds wrap like Lava's int32 ports), unrolled by 4. Through the view ``ring[off:]`` each
    event is one load, two bit operations and one read-modify-write (no per-event base add)."""
    dst = ring[off:]
    q = lo
    while q + 4 <= hi:
        x0 = syn_packed[_ix(q)]
        x1 = syn_packed[_ix(q + 1)]
        x2 = syn_packed[_ix(q + 2)]
        x3 = syn_packed[_ix(q + 3)]
        dst[x0 & 0xFFFF] += x0 >> 16
        dst[x1 & 0xFFFF] += x1 >> 16
        dst[x2 & 0xFFFF] += x2 >> 16
        dst[x3 & 0xFFFF] += x3 >> 16
        q += 4
    while q < hi:
        x0 = syn_packed[_ix(q)]
        dst[x0 & 0xFFFF] += x0 >> 16
        q += 1


@numba.njit(inline="always")
def ring_rows(t, D, N, row_off):
    """``row_off[d]`` <- ring offset of step ``t + d`` (d = 0 .. D-1): the ring is ``(D, N)``, row ``t % D``."""
    for d in range(D):
        row_off[d] = ((t + d) % D) * N


@numba.njit(inline="always")
def trace_probes(k, probe, u, v, trace_u, trace_v):
    """Row ``k`` of the u/v traces: the probed neurons' state after the step."""
    for j in range(probe.shape[0]):
        trace_u[k, j] = u[probe[j]]
        trace_v[k, j] = v[probe[j]]




@numba.njit(inline="always")
def update_u(N, a_in, u, decay_u, shift, act, half):
    """Step 1-3 of :mod:`emulator.lif` for every neuron: u decays, takes ``a_in << act`` and wraps once; ``a_in``
    (the ring row) is cleared. Branch-free: LLVM vectorizes it."""
    for n in range(N):
        x = _wrap32(_decay_any(u[n], decay_u[n], shift) + _wrap32(np.int64(a_in[n]) << act))
        u[n] = x - 2 * half if x > half else (x + 2 * half if x <= -half else x)
    a_in[:] = 0


@numba.njit(inline="always")
def _v_next(v, decay_v, u, bias, shift, lim):
    """Step 4-5 of :mod:`emulator.lif` for one neuron: v decays, takes u and the bias, wraps and is clipped."""
    return min(max(_wrap32(_decay_any(v, decay_v, shift) + u + bias), -lim), lim)


@numba.njit(inline="always")
def lif_update(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core,
               core_spikes, fired, refr=True):
    """Step ``t`` of every neuron (Lava ``PyLifModelBitAcc`` with the widths of ``arith``
    (:func:`emulator.lif.arith_vector`) + refractory, :mod:`emulator.lif`), reading and clearing ring row
    ``base``; writes the spiking neurons to ``fired[0:nf]`` and returns ``nf``.

    Three passes over the neurons, the first two branch-free so LLVM vectorizes them (each writes one array:
    more written arrays exceed LLVM's runtime alias checks and the loop stays scalar; the decay multiply in
    float64 when the program allows it, :func:`_decay_any`): u; v of the non-refractory neurons (clipped,
    before the threshold test); then the threshold test, reset and spike list (:func:`fire`). ``refr=False``
    (the program's ``refractory`` flag: no neuron has a refractory period, :func:`emulator.program.prepare`)
    skips every read and write of ``ref_until``: with all periods 0 a neuron is never refractory (``ref_until``
    of a neuron that spiked at step t is t, and the test at t + 1 is ``t >= t + 1``), the same integers with
    one stream fewer (u, v may be int32 arrays: :meth:`emulator.state.State.initial`)."""
    shift = arith[0]
    act = arith[1]
    half = arith[2]
    lim = arith[3]
    update_u(N, ring[base:base + N], u, decay_u, shift, act, half)
    if refr:
        for n in range(N):
            vv = _v_next(v[n], decay_v[n], u[n], bias[n], shift, lim)
            v[n] = v[n] if ref_until[n] >= t else vv          # refractory: v held, no spike
    else:
        for n in range(N):
            v[n] = _v_next(v[n], decay_v[n], u[n], bias[n], shift, lim)
    return fire(t, N, v, vth, ref_period, ref_until, neuron_core, core_spikes, fired, refr)


@numba.njit(inline="always")
def fire(t, N, v, vth, ref_period, ref_until, neuron_core, core_spikes, fired, refr=True):
    """Step 6 of :mod:`emulator.lif` and the refractory start: threshold test, reset, spike list and per-core
    counts in one pass with a branch per neuron; returns the number of spikes; ``refr=False``: no refractory
    bookkeeping (:func:`lif_update`). (A count-first variant with a
    branch-free list for dense spiking was slower on both the 1 k image (0.89x) and the 100 k image, where
    47 % of the neurons spike a step (0.90x): bench.emulator_ab, 2026-12-07 19:34 UTC, load 0.4.)"""
    nf = 0
    if refr:
        for n in range(N):
            if v[n] > vth[n] and ref_until[n] < t:
                v[n] = 0
                fired[nf] = n
                nf += 1
                core_spikes[neuron_core[n]] += 1
                ref_until[n] = t + ref_period[n]
        return nf
    for n in range(N):
        if v[n] > vth[n]:
            v[n] = 0
            fired[nf] = n
            nf += 1
            core_spikes[neuron_core[n]] += 1
    return nf


@numba.njit(cache=True, nogil=True)
def lif_step(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core,
             core_spikes, fired):
    """:func:`lif_update` as a compiled function of its own: the numpy engine's LIF update, so both engines (and
    the plastic loops) run the one implementation of the neuron equations; the scalar oracle of the tests
    (tests/oracles/loihi_core.py) is written apart from it."""
    return lif_update(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core,
                      core_spikes, fired)


@numba.njit(inline="always")
def step_sources(k, t, N, D, row_off, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                 neuron_core, core_spikes, probe, trace_u, trace_v, in_ptr, in_ids, fired, refr=True):
    """The first half of step ``t`` (chunk row ``k``) on one thread: ring offsets, the LIF update of every
    neuron (:func:`lif_update`), the probe traces, then the step's inputs appended; the step's spiking
    sources are ``fired[0:nf]`` (neurons ascending, then inputs ascending); returns ``nf``."""
    ring_rows(t, D, N, row_off)
    nf = lif_update(t, N, row_off[0], ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                    neuron_core, core_spikes, fired, refr)
    trace_probes(k, probe, u, v, trace_u, trace_v)
    for j in range(in_ptr[k], in_ptr[k + 1]):
        fired[nf] = N + in_ids[j]
        nf += 1
    return nf


@numba.njit(inline="always")
def deliver(t, fired, nf, row_off, ring, src_ptr, route_axon, route_core, src_core, syn_ptr, axon_delay,
            axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post, slot_delay, slot_shift, slot_acc,
            touched, marked, link_spikes, spk_step, spk_src, n_spk):
    """Record the spikes ``fired[0:nf]`` of step ``t`` (from ``n_spk`` on), count their link messages and
    deliver them into the ring by walking their route entries (image-order synapses, the weights the plastic
    loops rewrite; ``row_off[d]``: ring offset of step t + d); returns the new ``n_spk``. Static runs use
    the flattened runs instead (:func:`deliver_runs`)."""
    nt = 0
    for f in range(nf):
        s = fired[f]
        spk_step[n_spk] = t
        spk_src[n_spk] = s
        n_spk += 1
        cs = src_core[s]
        for r in range(src_ptr[s], src_ptr[s + 1]):
            link_spikes[cs, route_core[r]] += 1
            g = route_axon[r]
            lo = syn_ptr[g]
            hi = syn_ptr[g + 1]
            if axon_slotted[g]:
                for q in range(lo, hi):
                    nt = _slot_add(syn_slot[q], syn_add[q], slot_acc, touched, marked, nt)
            elif axon_delay[g] >= 0:
                dst = ring[row_off[axon_delay[g]]:]
                for q in range(lo, hi):
                    dst[_ix(syn_post[q])] += syn_add[q]
            else:
                for q in range(lo, hi):
                    ring[row_off[syn_delay[q]] + syn_post[q]] += syn_add[q]
    _flush_slots(nt, touched, row_off, ring, slot_post, slot_delay, slot_shift, slot_acc, marked)
    return n_spk


@numba.njit(inline="always")
def _slot_add(sl, add, slot_acc, touched, marked, nt):
    """``add`` into dendrite slot ``sl``'s sum, marking the slot in ``touched[nt:]`` when the step touches it
    first; returns the new ``nt``."""
    if not marked[sl]:
        marked[sl] = True
        touched[nt] = sl
        nt += 1
    slot_acc[sl] += add
    return nt


@numba.njit(inline="always")
def _flush_slots(nt, touched, row_off, ring, slot_post, slot_delay, slot_shift, slot_acc, marked):
    """Dendrite slots: the step's per-(post, delay) sums of ``touched[0:nt]``, shifted, into the ring; cleared."""
    for i in range(nt):
        sl = touched[i]
        ring[row_off[slot_delay[sl]] + slot_post[sl]] += slot_acc[sl] >> slot_shift[sl]
        slot_acc[sl] = 0
        marked[sl] = False


@numba.njit(cache=True, nogil=True)
def _run(t0, n_steps, N, D, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core, src_ptr, route_axon,
         route_core, src_core, syn_ptr, axon_delay, axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post,
         slot_delay, slot_shift, u, v, ring, slot_acc, core_spikes, link_spikes, in_ptr, in_ids, probe, spikes, n_spk,
         trace_u, trace_v):
    """The route walk (:func:`deliver`) on programs without delivery runs (the plastic per-step path)."""
    spk_step = spikes[:, 0]
    spk_src = spikes[:, 1]
    fired = np.empty(N + in_ids.shape[0], np.int64)
    touched = np.empty(slot_post.shape[0], np.int64)
    marked = np.zeros(slot_post.shape[0], np.bool_)
    row_off = np.empty(D, np.int64)          # ring offset of step t + d, for d = 0 .. D-1
    for k in range(n_steps):
        t = t0 + k
        nf = step_sources(k, t, N, D, row_off, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                          neuron_core, core_spikes, probe, trace_u, trace_v, in_ptr, in_ids, fired)
        n_spk = deliver(t, fired, nf, row_off, ring, src_ptr, route_axon, route_core, src_core, syn_ptr,
                        axon_delay, axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post, slot_delay,
                        slot_shift, slot_acc, touched, marked, link_spikes, spk_step, spk_src, n_spk)
    return n_spk


@numba.njit(inline="always")
def _record(t, fired, nf, spk_step, spk_src, n_spk, src_spikes):
    """The spikes ``fired[0:nf]`` of step ``t`` into the spike rows from ``n_spk`` on and the per-source spike
    counts (link messages are these counts times the route table: :func:`add_link_spikes`); the new ``n_spk``."""
    for f in range(nf):
        s = fired[f]
        spk_step[n_spk + f] = t
        spk_src[n_spk + f] = s
        src_spikes[s] += 1
    return n_spk + nf


@numba.njit(inline="always")
def notes_due(fired, f0, f1, src_notes):
    """Most notes the spikes ``fired[f0:f1]`` can make (:func:`_add_shifted`): their slotted run synapses
    (``src_notes[s]``: source s's slotted run synapses, :func:`emulator.program.flatten`). Public for callers that
    deliver through :func:`deliver_runs` themselves (:mod:`emulator.sharded`): size ``notes`` with :func:`room`
    before each step's delivery."""
    n = 0
    for f in range(f0, f1):
        n += src_notes[fired[f]]
    return n


@numba.njit(nogil=True)
def room(notes, need):
    """``notes`` if it holds ``need`` rows (:func:`notes_due`), else a new (2 x need, 2) int64 array (called once
    per step, never per event: an array that may be replaced inside the event loop costs reference counting per
    event). Public with :func:`notes_due` and :func:`carry`."""
    if need <= notes.shape[0]:
        return notes
    return np.empty((2 * need, 2), np.int64)


@numba.njit(inline="always")
def _add_shifted(ring, off, run_packed, run_slot, lo, hi, sh, slot_mark, notes, nn, ncol):
    """The slotted synapses ``run_packed[lo:hi]`` (raw weight w, shift ``sh``) into the ring view ``ring[off:]``:
    each adds ``w >> sh``; a nonzero remainder ``w mod 2**sh`` is noted ``(slot << 8 | remainder,
    ring index << 4 | sh)`` in ``notes[nn:]`` (the caller made room: :func:`notes_due`) and its slot marked
    (``slot_mark``: 1 = one note this step, 2 = more: a carry may be due, counted in ``ncol``). Returns (nn, ncol);
    :func:`carry` settles the notes after the step."""
    dst = ring[off:]
    m = (np.int64(1) << sh) - 1
    for q in range(lo, hi):
        x = np.int64(run_packed[_ix(q)])
        i = x & 0xFFFF
        w = x >> 16
        dst[i] += w >> sh
        r = w & m
        if r != 0:
            sl = run_slot[_ix(q)]
            mk = slot_mark[sl]
            if mk == 1:
                ncol += 1
            if mk < 2:
                slot_mark[sl] = mk + 1
            notes[nn, 0] = (np.int64(sl) << 8) | r
            notes[nn, 1] = ((off + i) << 4) | sh
            nn += 1
    return nn, ncol


@numba.njit(inline="always")
def carry(notes, nn, ncol, ring, slot_acc, slot_mark):
    """After a step's deliveries (:func:`deliver_runs` returned ``(nn, ncol)``): every dendrite slot with two or
    more noted remainders adds its carry ``floor(sum of remainders / 2**shift)`` into its ring entry
    (``slot_acc`` sums them); marks cleared. Call it once per step, after every spike of the step was
    delivered (a slot must see all its spikes of the step: :mod:`emulator.sharded` delivers all received spikes
    of a step with one :func:`deliver_runs` call and then one ``carry``)."""
    if ncol > 0:
        for i in range(nn):
            sl = notes[i, 0] >> 8
            if slot_mark[sl] == 2:
                slot_acc[sl] += notes[i, 0] & 0xFF
        for i in range(nn):
            sl = notes[i, 0] >> 8
            if slot_mark[sl] == 2:
                ring[notes[i, 1] >> 4] += slot_acc[sl] >> (notes[i, 1] & 0xF)
                slot_acc[sl] = 0
                slot_mark[sl] = 3                     # its carry is in: the slot's other notes skip it
    for i in range(nn):
        slot_mark[notes[i, 0] >> 8] = 0


@numba.njit(inline="always")
def deliver_runs(fired, f0, f1, row_off, ring, run_ptr, run_syn, run_delay, run_shift, run_post_base, run_packed,
                 run_slot, slot_mark, notes):
    """The delivery runs (:func:`emulator.program.flatten`) of the spikes ``fired[f0:f1]`` into the ring
    (``row_off[d]``: ring offset of step t + d): direct runs add their weights, slotted runs their shifted
    weights and notes (:func:`_add_shifted`; ``notes`` has room, :func:`notes_due`). Returns (nn, ncol) for
    :func:`carry`. The step's runs are listed first (:func:`_step_runs`) so that each run's tables and
    synapses are prefetched a few runs ahead (:data:`AHEAD_TABLES`, :data:`AHEAD_SYNAPSES`); the adds are the same,
    in the same order."""
    nn = 0
    ncol = 0
    if not _prefetching(run_syn.shape[0] - 1, run_packed.shape[0]):      # cached anyway: no list, no prefetches
        for f in range(f0, f1):
            s = fired[f]
            for j in range(run_ptr[s], run_ptr[s + 1]):
                off = row_off[run_delay[j]] + run_post_base[j]
                sh = run_shift[j]
                if sh == 0:
                    _add_packed(ring, off, run_packed, run_syn[j], run_syn[j + 1])
                else:
                    nn, ncol = _add_shifted(ring, off, run_packed, run_slot, run_syn[j], run_syn[j + 1], sh, slot_mark,
                                            notes, nn, ncol)
        return nn, ncol
    js = _step_runs(fired, f0, f1, run_ptr)
    nj = js.shape[0]
    for i in range(nj):
        # prefetch the tables of run js[i + AHEAD_TABLES] and the first synapses of run js[i + AHEAD_SYNAPSES]
        # (written out here: an inline helper taking the arrays cost reference counting per run, 1.0 vs 0.55
        # ms/step of the 100 k image's delivery)
        if i + AHEAD_TABLES < nj:
            jt = js[i + AHEAD_TABLES]
            prefetch(run_syn, jt)
            prefetch(run_delay, jt)
            prefetch(run_shift, jt)
            prefetch(run_post_base, jt)
        if i + AHEAD_SYNAPSES < nj:
            lo = run_syn[js[i + AHEAD_SYNAPSES]]
            prefetch(run_packed, lo)
            prefetch(run_packed, lo + 16)
            prefetch(run_packed, lo + 32)
            prefetch(run_packed, lo + 48)
        j = js[i]
        off = row_off[run_delay[j]] + run_post_base[j]
        sh = run_shift[j]
        if sh == 0:
            _add_packed(ring, off, run_packed, run_syn[j], run_syn[j + 1])
        else:
            nn, ncol = _add_shifted(ring, off, run_packed, run_slot, run_syn[j], run_syn[j + 1], sh, slot_mark,
                                    notes, nn, ncol)
    return nn, ncol


@numba.njit(cache=True, nogil=True)
def _run_runs(t0, n_steps, N, D, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core, run_ptr,
              run_syn, run_delay, run_shift, run_post_base, run_packed, run_slot, src_notes, u, v, ring, slot_acc,
              slot_mark, core_spikes, src_spikes, in_ptr, in_ids, probe, spikes, n_spk, trace_u, trace_v, fired, refr):
    """One thread: per step the LIF update of every neuron, then the step's spikes (neurons ascending, then
    inputs ascending) recorded and delivered through their runs (:func:`deliver_runs`, :func:`carry`).
    ``fired``: work array of at least N + the chunk's input events (:func:`scratch`); ``refr``: the
    program's ``refractory`` flag (:func:`lif_update`)."""
    spk_step = spikes[:, 0]
    spk_src = spikes[:, 1]
    notes = np.empty((256, 2), np.int64)
    row_off = np.empty(D, np.int64)
    for k in range(n_steps):
        t = t0 + k
        nf = step_sources(k, t, N, D, row_off, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                          neuron_core, core_spikes, probe, trace_u, trace_v, in_ptr, in_ids, fired, refr)
        n_spk = _record(t, fired, nf, spk_step, spk_src, n_spk, src_spikes)
        if run_slot.shape[0]:
            notes = room(notes, notes_due(fired, 0, nf, src_notes))
        nn, ncol = deliver_runs(fired, 0, nf, row_off, ring, run_ptr, run_syn, run_delay, run_shift, run_post_base,
                                run_packed, run_slot, slot_mark, notes)
        carry(notes, nn, ncol, ring, slot_acc, slot_mark)
    return n_spk


@numba.njit(cache=True, nogil=True)
def add_link_spikes(src_ptr, route_core, src_core, src_spikes, link_spikes):
    """``link_spikes[src_core[s], route_core[r]] += src_spikes[s]`` for every route entry r of every source s
    (the per-route count the route walk makes per spike, once per run); clears ``src_spikes``."""
    for s in range(src_spikes.shape[0]):
        c = src_spikes[s]
        if c == 0:
            continue
        cs = src_core[s]
        for r in range(src_ptr[s], src_ptr[s + 1]):
            link_spikes[cs, route_core[r]] += c
        src_spikes[s] = 0


@numba.njit(inline="always")
def _deliver_runs_range(th, fired, nf, row_off, ring, run_ptr, run_split, run_delay, run_shift, run_post_base,
                        run_packed, run_slot, slot_acc, slot_mark, notes):
    """:func:`deliver_runs` of ``fired[0:nf]`` restricted to thread ``th``'s neurons: of every run j only its
    synapses ``run_split[j, th] .. run_split[j, th+1]-1``; carries settled (a slot belongs to one post, so to one
    thread; ``notes``: the thread's, with room for the step, :func:`notes_due`)."""
    nn = 0
    ncol = 0
    js = _step_runs(fired, 0, nf, run_ptr)
    nj = js.shape[0]
    far = _prefetching(run_split.shape[0], run_packed.shape[0])
    for i in range(nj):
        if far and i + AHEAD_TABLES < nj:           # prefetches as deliver_runs', in this thread's share of runs
            jt = js[i + AHEAD_TABLES]
            prefetch(run_split, (jt, th))
            prefetch(run_delay, jt)
            prefetch(run_shift, jt)
            prefetch(run_post_base, jt)
        if far and i + AHEAD_SYNAPSES < nj:
            lo = run_split[js[i + AHEAD_SYNAPSES], th]
            prefetch(run_packed, lo)
            prefetch(run_packed, lo + 16)
            prefetch(run_packed, lo + 32)
            prefetch(run_packed, lo + 48)
        j = js[i]
        lo = run_split[j, th]
        hi = run_split[j, th + 1]
        off = row_off[run_delay[j]] + run_post_base[j]
        sh = run_shift[j]
        if sh == 0:
            _add_packed(ring, off, run_packed, lo, hi)
        else:
            nn, ncol = _add_shifted(ring, off, run_packed, run_slot, lo, hi, sh, slot_mark, notes, nn, ncol)
    carry(notes, nn, ncol, ring, slot_acc, slot_mark)


@numba.njit(cache=True, nogil=True)
def _merge_record(k, t, N, T, post_bounds, fired_t, nf_t, fired, probe, u, v, trace_u, trace_v, in_ptr, in_ids,
                  spk_step, spk_src, n_spk, src_spikes):
    """Serial part of a threaded step: the threads' spike lists in range order (= neurons ascending), then
    the step's inputs, into ``fired``; probe traces (row k); spikes recorded from row ``n_spk`` on
    (:func:`_record`). Returns the number of spikes."""
    nf = 0
    for th in range(T):
        lo = post_bounds[th]
        for i in range(nf_t[th]):
            fired[nf] = fired_t[th, i] + lo
            nf += 1
    trace_probes(k, probe, u, v, trace_u, trace_v)
    for j in range(in_ptr[k], in_ptr[k + 1]):
        fired[nf] = N + in_ids[j]
        nf += 1
    _record(t, fired, nf, spk_step, spk_src, n_spk, src_spikes)
    return nf


@numba.njit(cache=True, nogil=True)
def _thread_step(th, update, t, nf, fired, prev_off, row_off, post_bounds, decay_u, decay_v, bias, vth, arith,
                 ref_period, ref_until, neuron_core, run_ptr, run_split, run_delay, run_shift, run_post_base,
                 run_packed, run_slot, u, v, ring, slot_acc, slot_mark, notes, core_spikes, fired_local, refr):
    """Thread ``th``'s share of a step: deliver the previous step's spikes ``fired[0:nf]`` (ring offsets
    ``prev_off``) into its neurons, then (if ``update``) update its neurons for step ``t``; returns the number
    of its spiking neurons, written range-local to ``fired_local``. A separate (called, not inlined)
    function: compiled inside the parallel region the same loops ran ~65 % slower per event."""
    if nf > 0:
        _deliver_runs_range(th, fired, nf, prev_off, ring, run_ptr, run_split, run_delay, run_shift, run_post_base,
                            run_packed, run_slot, slot_acc, slot_mark, notes)
    lo = post_bounds[th]
    hi = post_bounds[th + 1]
    if not update or hi == lo:
        return 0
    return lif_update(t, hi - lo, row_off[0] + lo, ring, u[lo:hi], v[lo:hi], decay_u[lo:hi], decay_v[lo:hi],
                      bias[lo:hi], vth[lo:hi], arith, ref_period[lo:hi], ref_until[lo:hi], neuron_core[lo:hi],
                      core_spikes, fired_local, refr)


@numba.njit(cache=True, nogil=True, parallel=True)
def _run_post_split(t0, n_steps, N, D, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core, run_ptr,
                    run_split, post_bounds, run_delay, run_shift, run_post_base, run_packed, run_slot, src_notes, u, v,
                    ring, slot_acc, slot_mark, core_spikes, src_spikes, in_ptr, in_ids, probe, spikes, n_spk, trace_u,
                    trace_v, fired, fired_t, cs_t, refr):
    """:func:`_run_runs` on ``T = len(post_bounds) - 1`` threads, one parallel region per step: thread k delivers
    the previous step's spikes into its own neurons' ring slots (:func:`_deliver_runs_range`), then updates its
    own neurons (:func:`lif_update`); a serial pass merges the per-thread spike lists in thread order
    (= neurons ascending), appends the inputs and records spikes. Every write of a thread lies in its own
    neuron range (or its own buffers), so the integers equal :func:`_run_runs`'s. Work arrays (:func:`scratch`):
    ``fired`` (>= N + the chunk's input events), ``fired_t`` (T, N + 1) per thread its spiking neurons
    (range-local ids), ``cs_t`` (T, C) per thread core spike counts, zero (and left zero)."""
    T = post_bounds.shape[0] - 1
    C = core_spikes.shape[0]
    spk_step = spikes[:, 0]
    spk_src = spikes[:, 1]
    nf_t = np.zeros(T, np.int64)
    row_off = np.empty(D, np.int64)
    prev_off = np.empty(D, np.int64)
    nf = 0                                         # spikes of the previous step, not yet delivered
    notes = np.empty((T, 64, 2), np.int64)         # per thread: remainders of slotted synapses (_add_shifted)
    for k in range(n_steps + 1):
        t = t0 + k
        ring_rows(t, D, N, row_off)
        need = notes_due(fired, 0, nf, src_notes)
        if need > notes.shape[1]:
            notes = np.empty((T, 2 * need, 2), np.int64)
        for th in numba.prange(T):
            nf_t[th] = _thread_step(th, k < n_steps, t, nf, fired, prev_off, row_off, post_bounds, decay_u, decay_v,
                                    bias, vth, arith, ref_period, ref_until, neuron_core, run_ptr, run_split, run_delay,
                                    run_shift, run_post_base, run_packed, run_slot, u, v, ring, slot_acc, slot_mark,
                                    notes[th], cs_t[th], fired_t[th], refr)
        if k == n_steps:                           # the last step's spikes are delivered: done
            break
        nf = _merge_record(k, t, N, T, post_bounds, fired_t, nf_t, fired, probe, u, v, trace_u, trace_v, in_ptr, in_ids,
                           spk_step, spk_src, n_spk, src_spikes)
        n_spk += nf
        for d in range(D):                         # a loop: an array assignment would be a parallel region
            prev_off[d] = row_off[d]
    for th in range(T):
        for c in range(C):
            core_spikes[c] += cs_t[th, c]
            cs_t[th, c] = 0
    return n_spk


@numba.njit(cache=True, nogil=True)
def _deliver_share(fired, f0, f1, row_off, ring, run_ptr, run_syn, run_delay, run_shift, run_post_base, run_packed):
    """The whole runs of the spikes ``fired[f0:f1]`` into ``ring`` (programs without slotted runs: every shift
    is 0, so :func:`deliver_runs` makes no notes)."""
    deliver_runs(fired, f0, f1, row_off, ring, run_ptr, run_syn, run_delay, run_shift, run_post_base, run_packed,
                 run_packed[:0], np.zeros(0, np.uint8), np.empty((0, 2), np.int64))


@numba.njit(cache=True, nogil=True)
def _update_range(th, t, base, T, post_bounds, ring, rings, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                  neuron_core, u, v, core_spikes, fired_local, refr):
    """Neurons of range ``th``: add the other threads' ring rows (offset ``base``) into the shared ring and
    clear them (int32 sums wrap: order-free), then :func:`lif_update`; returns the range's spike count."""
    lo = post_bounds[th]
    hi = post_bounds[th + 1]
    if hi == lo:
        return 0
    for j in range(T - 1):
        for n in range(base + lo, base + hi):
            ring[n] += rings[j, n]
            rings[j, n] = 0
    return lif_update(t, hi - lo, base + lo, ring, u[lo:hi], v[lo:hi], decay_u[lo:hi], decay_v[lo:hi], bias[lo:hi],
                      vth[lo:hi], arith, ref_period[lo:hi], ref_until[lo:hi], neuron_core[lo:hi], core_spikes,
                      fired_local, refr)


@numba.njit(cache=True, nogil=True, parallel=True)
def _run_spike_split(t0, n_steps, N, D, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core, run_ptr,
                     run_syn, post_bounds, run_delay, run_shift, run_post_base, run_packed, u, v, ring, core_spikes,
                     src_spikes, in_ptr, in_ids, probe, spikes, n_spk, trace_u, trace_v, fired, fired_t, cs_t, rings,
                     ev, refr):
    """:func:`_run_runs` on ``T = len(post_bounds) - 1`` threads for programs without slotted runs, two parallel
    regions per step: thread k adds the whole runs of its share of the step's spikes (cut so the shares hold
    about equal synapse counts: a source's runs are contiguous) into its own copy of the ring (thread 0: the
    shared ring); then thread k sums the copies' rows of its neuron range into the shared ring and updates
    those neurons. int32 sums wrap, so the ring holds the one-thread integers; a serial pass merges spikes as
    :func:`_run_post_split`. Work arrays (:func:`scratch`) as :func:`_run_post_split`'s, and ``rings``
    (max(T - 1, 1), D N) int32, zero (and left zero): threads 1 .. T-1's private ring copies; ``ev`` (len(fired)
    + 1) int64 with ``ev[0] = 0``: synapses of fired[0:f], cumulative."""
    T = post_bounds.shape[0] - 1
    C = core_spikes.shape[0]
    spk_step = spikes[:, 0]
    spk_src = spikes[:, 1]
    nf_t = np.zeros(T, np.int64)
    cut = np.zeros(T + 1, np.int64)                        # thread k delivers fired[cut[k]:cut[k+1]]
    row_off = np.empty(D, np.int64)
    for k in range(n_steps):
        t = t0 + k
        ring_rows(t, D, N, row_off)
        for th in numba.prange(T):
            nf_t[th] = _update_range(th, t, row_off[0], T, post_bounds, ring, rings, decay_u, decay_v, bias, vth, arith,
                                     ref_period, ref_until, neuron_core, u, v, cs_t[th], fired_t[th], refr)
        nf = _merge_record(k, t, N, T, post_bounds, fired_t, nf_t, fired, probe, u, v, trace_u, trace_v, in_ptr, in_ids,
                           spk_step, spk_src, n_spk, src_spikes)
        n_spk += nf
        for f in range(nf):
            s = fired[f]
            ev[f + 1] = ev[f] + run_syn[run_ptr[s + 1]] - run_syn[run_ptr[s]]
        f = 0
        for th in range(T):                                # shares of about ev[nf] / T synapses
            while f < nf and ev[f] * T < ev[nf] * th:
                f += 1
            cut[th] = f
        cut[T] = nf
        for th in numba.prange(T):
            _deliver_share(fired, cut[th], cut[th + 1], row_off, ring if th == 0 else rings[th - 1], run_ptr,
                           run_syn, run_delay, run_shift, run_post_base, run_packed)
    for j in range(T - 1):                                 # pending deliveries into the shared ring
        for n in range(D * N):
            ring[n] += rings[j, n]
            rings[j, n] = 0
    for th in range(T):
        for c in range(C):
            core_spikes[c] += cs_t[th, c]
            cs_t[th, c] = 0
    return n_spk


def _launch_threads() -> None:
    """Start numba's thread pool without fixing the process's multiprocessing start method: numba's start-up
    calls ``multiprocessing.get_start_method()``, which fixes it, and Lava's import then calls
    ``set_start_method('fork')`` and fails ("context has already been set") in the same process. Idle workers
    wait passively (:func:`emulator.threads.passive_wait`; an explicit ``threads=T`` run reaches here without the
    default's check of the threading layer, which sets it)."""
    import multiprocessing

    from numba.np.ufunc import parallel
    passive_wait()
    unset = multiprocessing.get_start_method(allow_none=True) is None
    parallel._launch_threads()
    ctx = getattr(multiprocessing.context, "_default_context", None)
    if unset and hasattr(ctx, "_actual_context"):
        ctx._actual_context = None




def run_chunk(p: Program, st: State, t0: int, n_steps: int, in_ptr: np.ndarray, in_ids: np.ndarray,
              probe: np.ndarray, out: ChunkOut) -> None:
    """Same contract as :func:`emulator.engine_numpy.run_chunk`. Programs with delivery runs
    (:func:`emulator.program.flatten`) run on ``len(p.post_bounds) - 1`` threads when
    :func:`emulator.program.split_runs` prepared them for more than one (else on the calling thread) and count
    spikes per source in ``st.src_spikes`` (:func:`add_link_spikes` turns them into ``st.link_spikes``);
    programs without runs walk the route entries (:func:`deliver`)."""
    if p.run_ptr is None:
        out.n_spikes = _run(t0, n_steps, p.n_neurons, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith,
                            p.ref_period, st.ref_until, p.neuron_core, p.src_ptr, p.route_axon, p.route_core,
                            p.src_core, p.syn_ptr, p.axon_delay, p.axon_slotted, p.syn_post, p.syn_delay, p.syn_add,
                            p.syn_slot, p.slot_post, p.slot_delay, p.slot_shift, st.u, st.v, st.ring.reshape(-1),
                            st.slot_acc, st.core_spikes, st.link_spikes, in_ptr, in_ids, probe, out.spikes,
                            out.n_spikes, out.trace_u, out.trace_v)
        return
    ring = st.ring.reshape(-1)
    N = p.n_neurons
    fired = scratch(st, "fired", N + in_ids.size, np.int64)
    if p.post_bounds is not None and p.post_bounds.shape[0] > 2:
        _launch_threads()
        T = p.post_bounds.shape[0] - 1
        numba.set_num_threads(min(T, numba.config.NUMBA_NUM_THREADS))
        fired_t = scratch(st, "fired_t", (T, N + 1), np.int64)
        cs_t = scratch(st, "cs_t", (T, p.n_cores), np.int64, zero=True)
        if p.run_slot.size == 0:
            out.n_spikes = _run_spike_split(
                t0, n_steps, N, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith, p.ref_period,
                st.ref_until, p.neuron_core, p.run_ptr, p.run_syn, p.post_bounds, p.run_delay, p.run_shift,
                p.run_post_base, p.run_packed, st.u, st.v, ring, st.core_spikes, st.src_spikes, in_ptr, in_ids, probe,
                out.spikes, out.n_spikes, out.trace_u, out.trace_v, fired, fired_t, cs_t,
                scratch(st, "rings", (max(T - 1, 1), ring.size), np.int32, zero=True),
                scratch(st, "ev", fired.size + 1, np.int64, zero=True), p.refractory)
            return
        out.n_spikes = _run_post_split(
            t0, n_steps, N, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith, p.ref_period,
            st.ref_until, p.neuron_core, p.run_ptr, p.run_split, p.post_bounds, p.run_delay, p.run_shift,
            p.run_post_base, p.run_packed, p.run_slot, p.src_notes, st.u, st.v, ring, st.slot_acc, st.slot_mark,
            st.core_spikes, st.src_spikes, in_ptr, in_ids, probe, out.spikes, out.n_spikes, out.trace_u, out.trace_v,
            fired, fired_t, cs_t, p.refractory)
        return
    out.n_spikes = _run_runs(t0, n_steps, N, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith,
                             p.ref_period, st.ref_until, p.neuron_core, p.run_ptr, p.run_syn, p.run_delay,
                             p.run_shift, p.run_post_base, p.run_packed, p.run_slot, p.src_notes, st.u, st.v, ring,
                             st.slot_acc, st.slot_mark, st.core_spikes, st.src_spikes, in_ptr, in_ids, probe,
                             out.spikes, out.n_spikes, out.trace_u, out.trace_v, fired, p.refractory)


def scratch(st: State, name: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """``st.scratch[name]``, a work array kept across chunks: one of at least ``shape`` (an int: length, grown
    to twice the need when short) or exactly ``shape`` (a tuple), new (zeros when ``zero``: the kernels
    leave such arrays zero) when the kept one does not fit."""
    a = st.scratch.get(name)
    if isinstance(shape, tuple):
        ok = a is not None and a.shape == shape
        size = shape
    else:
        ok = a is not None and a.shape[0] >= shape
        size = 2 * shape
    if not ok or a.dtype != dtype:
        a = np.zeros(size, dtype) if zero else np.empty(size, dtype)
        st.scratch[name] = a
    return a


def fold_link_spikes(p: Program, st: State) -> None:
    """Add the per-source spike counts of a run over delivery runs into ``st.link_spikes`` (exact: the
    route walk's per-spike, per-route counts) and clear them."""
    add_link_spikes(p.src_ptr, p.route_core, p.src_core, st.src_spikes, st.link_spikes)
