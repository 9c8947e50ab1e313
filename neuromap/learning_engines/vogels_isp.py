"""Learning engine ``vogels_isp``: integer inhibitory STDP with a target rate (seed 004, Vogels et al. 2011).
One module: image schema, quantizer, state, numba kernel (the one implementation of the equations below; the
independent scalar oracle is ``tests/oracles/seed_rules.py``).

Float rule: :mod:`neuromap.plasticity.vogels_isp`. The engine learns the inhibitory
*magnitude* J = ``sign * weight`` (``learning["sign"] = -1`` for an inhibitory projection).
Integer state, per step t (1-based):

- traces ``x_pre`` per synapse, ``x_post`` per post neuron: unsigned 16 bit, ``XF = 12``
  fraction bits (one spike = 4096), saturating at 65535; every step
  ``x <- round(x * keep / 2**16)`` (round half up), then +4096 per own spike
  (pre: spikes reaching the synapse; the post trace read by (V1) is the one *before* this
  step's post spikes);
- ``d = [pre arrived] (x_post_before - alpha) + [post spiked] x_pre`` in trace units, with
  ``alpha = round(2**12 * 2 rho0 tau_stdp / 1000)``;
- additive: ``w_fine += round(eta * d / 2**12)``, ``eta`` in fine-weight units per spike
  (``eta_float * weight scale * 2**WF``);
  multiplicative (``f(J) = J``): ``w_fine += round(eta_m * d * w_fine / 2**(12 + 16))``,
  ``eta_m = round(2**16 eta_float)``;
- clip to ``[w_lo, w_hi]`` mantissas; the core sees ``round(w_fine / 2**WF)``.

:func:`step` runs the numba kernel (:func:`step_fields`) on a one-projection group; :func:`pack` flattens P
projections into one group tuple (layout: :mod:`neuromap.learning_engines.packing`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from neuromap.learning_engines import packing
from neuromap.learning_engines.fixed import AF, TRACE_MAX, WF, XF, Synapses
from neuromap.learning_engines.packing import arrive, cat, clip_store, offsets, scatter
from neuromap.learning_engines.schema import (
    QuantizeContext,
    Quantized,
    SeedRuleSchema,
    bool_field,
    enum_field,
    int_field,
)

ENGINE = "vogels_isp"
#: the post membrane v is not read
READS_V = False
#: eta (fine-weight units per trace unit) stays below 2**40 so eta * d fits int64
AMOUNT = 1 << 40


@dataclass(frozen=True, kw_only=True)
class Schema(SeedRuleSchema):
    """Image fields of ``vogels_isp`` (``eta`` when additive, ``eta_m`` when multiplicative; the compiler writes
    only the one the rule uses, the engine reads only that one)."""

    ENGINE: ClassVar[str] = ENGINE
    engine: str = enum_field((ENGINE,), "engine name")
    rule: str = enum_field((ENGINE,), "float rule the compiler converted")
    keep: int = int_field(0, 1 << 16, "per-step retention of both traces, 16 fraction bits")
    alpha: int = int_field(0, 1 << 20, "depression offset 2 rho0 tau_stdp / 1000, XF = 12 fraction bits")
    multiplicative: bool = bool_field("weight dependence: true f(J) = J (eta_m), false additive (eta)")
    eta: int | None = int_field(-AMOUNT, AMOUNT, "additive rate, fine-weight units per spike", optional=True)
    eta_m: int | None = int_field(-(1 << 24), 1 << 24, "multiplicative rate, AF = 16 fraction bits", optional=True)

    def check(self, where: str) -> None:
        super().check(where)
        need = "eta_m" if self.multiplicative else "eta"
        if getattr(self, need) is None:
            self.fail(where, f"with multiplicative={self.multiplicative} has no {need}")


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Integer fields from the float rule parameters ``p`` (tau_stdp ms, rho0 Hz, eta, weight_dependence)."""
    q.put("keep", math.exp(-ctx.dt / p["tau_stdp"]), 1 << 16)
    q.put("alpha", 2.0 * p["rho0"] * p["tau_stdp"] / 1000.0, 1 << XF)
    q.fields["multiplicative"] = p["weight_dependence"] == "multiplicative"
    if q.fields["multiplicative"]:
        q.put("eta_m", p["eta"], 1 << AF)
    else:
        q.put("eta", p["eta"], ctx.ws * (1 << WF))


