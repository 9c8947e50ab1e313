"""Learning engine ``homeostatic_stdp``: integer homeostatic STDP (seed 003, Carlson et al. 2013), and plain
nearest-neighbour STDP (rule ``nn_stdp``). One module: image schema, quantizer, state, numba kernel (the one
implementation of the equations below; the independent scalar oracle is ``tests/oracles/seed_rules.py``).

Float rule: :mod:`neuromap.plasticity.homeostatic_stdp` (and ``nn_stdp`` when
``learning["homeostasis"]`` is false). Integer state, per step t (1-based):

- ``ltp`` per synapse, ``ltd`` per post neuron: fine-weight units (weight mantissa * 2**WF);
  an arriving pre spike sets ``ltp = a_plus``; both decay every step,
  ``x <- round(x * keep / 2**16)`` (round half up); a post spike sets ``ltd = a_minus``
  *after* the weight update (ANNarchy's order).
- ``last_pre`` / ``last_post``: step of the neurons' last emitted spike (this step's included);
  ``stdp = ltp`` if ``last_post >= last_pre`` else ``-ltd``.
- rate estimate: ``count`` = the post neuron's spikes in the last ``window`` steps (int32,
  a 1-bit ring of ``window`` entries per neuron; ANNarchy's ``compute_firing_rate(T)``
  times T/1000 exactly).
- the rate-dependent factor and the homeostatic term come from compiler tables indexed by
  ``count`` (``KF = 30`` fraction bits): ``k_lut[c] = round(2**30 beta K(c))``,
  ``h_lut[c] = round(2**30 alpha (1 - R(c)/Rtarget) K(c))`` with ``R(c) = 1000 c / T`` Hz and
  ``K = R / (T (1 + |1 - R/Rtarget| gamma))``;
  ``w_fine += round((h_lut[c] * w_fine + k_lut[c] * stdp) / 2**30)`` (round half up);
  without homeostasis ``w_fine += stdp``.
- weights clip to ``[w_lo, w_hi]`` mantissas (``packing.clip_store``); the core sees ``round(w_fine / 2**WF)``.

Overflow: ``|h_lut| * 2**25 < 2**62`` needs ``|alpha (1 - R/Rtarget) K| < 64`` (checked by the compiler).

The numba kernel computes in int64 fixed point, round half up, fine weights ``mantissa * 2**16`` clipped to
``[w_lo, w_hi] * 2**16``, stored mantissas int32.

:func:`pack` flattens P projections (nn_stdp and homeostatic ones may mix) into one group tuple
(layout: :mod:`neuromap.learning_engines.packing`); :func:`step_fields` runs one step of all of them (the fused
plastic loop); :func:`step` (the per-step loop of either emulator engine, Lava) runs it on a one-projection group
through :func:`neuromap.learning_engines.packing.step_one`. The
group ends with two per-post scratch arrays: this step's ``h_lut``/``k_lut`` entries.

Speed: an all-to-all projection (:func:`layout`) runs as rows of contiguous synapses with the row's
pre or post values hoisted; each row is two branch-free loops over slices (trace decay, then weight
update) that LLVM vectorizes (AVX-512: 8 synapses per instruction). Without homeostasis the table
entries are ``h = 0``, ``k = 2**30``, which gives exactly ``w += stdp``, so both rules share the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from neuromap.errors import TargetError
from neuromap.learning_engines import packing
from neuromap.learning_engines.fixed import WF, Synapses
from neuromap.learning_engines.packing import arrive, cat, offsets, scatter
from neuromap.learning_engines.schema import (
    QuantizeContext,
    Quantized,
    SeedRuleSchema,
    bool_field,
    enum_field,
    int_field,
)

ENGINE = "homeostatic_stdp"
#: the post membrane v is not read
READS_V = False
KF = 30
NEVER = -(10 ** 9)
#: fine-weight amounts (a_plus, a_minus) stay below 2**40 so products with 2**30 tables fit int64
AMOUNT = 1 << 40


@dataclass(frozen=True, kw_only=True)
class Schema(SeedRuleSchema):
    """Image fields of ``homeostatic_stdp`` (``nn_stdp`` when ``homeostasis`` is false)."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {
        "k_lut": "int64[window + 1]: round(2**30 beta K(c)) per spike count c (homeostasis only)",
        "h_lut": "int64[window + 1]: round(2**30 alpha (1 - R(c)/Rtarget) K(c)) per spike count c (homeostasis only)"}
    engine: str = enum_field((ENGINE,), "engine name")
    rule: str = enum_field(("homeostatic_stdp", "nn_stdp"), "float rule the compiler converted")
    keep_plus: int = int_field(0, 1 << 16, "per-step retention of ltp, 16 fraction bits")
    keep_minus: int = int_field(0, 1 << 16, "per-step retention of ltd, 16 fraction bits")
    a_plus: int = int_field(-AMOUNT, AMOUNT, "ltp set by an arriving pre spike, fine-weight units")
    a_minus: int = int_field(-AMOUNT, AMOUNT, "ltd set by a post spike, fine-weight units")
    homeostasis: bool = bool_field("true: homeostatic_stdp (tables k_lut, h_lut); false: nn_stdp")
    window: int | None = int_field(1, 1 << 20, "rate window T, steps (homeostasis only)", optional=True)

    def check(self, where: str) -> None:
        super().check(where)
        if self.homeostasis != (self.window is not None):
            self.fail(where, "has window exactly when homeostasis is true: "
                      f"homeostasis={self.homeostasis}, window={self.window}")

    def array_names(self) -> tuple[str, ...]:
        return tuple(self.ARRAYS) if self.homeostasis else ()

    def check_arrays(self, arrays: dict, n_syn: int, where: str) -> None:
        super().check_arrays(arrays, n_syn, where)
        for name in self.array_names():
            if arrays[name].shape != (self.window + 1,):
                self.fail(where, f"array {name} has shape {arrays[name].shape}, expected ({self.window + 1},)")


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Integer fields and tables from the float rule parameters ``p`` (tau_plus, tau_minus, A_plus, A_minus
    in float weight units; homeostatic_stdp also T (ms), Rtarget (Hz), alpha, beta, gamma)."""
    dt, ws = ctx.dt, ctx.ws
    q.put("keep_plus", math.exp(-dt / p["tau_plus"]), 1 << 16)
    q.put("keep_minus", math.exp(-dt / p["tau_minus"]), 1 << 16)
    q.put("a_plus", p["A_plus"], ws * (1 << WF))
    q.put("a_minus", p["A_minus"], ws * (1 << WF))
    homeo = p["rule"] == "homeostatic_stdp"
    q.fields["homeostasis"] = homeo
    if homeo:
        T, rt = float(p["T"]), float(p["Rtarget"])
        window = max(int(T / dt), 1)
        q.fields["window"] = window
        r = (1000.0 / T) * np.arange(window + 1)
        k = r / (T * (1.0 + np.abs(1.0 - r / rt) * float(p["gamma"])))
        h = float(p["alpha"]) * (1.0 - r / rt) * k
        if np.max(np.abs(h)) >= 64 or np.max(np.abs(float(p["beta"]) * k)) >= 64:
            raise TargetError(f"{ctx.where}.plasticity: alpha/beta too large for the integer homeostatic_stdp engine "
                              "(|alpha (1 - R/Rtarget) K| and |beta K| must stay below 64 per step)")
        q.table("k_lut", float(p["beta"]) * k, 2.0 ** KF)
        q.table("h_lut", h, 2.0 ** KF)


@dataclass
class State:
    syn: Synapses
    ltp: np.ndarray          # int64 per synapse, fine weight units
    ltd: np.ndarray          # int64 per post neuron
    last_pre: np.ndarray     # int64 per pre neuron
    last_post: np.ndarray    # int64 per post neuron
    ring: np.ndarray | None  # bool (window, n_post)
    count: np.ndarray        # int64 per post neuron
    k_lut: np.ndarray | None
    h_lut: np.ndarray | None
    cfg: Schema
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def make_state(learning, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    """State of one projection; ``learning``: its :class:`Schema` (or image dict)."""
    cfg = Schema.from_dict(learning, f"{ENGINE} learning", fill_defaults=True)
    homeo = cfg.homeostasis
    window = cfg.window if homeo else 0
    return State(Synapses(cfg, n_pre, pre_idx, post_idx), np.zeros(len(pre_idx), np.int64), np.zeros(n_post, np.int64),
                 np.full(n_pre, NEVER, np.int64), np.full(n_post, NEVER, np.int64),
                 np.zeros((window, n_post), bool) if homeo else None, np.zeros(n_post, np.int64),
                 np.asarray(arrays["k_lut"], np.int64) if homeo else None,
                 np.asarray(arrays["h_lut"], np.int64) if homeo else None, cfg)


def step(learning, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    """One step t (1-based) of one projection: the numba kernel (:func:`step_fields`, this engine's one
    implementation); ``learning`` is ignored (the state holds its schema)."""
    packing.step_one(KERNEL, st, weights, pre_spikes, post_spikes, t)


#: index of the stored weights (int32) in a group tuple
WEIGHTS = 9
#: per-projection integer parameters, columns of the group's ``prm`` matrix (``layout``: :func:`layout`)
PARAMS = ("delay", "homeostasis", "window", "a_plus", "a_minus", "keep_plus", "keep_minus", "sign", "lo", "hi",
          "layout")
#: synapse layouts: any order (gathers through pre_idx/post_idx); ``q = post * n_pre + pre`` (rows per post
#: neuron); ``q = pre * n_post + post`` (rows per pre neuron) — all-to-all projections
ANY, POST_MAJOR, PRE_MAJOR = 0, 1, 2


def layout(pre_idx: np.ndarray, post_idx: np.ndarray, n_pre: int, n_post: int) -> int:
    """:data:`POST_MAJOR` or :data:`PRE_MAJOR` when the synapses are exactly all pre x post pairs in that
    order, else :data:`ANY`."""
    if pre_idx.size != n_pre * n_post or pre_idx.size == 0:
        return ANY
    pre, post = np.arange(n_pre), np.arange(n_post)
    if np.array_equal(pre_idx, np.tile(pre, n_post)) and np.array_equal(post_idx, np.repeat(post, n_pre)):
        return POST_MAJOR
    if np.array_equal(pre_idx, np.repeat(pre, n_post)) and np.array_equal(post_idx, np.tile(post, n_pre)):
        return PRE_MAJOR
    return ANY


def _params(st) -> list[int]:
    c = st.cfg
    return [c.delay, int(c.homeostasis), c.window if c.homeostasis else 0, c.a_plus, c.a_minus, c.keep_plus,
            c.keep_minus, c.sign, c.w_lo << 16, c.w_hi << 16,
            layout(st.syn.pre_idx, st.syn.post_idx, st.last_pre.size, st.last_post.size)]


def _parts(st) -> dict:
    """The state arrays a group concatenates, by group field."""
    empty_b, empty_i = np.zeros(0, bool), np.zeros(0, np.int64)
    return {"w_fine": st.syn.w_fine, "ltp": st.ltp, "last_pre": st.last_pre, "ltd": st.ltd,
            "last_post": st.last_post, "count": st.count, "dring": st.syn.delay.ring,
            "rring": st.ring if st.ring is not None else empty_b,
            "k_lut": st.k_lut if st.k_lut is not None else empty_i,
            "h_lut": st.h_lut if st.h_lut is not None else empty_i}


def pack(states, weights) -> tuple:
    """Group tuple of projections (engine states, int32 stored weights).
    Sets each state's fine weights from its stored weights if no step ran yet."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    parts = [_parts(st) for st in states]
    n_syn = [st.syn.pre_idx.size for st in states]
    n_pre = [st.last_pre.size for st in states]
    n_post = [st.last_post.size for st in states]
    syn_off, pre_off, post_off = offsets(n_syn), offsets(n_pre), offsets(n_post)
    dr_off = offsets([p["dring"].size for p in parts])
    rr_off = offsets([p["rring"].size for p in parts])
    lut_off = offsets([p["k_lut"].size for p in parts])
    pre_idx = cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64)
    post_idx = cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64)
    prm = np.array([_params(st) for st in states], np.int64).reshape(len(states), len(PARAMS))
    f = {k: cat([p[k] for p in parts], np.bool_ if k in ("dring", "rring") else np.int64)
         for k in ("w_fine", "ltp", "last_pre", "ltd", "last_post", "count", "dring", "rring", "k_lut", "h_lut")}
    return (syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx,
            cat(list(weights), np.int32), f["w_fine"], f["ltp"], f["last_pre"], np.zeros(pre_off[-1], np.bool_),
            f["ltd"], f["last_post"], f["count"], f["dring"], f["rring"], f["k_lut"], f["h_lut"],
            np.zeros(post_off[-1], np.int64), np.zeros(post_off[-1], np.int64))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    names = ("w_fine", "ltp", "last_pre", None, "ltd", "last_post", "count", "dring", "rring")
    parts = [_parts(st) for st in states]
    for k, name in enumerate(names):
        if name is not None:
            scatter(g[10 + k], [p[name] for p in parts])


