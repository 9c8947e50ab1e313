"""Example learning engine ``pre_trace_hebb``: a complete engine in one module (docs/learning.md, "Adding a
learning engine"). Registering it (:func:`neuromap.learning_engines.register`) is all it takes for images
naming it to verify, emulate (the per-step loop of either emulator engine and the fused numba loop both run its
one numba kernel) and run in Lava (``NeuromapPlasticSparse``); tests/learning/test_engine_example.py does exactly
that, against hand-computed steps and a scalar reference written from the rule below.

The rule (integer, per step t, 1-based; ``rhu(x, n) = (x + 2**(n-1)) >> n``, round half up):

- per synapse a pre trace ``x`` (XF = 12 fraction bits, 1 spike = 4096, unsigned 16 bit):
  ``x <- rhu(x * keep, 16)``, then ``x <- min(x + 4096, 65535)`` when a pre spike arrives
  (``delay`` steps after it was emitted);
- a post spike potentiates every synapse of that post neuron: ``w <- w + rhu(eta * x, 12)`` (``eta`` in
  fine-weight units per spike of trace); fine weights ``w = sign * stored * 2**16``, clipped to
  ``[w_lo, w_hi] * 2**16``, stored as ``sign * rhu(w, 16)``.

Float parameters (:func:`quantize`): ``tau`` (ms, trace time constant) and ``eta`` (float weight units per
spike of trace).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from neuromap.learning_engines import packing
from neuromap.learning_engines.fixed import TRACE_MAX, WF, XF, Synapses, rshift_round
from neuromap.learning_engines.packing import arrive, cat, clip_store, offsets, scatter
from neuromap.learning_engines.schema import QuantizeContext, Quantized, SeedRuleSchema, enum_field, int_field

ENGINE = "pre_trace_hebb"
READS_V = False


@dataclass(frozen=True, kw_only=True)
class Schema(SeedRuleSchema):
    """Image fields of ``pre_trace_hebb`` (besides the seed-rule fields: sign, delay, w_lo, w_hi, wf, af, xf)."""

    ENGINE: ClassVar[str] = ENGINE
    engine: str = enum_field((ENGINE,), "engine name")
    rule: str = enum_field((ENGINE,), "float rule")
    keep: int = int_field(0, 1 << 16, "per-step retention of the pre trace, 16 fraction bits")
    eta: int = int_field(-(1 << 40), 1 << 40, "potentiation per spike of trace, fine-weight units")


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Integer fields from the float parameters ``p`` (tau ms, eta float weight units per spike)."""
    q.put("keep", math.exp(-ctx.dt / p["tau"]), 1 << 16)
    q.put("eta", p["eta"], ctx.ws * (1 << WF))


@dataclass
class State:
    syn: Synapses
    x: np.ndarray            # int64 per synapse, XF fixed point
    n_post: int
    cfg: Schema
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> State:
    cfg = Schema.from_dict(learning, f"{ENGINE} learning", fill_defaults=True)
    return State(Synapses(cfg, n_pre, pre_idx, post_idx), np.zeros(len(pre_idx), np.int64), n_post, cfg)


def step(learning, st: State, weights, pre_spikes, post_spikes, t, post_v=None) -> None:
    """One step t (1-based) of one projection: the numba kernel below, the engine's one implementation."""
    packing.step_one(KERNEL, st, weights, pre_spikes, post_spikes, t)


# ------------------------------------------------------------------ the numba kernel
WEIGHTS = 6


def pack(states, weights) -> tuple:
    """Group tuple: syn_off, pre_off, post_off, delay-ring offsets, parameter rows, pre_idx, weights, fine weights,
    traces, post_idx, arrival buffer, delay rings."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    pre_off = offsets([st.syn.delay.ring.shape[1] for st in states])
    post_off = offsets([st.n_post for st in states])
    prm = np.array([[c.delay, c.keep, c.eta, c.sign, c.w_lo << 16, c.w_hi << 16] for c in (st.cfg for st in states)],
                   np.int64).reshape(len(states), 6)
    return (offsets([st.syn.pre_idx.size for st in states]), pre_off, post_off,
            offsets([st.syn.delay.ring.size for st in states]), prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), cat([st.syn.w_fine for st in states], np.int64),
            cat([st.x for st in states], np.int64),
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            np.zeros(pre_off[-1], np.bool_), cat([st.syn.delay.ring for st in states], np.bool_))


def unpack(g: tuple, states, weights) -> None:
    scatter(g[WEIGHTS], weights)
    scatter(g[7], [st.syn.w_fine for st in states])
    scatter(g[8], [st.x for st in states])
    scatter(g[11], [st.syn.delay.ring for st in states])


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, prm, pre_idx, weights, w_fine, x, post_idx, arr, dring,
                pre_spk, post_spk):
    for j in range(prm.shape[0]):
        d, keep, eta, sign, lo, hi = prm[j, 0], prm[j, 1], prm[j, 2], prm[j, 3], prm[j, 4], prm[j, 5]
        p0 = pre_off[j]
        arrive(t, d, p0, pre_off[j + 1] - p0, dr_off[j], pre_spk, arr, dring)
        for q in range(syn_off[j], syn_off[j + 1]):
            xq = rshift_round(x[q] * keep, 16)
            if arr[pre_idx[q]]:
                xq = min(xq + (1 << XF), TRACE_MAX)
            x[q] = xq
            w = w_fine[q]
            if post_spk[post_idx[q]]:
                w += rshift_round(eta * xq, XF)
            clip_store(q, w, lo, hi, sign, w_fine, weights)


KERNEL = packing.Kernel(pack=pack, unpack=unpack, step_fields=step_fields, n_fields=12,
                        weights=WEIGHTS, projections=4)
