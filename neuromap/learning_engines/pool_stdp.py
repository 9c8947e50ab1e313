"""Learning engine ``pool_stdp``: integer receptor-pool-bounded STDP (seed 000, Nikitin et al. 2019).
One module: image schema, quantizer, state, numba kernel (the one implementation of the equations below; the
independent scalar oracle is ``tests/oracles/seed_rules.py``).

Float rule and equation labels (P1)-(P17): :mod:`neuromap.plasticity.pool_stdp`. Units:

- weights, pools, pot/dep/use/degr/supply/prod: fine-weight units (mantissa * 2**WF, WF = 16);
  pools ``pw`` (dendrite) and ``pw_soma`` are int64 saturated to ``0..POOL_MAX = 2**36 - 1``;
- calcium ``c_dend``, ``c_soma``: the float model's calcium with ``CF = 12`` fraction bits,
  saturated to ``0..c_max`` (the end of the compiler's tables);
- STDP traces ``x_pre`` (per synapse) and ``y_post`` (per post neuron): ``XF = 12`` fraction
  bits, set to 4096 at a spike (nearest-spike), ``x <- round(x * keep / 2**16)`` per step;
- coefficients a_plus, a_minus, alpha_r, k_pw, alpha_ss: ``AF = 16`` fraction bits;
- ``S`` (P7) from table ``s_lut`` (SF = 16 fraction bits), ``decay(C)`` (P14) from ``decay_lut``
  (calcium units), soma production (P11, functional or secretion) from ``prod_lut`` (fine-weight
  units per step); all indexed by calcium every 2**-8 with linear interpolation.

Per step (right-hand sides read the values at the start of the step, except the traces: ``x_pre`` is
decayed and set by this step's arrivals before P2 reads it, ``y_post`` is decayed (not yet set by this
step's post spike) before the depression reads it; the exact order is docs/quantization.md, *One step of
an engine, precisely*; round half up unless stated):

  x      = [arrived] w;  x_sum = sum x                                          (P1)
  pot    = [post spiked] round((w_hi - w) a_plus x_pre / 2**28)                 (P2, P3)
  dep    = [arrived]     round((w - w_lo) a_minus y_post / 2**28)
  cap    if sum pot > max(pw, 0): pot <- floor(pot * max(pw, 0) / sum pot)       (P4: never exceeds the pool)
  use    = sum pot - round(alpha_r sum dep / 2**16)                             (P5)
  degr   = round(k_pw x_sum / 2**16)                                            (P6)
  want   = -round(S(c_dend) (pw - use - degr - pw_set) / 2**16); demand = max(want, 0)   (P7, P8)
  supply = min(demand, pw_soma)                                                 (P9)
  pw     <- pw + supply - use - degr  (conserve) | pw + (supply if demand > 0 else -use - degr) (P10)
  pw_soma<- pw_soma - supply + round(prod(c_soma) secr_scale / 2**16)           (P11)
  ratio  = floor(goal * 2**16 / sum w)  (2**16 if sum w = 0); 1 - ratio saturated at -15
  ss     = round(alpha_ss w (2**16 - ratio) / 2**32)                            (P16)
  w      <- clip(w + pot - dep - round(k_pw x / 2**16) - ss, w_lo, w_hi)          (P15, P17)
  c_dend <- c_dend + round(x_sum c_per_w / 2**32) - decay(c_dend)               (P12)
  c_soma <- c_soma + k_cg [post spiked] - decay(c_soma)                         (P13)

``goal`` is ``learning["w_goal"]`` (fine units) or, when 0, each post neuron's initial sum. ``secr_scale``
(per post neuron, 16 fraction bits) is ``2**16`` (the identity: the table holds the whole production) unless an
embedded-core controller writes it (:mod:`neuromap.embedded`: ``pool_esn``'s ESN sets the secretion factor
sigmoid(k_secr) - 0.5 per neuron; the table then holds alpha_secr (1 - sigmoid(c))).

:func:`step` runs the numba kernel (:func:`step_fields`) on a one-projection group (floor for the pool cap and
the scaling ratio); :func:`pack` flattens P projections into one group tuple (layout:
:mod:`neuromap.learning_engines.packing`; per-post scratch sums and per-synapse pot/dep buffers at the end).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from neuromap.learning_engines import packing
from neuromap.learning_engines.fixed import AF, LUT_F, WF, XF, Synapses, lut_interp, rshift_round, seg_sum
from neuromap.learning_engines.packing import arrive, cat, clip_store, offsets, scatter
from neuromap.learning_engines.schema import QuantizeContext, Quantized, SeedRuleSchema, enum_field, int_field

ENGINE = "pool_stdp"
#: the post membrane v is not read
READS_V = False
CF = 12
SF = 16
RF = 16
CS = 32
POOL_MAX = (1 << 36) - 1
#: calcium tables end at most here (calcium units)
C_CAP = 32.0
#: coefficients (AF fraction bits) and pool amounts (fine-weight units) stay below this
AMOUNT = 1 << 40
#: ``secr_scale`` of an uncontrolled neuron (16 fraction bits): production = the table's value, exactly
SECR_ONE = 1 << 16
#: |prod_lut| stays below this, so that prod_lut * secr_scale (|secr_scale| <= 2**16) fits int64
PROD_MAX = 1 << 46


@dataclass(frozen=True, kw_only=True)
class Schema(SeedRuleSchema):
    """Image fields of ``pool_stdp``."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {
        "s_lut": "int64: S(c) (P7) every 2**-8 calcium unit, SF = 16 fraction bits",
        "decay_lut": "int64: decay(c) (P14) every 2**-8 calcium unit, calcium units (CF = 12 fraction bits)",
        "prod_lut": "int64: soma production (P11) every 2**-8 calcium unit, fine-weight units per step"}
    engine: str = enum_field((ENGINE,), "engine name")
    rule: str = enum_field((ENGINE, "pool_esn"), "float rule the compiler converted (pool_esn: an embedded-core "
                           "controller sets secr_scale, neuromap.embedded.esn_q)")
    keep_plus: int = int_field(0, 1 << 16, "per-step retention of x_pre, 16 fraction bits")
    keep_minus: int = int_field(0, 1 << 16, "per-step retention of y_post, 16 fraction bits")
    a_plus: int = int_field(-AMOUNT, AMOUNT, "potentiation coefficient (P2), AF = 16 fraction bits")
    a_minus: int = int_field(-AMOUNT, AMOUNT, "depression coefficient (P3), AF = 16 fraction bits")
    alpha_r: int = int_field(-AMOUNT, AMOUNT, "pool return of depression (P5), AF = 16 fraction bits")
    k_pw: int = int_field(-AMOUNT, AMOUNT, "receptor degradation (P6, P15), AF = 16 fraction bits")
    alpha_ss: int = int_field(-AMOUNT, AMOUNT, "synaptic scaling rate (P16), AF = 16 fraction bits")
    pw_init: int = int_field(0, POOL_MAX, "initial dendritic pool, fine-weight units")
    pw_soma_init: int = int_field(0, POOL_MAX, "initial soma pool, fine-weight units")
    pw_set: int = int_field(-POOL_MAX, POOL_MAX, "pool set point (P7), fine-weight units")
    w_goal: int = int_field(0, 1 << 62, "scaling goal per post neuron, fine-weight units (0: the initial sum)")
    k_cg: int = int_field(0, 1 << 40, "calcium per post spike (P13), CF = 12 fraction bits")
    c_per_w: int = int_field(0, 1 << 62, "calcium per fine-weight unit (P12), CS + CF = 44 fraction bits")
    pool_update: str = enum_field(("conserve", "literal"),
                                  "pool update (P10): supply and use always both apply, or the seed's case split")

    def check_arrays(self, arrays: dict, n_syn: int, where: str) -> None:
        super().check_arrays(arrays, n_syn, where)
        if len({arrays[k].shape for k in self.ARRAYS}) != 1:
            self.fail(where, "tables s_lut, decay_lut, prod_lut have different lengths")
        if arrays["prod_lut"].size and int(np.abs(arrays["prod_lut"]).max()) >= PROD_MAX:
            self.fail(where, f"prod_lut entries reach 2**{PROD_MAX.bit_length() - 1} (times secr_scale they would "
                      "overflow int64)")


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Integer fields and calcium tables from the float rule parameters ``p`` (equations (P1)-(P17) of
    :mod:`neuromap.plasticity.pool_stdp`); ``ctx.max_fan_in`` and ``p["w_max"]`` bound the calcium input."""
    fine = ctx.ws * (1 << WF)
    q.put("keep_plus", math.exp(-ctx.dt / p["tau_plus"]), 1 << 16)
    q.put("keep_minus", math.exp(-ctx.dt / p["tau_minus"]), 1 << 16)
    for k in ("a_plus", "a_minus", "alpha_r", "k_pw", "alpha_ss"):
        q.put(k, p[k], 1 << AF)
    for k in ("pw_init", "pw_soma_init", "pw_set"):
        q.put(k, p[k], fine)
    q.put("w_goal", p["w_goal_sum"], fine)
    q.put("k_cg", p["k_cg"], 1 << CF)
    q.put("c_per_w", 1.0 / fine, 2.0 ** (CS + CF))
    q.fields["pool_update"] = p["pool_update"]
    # calcium never exceeds C* + the largest one-step input, C*: decay(C*) = that input
    in_max = max(float(ctx.max_fan_in) * p["w_max"], p["k_cg"])
    ac, bc, gc = p["alpha_c"], p["beta_c"], p["gamma_c"]
    top = C_CAP
    if ac > 0 and bc > 0:
        top = min(C_CAP, math.log((in_max + gc) / ac) / bc + in_max + 1.0)
    c = np.arange(int(math.ceil(max(top, 1.0) * (1 << LUT_F))) + 1) / float(1 << LUT_F)
    sig = 1.0 / (1.0 + np.exp(-c))
    q.table("s_lut", p["alpha_s"] * (sig - p["beta_s"]), 1 << SF)
    q.table("decay_lut", ac * np.exp(bc * c) - gc, 1 << CF)
    if p["soma_mode"] == "functional":
        prod = p["g_soma"] * (1.0 - np.tanh(c))
    elif q.fields.get("rule") == "pool_esn":   # the controller writes the factor sigmoid(k_secr) - 0.5 (secr_scale)
        prod = p["alpha_secr"] * (1.0 - sig)
    else:
        prod = p["alpha_secr"] * (1.0 - sig) * (1.0 / (1.0 + math.exp(-p["k_secr"])) - 0.5)
    q.table("prod_lut", prod, fine)


@dataclass
class State:
    syn: Synapses
    n_post: int
    x_pre: np.ndarray
    y_post: np.ndarray
    pw: np.ndarray
    pw_soma: np.ndarray
    c_dend: np.ndarray
    c_soma: np.ndarray
    s_lut: np.ndarray
    decay_lut: np.ndarray
    prod_lut: np.ndarray
    c_max: int
    goal: np.ndarray | None = None
    cfg: Schema | None = None
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)
    #: per post neuron: production multiplier (P11), 16 fraction bits; 2**16 = the table as is
    secr_scale: np.ndarray | None = None


def make_state(learning, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    """State of one projection; ``learning``: its :class:`Schema` (or image dict)."""
    cfg = Schema.from_dict(learning, f"{ENGINE} learning", fill_defaults=True)
    luts = {k: np.asarray(arrays[k], np.int64) for k in ("s_lut", "decay_lut", "prod_lut")}
    c_max = (luts["decay_lut"].shape[0] - 1) << (CF - 8)
    return State(Synapses(cfg, n_pre, pre_idx, post_idx), n_post, np.zeros(len(pre_idx), np.int64),
                 np.zeros(n_post, np.int64), np.full(n_post, cfg.pw_init, np.int64),
                 np.full(n_post, cfg.pw_soma_init, np.int64), np.zeros(n_post, np.int64),
                 np.zeros(n_post, np.int64), luts["s_lut"], luts["decay_lut"], luts["prod_lut"], c_max, cfg=cfg,
                 secr_scale=np.full(n_post, SECR_ONE, np.int64))


def initial_goal(st: State) -> np.ndarray:
    """Scaling goal per post neuron: ``w_goal`` or, when 0, each post neuron's initial sum of fine weights."""
    goal = st.cfg.w_goal
    return np.full(st.n_post, goal, np.int64) if goal > 0 else seg_sum(st.syn.w_fine, st.syn.post_idx, st.n_post)