@numba.njit(inline="always")
def _update(x, s, w, h, k, lo, hi, sign):
    """Weight step of one synapse: (new fine weight, stored mantissa). ``x``: its decayed ltp,
    ``s``: its STDP term, ``h``/``k``: the post neuron's table entries (0 and 2**30 without homeostasis:
    then ``(2**30 s + 2**29) >> 30 = s`` exactly, the plain ``w += s``)."""
    w += (h * w + k * s + (1 << 29)) >> 30
    w = lo if w < lo else (hi if w > hi else w)              # clip_store's order
    return w, sign * ((w + 32768) >> 16)


@numba.njit(inline="always")
def _post_row(q0, n, p0, kp, a_plus, lp, nltd, h, k, lo, hi, sign, arr, ltp, last_pre, w_fine, weights):
    """Synapses ``q0 .. q0+n-1`` of one post neuron from pre ``p0 .. p0+n-1``: two branch-free loops (one
    fused loop does not vectorize) on uint64 indices (no negative-index wrap; no slices, which numba
    reference-counts)."""
    qb, pb = np.uint64(q0), np.uint64(p0)
    for u in range(np.uint64(n)):
        ltp[qb + u] = ((a_plus if arr[pb + u] else ltp[qb + u]) * kp + 32768) >> 16
    for u in range(np.uint64(n)):
        q = qb + u
        x = ltp[q]
        w, m = _update(x, x if lp >= last_pre[pb + u] else nltd, w_fine[q], h, k, lo, hi, sign)
        w_fine[q] = w
        weights[q] = m


