"""Flat layouts of several projections' seed-rule states for the engines' numba kernels, and the
:class:`Kernel` record through which the fused plastic loop (:mod:`emulator.plastic_numba`) runs them.

A *group* concatenates the arrays of P projections that use one engine: per-synapse, per-pre and
per-post arrays end to end, with int64 offset arrays (length P + 1) marking each projection's
range. Pre/post indices are stored as uint64 indices into the concatenated arrays (unsigned: numba
then skips its negative-index check on the gathers). With P = 1 the group
holds the projection's own arrays (views, updated in place); otherwise :func:`scatter` copies the
concatenated values back into each projection's arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np


@dataclass(frozen=True)
class Kernel:
    """How the fused plastic loop runs an engine's numba kernel on a *group* (all its projections of an image).

    ``pack(states, weights) -> tuple``: the group tuple of the projections' states and int32 stored weights
    (``n_fields`` arrays); ``unpack(group, states, weights)``: copies the group back into the states;
    ``step_fields(t, *group, pre_spk, post_spk)``: one step (``t`` 1-based) of every projection, the group's
    arrays as separate arguments (an @njit function; used by the fused loop and the per-step path alike: numba
    types each array argument in C, but a tuple argument in Python, ~0.1 ms per call). Positions in the group:
    ``weights`` (int32 stored weights of all projections, concatenated), ``syn_off`` (int64[P + 1] synapse
    offsets) and ``projections`` (an array with one row per projection, e.g. the parameter matrix).
    ``reads_v``: the kernel takes a third spike-side argument, ``post_v`` (int64, the post neurons' v after the
    step, concatenated like ``post_spk``)."""

    pack: Callable
    unpack: Callable
    step_fields: Callable
    n_fields: int
    weights: int
    projections: int
    syn_off: int = 0
    reads_v: bool = False


def cat(arrays, dtype) -> np.ndarray:
    """Concatenation of the flattened ``arrays`` as ``dtype``; a single contiguous array of that dtype is
    returned as a flat view (so the kernels update it in place)."""
    if len(arrays) == 1:
        a = arrays[0]
        if a.dtype == dtype and a.flags.c_contiguous:
            return a if a.ndim == 1 else a.reshape(-1)
    if not arrays:
        return np.zeros(0, dtype)
    return np.ascontiguousarray(np.concatenate([np.asarray(a, dtype).reshape(-1) for a in arrays]), dtype=dtype)


def offsets(sizes) -> np.ndarray:
    """int64[P + 1]: running sum of ``sizes`` from 0."""
    out = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(np.asarray(sizes, np.int64), out=out[1:])
    return out


def scatter(flat: np.ndarray, parts) -> None:
    """Copy ``flat`` (a :func:`cat` result) back into ``parts`` (no-op for parts it views)."""
    o = 0
    for a in parts:
        n = a.size
        if not np.shares_memory(a, flat):
            a.reshape(-1)[:] = flat[o:o + n]
        o += n


def step_one(kernel: Kernel, st, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
             t: int, post_v: np.ndarray | None = None) -> None:
    """One step of one projection through its engine's :class:`Kernel` (an engine's ``step``: the kernel is
    the engine's one implementation, run by the per-step loop, the fused loop and Lava alike). The
    one-projection group is cached in ``st.nb``; it views the state's arrays, so the state stays current. If
    ``weights`` is not a flat int32 array the group held a copy: it is written back and the cache dropped."""
    if st.nb is None or st.nb[kernel.weights] is not weights:
        st.nb = kernel.pack([st], [weights])
    pre = np.ascontiguousarray(pre_spikes, np.bool_)
    post = np.ascontiguousarray(post_spikes, np.bool_)
    # the fields as separate arguments: numba types each array argument in C, a tuple argument in Python
    # (~0.1 ms per call for a 13-array group)
    if kernel.reads_v:
        kernel.step_fields(int(t), *st.nb, pre, post, np.ascontiguousarray(post_v, np.int64))
    else:
        kernel.step_fields(int(t), *st.nb, pre, post)
    if st.nb[kernel.weights] is not weights:
        weights[:] = st.nb[kernel.weights]
        st.nb = None


@numba.njit(inline="always")
def arrive(t, d, p0, n_pre, dr_base, pre_spk, arr, dring):
    """Pre delay line of one projection (``fixed.PreDelay``): ``arr[p0:p0+n_pre]`` <- the spikes that reach
    the synapses at step ``t`` (emitted ``d`` steps earlier), ``dring`` (``d`` rows of ``n_pre`` from
    ``dr_base``) <- this step's ``pre_spk``. (uint64 indices: numba then has no negative-index wrap to
    emit, and the loops vectorize; slices would cost two atomic reference counts each.)"""
    pb, n = np.uint64(p0), np.uint64(n_pre)
    if d == 0:
        for i in range(n):
            arr[pb + i] = pre_spk[pb + i]
    else:
        base = np.uint64(dr_base + (t % d) * n_pre)
        for i in range(n):
            arr[pb + i] = dring[base + i]
        for i in range(n):
            dring[base + i] = pre_spk[pb + i]


@numba.njit(inline="always")
def clip_store(q, w, lo, hi, sign, w_fine, weights):
    """Clip fine weight ``w`` to [lo, hi] into ``w_fine[q]``; stored mantissa ``sign * round(w / 2**16)``."""
    if w < lo:
        w = lo
    elif w > hi:
        w = hi
    w_fine[q] = w
    weights[q] = sign * ((w + 32768) >> 16)