def step(learning, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    """One step t (1-based) of one projection: the numba kernel (:func:`step_fields`, this engine's one
    implementation); ``learning`` is ignored (the state holds its schema)."""
    packing.step_one(KERNEL, st, weights, pre_spikes, post_spikes, t)


#: index of the stored weights (int32) in a group tuple
WEIGHTS = 9
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "keep_plus", "keep_minus", "a_plus", "a_minus", "alpha_r", "k_pw", "pw_set", "conserve",
          "alpha_ss", "c_per_w", "k_cg", "sign", "lo", "hi", "c_max")
#: the state arrays a group concatenates (after the stored weights), in group order
FIELDS = ("w_fine", "x_pre", "y_post", "pw", "pw_soma", "c_dend", "c_soma", "goal", "secr_scale", "dring")


def _params(st) -> list[int]:
    c = st.cfg
    return [c.delay, c.keep_plus, c.keep_minus, c.a_plus, c.a_minus, c.alpha_r, c.k_pw, c.pw_set,
            int(c.pool_update == "conserve"), c.alpha_ss, c.c_per_w, c.k_cg, c.sign, c.w_lo << 16, c.w_hi << 16,
            int(st.c_max)]


def _parts(st) -> dict:
    return {"w_fine": st.syn.w_fine, "x_pre": st.x_pre, "y_post": st.y_post, "pw": st.pw, "pw_soma": st.pw_soma,
            "c_dend": st.c_dend, "c_soma": st.c_soma, "goal": st.goal, "secr_scale": st.secr_scale,
            "dring": st.syn.delay.ring}