@numba.njit(inline="always")
def _pre_row(q0, n, m0, kp, a_plus, a, lpre, hh, kk, ltd, lo, hi, sign, ltp, last_post, w_fine, weights):
    """Synapses ``q0 .. q0+n-1`` of one pre neuron to posts ``m0 .. m0+n-1`` (``a``: its spike arrives)."""
    qb, mb = np.uint64(q0), np.uint64(m0)
    for u in range(np.uint64(n)):
        ltp[qb + u] = ((a_plus if a else ltp[qb + u]) * kp + 32768) >> 16
    for u in range(np.uint64(n)):
        q, m = qb + u, mb + u
        x = ltp[q]
        nltd = -ltd[m]
        w, wm = _update(x, x if last_post[m] >= lpre else nltd, w_fine[q], hh[m], kk[m], lo, hi, sign)
        w_fine[q] = w
        weights[q] = wm


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx, weights, w_fine,
                ltp, last_pre, arr, ltd, last_post, count, dring, rring, k_lut, h_lut, hh, kk, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of a group, its fields as separate arguments (in :func:`pack`'s
    order), then this step's pre/post spikes. Separate arguments, for the compiled time loops and the per-step
    path alike (numba reference-counts, atomically, every array taken out of a tuple and every argument of an
    inlined call whose body has loops; a plain call's arguments are not counted).
    Synapses of a projection in :data:`POST_MAJOR` / :data:`PRE_MAJOR` layout run as contiguous rows
    with the row's per-neuron values hoisted; any other layout gathers through ``pre_idx``/``post_idx``."""
    for j in range(prm.shape[0]):
        d = prm[j, 0]
        homeo = prm[j, 1]
        window = prm[j, 2]
        a_plus = prm[j, 3]
        a_minus = prm[j, 4]
        kp = prm[j, 5]
        km = prm[j, 6]
        sign = prm[j, 7]
        lo = prm[j, 8]
        hi = prm[j, 9]
        layout = prm[j, 10]
        p0 = pre_off[j]
        n_pre = pre_off[j + 1] - p0
        arrive(t, d, p0, n_pre, dr_off[j], pre_spk, arr, dring)
        pb = np.uint64(p0)
        for i in range(np.uint64(n_pre)):
            last_pre[pb + i] = t if pre_spk[pb + i] else last_pre[pb + i]
        m0 = post_off[j]
        n_post = post_off[j + 1] - m0
        rbase = rr_off[j] + ((t - 1) % window) * n_post if homeo else 0
        lb = lut_off[j]
        for m in range(m0, m0 + n_post):
            if post_spk[m]:
                last_post[m] = t
            ltd[m] = (ltd[m] * km + 32768) >> 16
            if homeo:
                r = rbase + m - m0
                if rring[r]:
                    count[m] -= 1
                if post_spk[m]:
                    count[m] += 1
                rring[r] = post_spk[m]
                hh[m] = h_lut[lb + count[m]]
                kk[m] = k_lut[lb + count[m]]
            else:
                hh[m] = 0
                kk[m] = 1 << 30
        s0 = syn_off[j]
        if layout == POST_MAJOR:
            for mm in range(n_post):
                m = m0 + mm
                _post_row(s0 + mm * n_pre, n_pre, p0, kp, a_plus, last_post[m], -ltd[m], hh[m], kk[m], lo, hi,
                          sign, arr, ltp, last_pre, w_fine, weights)
        elif layout == PRE_MAJOR:
            for ii in range(n_pre):
                i = p0 + ii
                _pre_row(s0 + ii * n_post, n_post, m0, kp, a_plus, arr[i], last_pre[i], hh, kk, ltd, lo, hi, sign,
                         ltp, last_post, w_fine, weights)
        else:
            for q in range(s0, syn_off[j + 1]):
                i = pre_idx[q]
                m = post_idx[q]
                old = ltp[q]
                x = ((a_plus if arr[i] else old) * kp + 32768) >> 16
                ltp[q] = x
                nltd = -ltd[m]
                w, wm = _update(x, x if last_post[m] >= last_pre[i] else nltd, w_fine[q], hh[m], kk[m],
                                lo, hi, sign)
                w_fine[q] = w
                weights[q] = wm
        for m in range(m0, m0 + n_post):
            if post_spk[m]:
                ltd[m] = a_minus


#: the fused plastic loop's view of this engine (:mod:`neuromap.learning_engines.packing`)
KERNEL = packing.Kernel(pack=pack, unpack=unpack, step_fields=step_fields, n_fields=23,
                        weights=WEIGHTS, projections=6)