@dataclass
class State:
    syn: Synapses
    x_pre: np.ndarray        # int64 per synapse, XF fixed point
    x_post: np.ndarray       # int64 per post neuron
    cfg: Schema
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def make_state(learning, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    """State of one projection; ``learning``: its :class:`Schema` (or image dict)."""
    cfg = Schema.from_dict(learning, f"{ENGINE} learning", fill_defaults=True)
    return State(Synapses(cfg, n_pre, pre_idx, post_idx), np.zeros(len(pre_idx), np.int64), np.zeros(n_post, np.int64),
                 cfg)


def step(learning, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    """One step t (1-based) of one projection: the numba kernel (:func:`step_fields`, this engine's one
    implementation); ``learning`` is ignored (the state holds its schema)."""
    packing.step_one(KERNEL, st, weights, pre_spikes, post_spikes, t)


#: index of the stored weights (int32) in a group tuple
WEIGHTS = 7
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "keep", "alpha", "multiplicative", "eta", "eta_m", "sign", "lo", "hi")


def _params(c: Schema) -> list[int]:
    mult = c.multiplicative
    return [c.delay, c.keep, c.alpha, int(mult), 0 if mult else c.eta, c.eta_m if mult else 0, c.sign, c.w_lo << 16,
            c.w_hi << 16]


def pack(states, weights) -> tuple:
    """Group tuple of projections (engine states, int32 stored weights)."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    n_pre = [st.syn.delay.ring.shape[1] for st in states]
    syn_off = offsets([st.syn.pre_idx.size for st in states])
    pre_off = offsets(n_pre)
    post_off = offsets([st.x_post.size for st in states])
    dr_off = offsets([st.syn.delay.ring.size for st in states])
    prm = np.array([_params(st.cfg) for st in states], np.int64).reshape(len(states), len(PARAMS))
    return (syn_off, pre_off, post_off, dr_off, prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), cat([st.syn.w_fine for st in states], np.int64),
            cat([st.x_pre for st in states], np.int64), cat([st.x_post for st in states], np.int64),
            np.zeros(pre_off[-1], np.bool_), cat([st.syn.delay.ring for st in states], np.bool_))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    scatter(g[8], [st.syn.w_fine for st in states])
    scatter(g[9], [st.x_pre for st in states])
    scatter(g[10], [st.x_post for st in states])
    scatter(g[12], [st.syn.delay.ring for st in states])


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, prm, pre_idx, post_idx, weights, w_fine, x_pre, x_post, arr,
                dring, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of a group, its fields as separate arguments (in :func:`pack`'s
    order); ``pre_spk``/``post_spk``: bool spikes emitted this step, concatenated per projection like the group's
    pre/post arrays."""
    one = 1 << XF
    for j in range(prm.shape[0]):
        d = prm[j, 0]
        keep = prm[j, 1]
        alpha = prm[j, 2]
        mult = prm[j, 3]
        eta = prm[j, 4]
        eta_m = prm[j, 5]
        sign = prm[j, 6]
        lo = prm[j, 7]
        hi = prm[j, 8]
        p0 = pre_off[j]
        n_pre = pre_off[j + 1] - p0
        arrive(t, d, p0, n_pre, dr_off[j], pre_spk, arr, dring)
        m0 = post_off[j]
        m1 = post_off[j + 1]
        for m in range(m0, m1):
            x_post[m] = (x_post[m] * keep + 32768) >> 16       # decayed; the (V1) value this step
        for q in range(syn_off[j], syn_off[j + 1]):
            i = pre_idx[q]
            m = post_idx[q]
            x = (x_pre[q] * keep + 32768) >> 16
            dd = 0
            if arr[i]:
                x = min(x + one, TRACE_MAX)
                dd = x_post[m] - alpha
            x_pre[q] = x
            if post_spk[m]:
                dd += x
            w = w_fine[q]
            if mult:
                w += (eta_m * dd * w + (1 << 27)) >> 28
            else:
                w += (eta * dd + (1 << 11)) >> 12
            clip_store(q, w, lo, hi, sign, w_fine, weights)
        for m in range(m0, m1):
            if post_spk[m]:
                x_post[m] = min(x_post[m] + one, TRACE_MAX)


#: the fused plastic loop's view of this engine (:mod:`neuromap.learning_engines.packing`)
KERNEL = packing.Kernel(pack=pack, unpack=unpack, step_fields=step_fields, n_fields=13,
                        weights=WEIGHTS, projections=4)