def pack(states, weights) -> tuple:
    """Group tuple of projections (engine states, int32 stored weights). Sets each state's fine weights
    from its stored weights, and its goal as the numpy step does, if no step ran yet."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
        if st.goal is None:
            st.goal = initial_goal(st)
    parts = [_parts(st) for st in states]
    n_pre = [st.syn.delay.ring.shape[1] for st in states]
    syn_off, pre_off = offsets([st.syn.pre_idx.size for st in states]), offsets(n_pre)
    post_off = offsets([st.n_post for st in states])
    dr_off = offsets([st.syn.delay.ring.size for st in states])
    lut_off = [offsets([getattr(st, k).size for st in states]) for k in ("s_lut", "decay_lut", "prod_lut")]
    prm = np.array([_params(st) for st in states], np.int64).reshape(len(states), len(PARAMS))
    f = {k: cat([p[k] for p in parts], np.bool_ if k == "dring" else np.int64) for k in FIELDS}
    luts = [cat([getattr(st, k) for st in states], np.int64) for k in ("s_lut", "decay_lut", "prod_lut")]
    n_syn, n_post = int(syn_off[-1]), int(post_off[-1])
    return (syn_off, pre_off, post_off, dr_off, lut_off[0], lut_off[1], lut_off[2], prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), *[f[k] for k in FIELDS],
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            luts[0], luts[1], luts[2], np.zeros(pre_off[-1], np.bool_),
            np.zeros((5, n_post), np.int64), np.zeros((2, n_syn), np.int64))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    for k, name in enumerate(FIELDS):
        parts = [_parts(st)[name] for st in states]
        scatter(g[WEIGHTS + 1 + k], parts)


@numba.njit(inline="always")
def _rr(x, n):
    """:func:`~neuromap.learning_engines.fixed.rshift_round`: x / 2**n rounded half up."""
    return rshift_round(x, n)


@numba.njit(inline="always")
def _lut(table, base, size, x):
    """:func:`~neuromap.learning_engines.fixed.lut_interp` of ``table[base:base+size]`` at calcium ``x``
    (CF fraction bits, x >= 0)."""
    return lut_interp(table, base, size, x, CF)


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, s_off, d_off, p_off, prm, pre_idx, weights, w_fine, x_pre,
                y_post, pw, pw_soma, c_dend, c_soma, goal, secr_scale, dring, post_idx, s_lut, decay_lut, prod_lut,
                arr, sums, syn_tmp, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of a group, its fields as separate arguments (in :func:`pack`'s
    order), then this step's pre/post spikes. ``sums`` rows: x_sum, pot_sum, dep_sum,
    w_sum, then ``one - ratio``; ``syn_tmp`` rows: pot, dep per synapse."""
    one = np.int64(1) << 16
    x_sum, pot_sum, dep_sum, w_sum, one_minus = sums[0], sums[1], sums[2], sums[3], sums[4]
    pot_q, dep_q = syn_tmp[0], syn_tmp[1]
    for j in range(prm.shape[0]):
        d, keep_p, keep_m, a_plus, a_minus = prm[j, 0], prm[j, 1], prm[j, 2], prm[j, 3], prm[j, 4]
        alpha_r, k_pw, pw_set, conserve, alpha_ss = prm[j, 5], prm[j, 6], prm[j, 7], prm[j, 8], prm[j, 9]
        c_per_w, k_cg, sign, lo, hi, c_max = prm[j, 10], prm[j, 11], prm[j, 12], prm[j, 13], prm[j, 14], prm[j, 15]
        p0 = pre_off[j]
        arrive(t, d, p0, pre_off[j + 1] - p0, dr_off[j], pre_spk, arr, dring)
        m0, m1 = post_off[j], post_off[j + 1]
        for m in range(m0, m1):
            x_sum[m] = 0
            pot_sum[m] = 0
            dep_sum[m] = 0
            w_sum[m] = 0
            y_post[m] = _rr(y_post[m] * keep_m, 16)                               # decayed; dep reads it
        q0, q1 = syn_off[j], syn_off[j + 1]
        for q in range(q0, q1):                                                   # (P1)-(P3)
            i, m = pre_idx[q], post_idx[q]
            w = w_fine[q]
            a = arr[i]
            w_sum[m] += w
            if a:
                x_sum[m] += w
            xp = 1 << XF if a else _rr(x_pre[q] * keep_p, 16)
            x_pre[q] = xp
            pot = _rr((hi - w) * a_plus * xp, 16 + XF) if post_spk[m] else 0
            dep = _rr((w - lo) * a_minus * y_post[m], 16 + XF) if a else 0
            pot_q[q] = pot
            dep_q[q] = dep
            pot_sum[m] += pot
            dep_sum[m] += dep
        for m in range(m0, m1):                                                   # (P4): cap at the pool
            one_minus[m] = max(pw[m], 0)                                          # (scratch: avail)
        for q in range(q0, q1):
            m = post_idx[q]
            if pot_sum[m] > one_minus[m]:
                pot_q[q] = pot_q[q] * one_minus[m] // max(pot_sum[m], 1)
        for m in range(m0, m1):
            pot_sum[m] = 0
        for q in range(q0, q1):
            pot_sum[post_idx[q]] += pot_q[q]
        for m in range(m0, m1):                                                   # (P5)-(P11), (P16)
            use = pot_sum[m] - _rr(alpha_r * dep_sum[m], 16)
            degr = _rr(k_pw * x_sum[m], 16)
            s = _lut(s_lut, s_off[j], s_off[j + 1] - s_off[j], c_dend[m])
            demand = max(-_rr(s * (pw[m] - use - degr - pw_set), 16), 0)
            supply = min(demand, max(pw_soma[m], 0))
            if conserve:
                pw_new = pw[m] + supply - use - degr
            else:
                pw_new = pw[m] + (supply if demand > 0 else -use - degr)
            prod = _rr(_lut(prod_lut, p_off[j], p_off[j + 1] - p_off[j], c_soma[m]) * secr_scale[m], 16)
            ratio = (goal[m] << 16) // max(w_sum[m], 1) if w_sum[m] > 0 else one
            one_minus[m] = max(one - ratio, -15 * one)
            pw[m] = min(max(pw_new, 0), POOL_MAX)
            pw_soma[m] = min(max(pw_soma[m] - supply + prod, 0), POOL_MAX)
            c_in = _rr(x_sum[m] * c_per_w, 32)                                   # (P12, P13)
            db, dn = d_off[j], d_off[j + 1] - d_off[j]
            c_dend[m] = min(max(c_dend[m] + c_in - _lut(decay_lut, db, dn, c_dend[m]), 0), c_max)
            spk = 1 if post_spk[m] else 0
            c_soma[m] = min(max(c_soma[m] + k_cg * spk - _lut(decay_lut, db, dn, c_soma[m]), 0), c_max)
            if post_spk[m]:
                y_post[m] = 1 << XF
        for q in range(q0, q1):                                                   # (P15)-(P17)
            i, m = pre_idx[q], post_idx[q]
            w = w_fine[q]
            x = w if arr[i] else 0
            ss = _rr(alpha_ss * w * one_minus[m], 32)
            clip_store(q, w + pot_q[q] - dep_q[q] - _rr(k_pw * x, 16) - ss, lo, hi, sign, w_fine, weights)


#: the fused plastic loop's view of this engine (:mod:`neuromap.learning_engines.packing`)
KERNEL = packing.Kernel(pack=pack, unpack=unpack, step_fields=step_fields, n_fields=27,
                        weights=WEIGHTS, projections=7)
