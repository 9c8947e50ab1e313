"""Learning engine ``clopath``: integer Clopath rule (seed 001; Clopath et al. 2010), a Loihi-2-style voltage-trace
extension. One module: image schema, quantizer, state, numba kernel (the one implementation of the equations
below, run by the per-step loop, the fused plastic loop and Lava; the independent scalar oracle is
``tests/oracles/seed_rules.py``).

Float rule and equation labels (C1)-(C5): :mod:`neuromap.plasticity.clopath`. Here the post neuron's
membrane v (``loihi_lif``, 24-bit signed hardware units, 0 = the float v_reset) drives two extra
integer post traces u-, u+ (low-pass filtered v, like Loihi 2's y-traces set by a third factor), and
the synapse keeps an integer pre trace xbar. Widths and units:

- ``vq = rshift_round(v, v_shift)``: v reduced to 16-bit signed (``v_shift = voltage_bits - 16``);
- ``u-``, ``u+``: vq units with ``UF = 8`` fraction bits (24-bit signed); per step
  ``u <- rshift_round(u * keep + (vq << UF) * (2**16 - keep), 16)`` with ``keep = round(2**16 d)``,
  d = exp(-dt/tau_-/+); a constant vq is a fixed point (no drift);
- thresholds: ``theta_minus`` in u units (vq << UF), ``theta_plus`` in vq units; ``u_init`` in u units;
- ``xbar``: spikes with ``XB = 20`` fraction bits (1 spike = 2**20), unsigned 24 bit saturating at
  2**24 - 1; per step ``xbar <- rshift_round(xbar * keep_x, 16)`` then ``+2**20`` per arrival
  (the float rule's jump 1/tau_x is folded into the LTP coefficient). Round-to-nearest decay stalls
  where ``xbar (1 - keep_x) < 1/2``: with 20 fraction bits that is ~1e-4 spike (with 12 it would be
  1.8 % of a spike for tau_x = 150 steps, a lasting LTP bias); the LTP product reads
  ``xb = rshift_round(xbar, 8)`` (``XF = 12`` fraction bits, < 2**16);
- coefficients as 16-bit mantissa and shift, ``c = m * 2**-sh`` (:func:`scale`): LTD
  (``ltd_m``, ``ltd_sh``: fine-weight units per u unit), LTP (``ltp_m``, ``ltp_sh``: fine-weight
  units * 2**FF per spike of xbar, per (vq unit * u unit)); ``FF = 8``;
- weights: fine ``w = mantissa * 2**WF`` (WF = 16, :class:`~neuromap.learning_engines.fixed.Synapses`);
  the core gets ``round(w / 2**16)``.

All rounding is half up (:func:`~neuromap.learning_engines.fixed.rshift_round`). Per step t, in the
float rule's order (values of step t; ``late`` = u of step t - delay_u, ``u_init`` before any)::

    u-, u+ <- filter(u-, vq), filter(u+, vq)                                     (C2')
    ltd    = scale([late- - theta_minus]+, ltd)                      per post    (C1, LTD)
    f      = scale([vq - theta_plus]+ * [late+ - theta_minus]+, ltp) per post    (C4)
    xbar   <- rshift_round(xbar keep_x, 16)
    arrived:  w <- clip(w - ltd, w_lo, w_hi);  xbar <- min(xbar + 2**20, 2**24 - 1)
    every synapse:  w <- min(w + rshift_round(xb * f, XF + FF), w_hi)             (C1, LTP)

Ranges (int64 never overflows): [vq - theta_plus]+ < 2**17, [u - theta_minus]+ < 2**25, their
product < 2**42, times a 16-bit mantissa < 2**58; the compiler keeps ``ltp_sh >= 11`` so
f < 2**47 and xb * f < 2**63. The post spikes are not used (the rule sees the post only through v).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from neuromap.errors import ImageError, TargetError
from neuromap.learning_engines import packing
from neuromap.learning_engines.fixed import WF, XF, Synapses, rshift_round
from neuromap.learning_engines.packing import arrive, cat, clip_store, offsets, scatter
from neuromap.learning_engines.schema import QuantizeContext, Quantized, SeedRuleSchema, enum_field, int_field

ENGINE = "clopath"
#: ``step`` reads the post neurons' membrane v (the Lava backend's post LIF sends it)
READS_V = True

#: fraction bits of u-, u+ (and theta_minus, u_init) over vq
UF = 8
#: extra fraction bits of the per-post LTP factor f
FF = 8
#: fraction bits of xbar (1 spike = 2**XB) and its saturation (24 bit unsigned)
XB = 20
XBAR_MAX = (1 << 24) - 1
#: width of vq (signed)
VQ_BITS = 16
#: keep factors of the voltage filters: 2**16 = 1.0
KEEP_ONE = 1 << 16
#: |u| and thresholds in u units stay below this (vq << UF, 24 bit signed)
U_LIM = 1 << (VQ_BITS - 1 + UF)
#: smallest LTP coefficient shift the ranges allow (with a 16-bit mantissa)
LTP_MIN_SHIFT = 11


@dataclass(frozen=True, kw_only=True)
class Schema(SeedRuleSchema):
    """Image fields of ``clopath``."""

    ENGINE: ClassVar[str] = ENGINE
    engine: str = enum_field((ENGINE,), "engine name")
    rule: str = enum_field((ENGINE,), "float rule the compiler converted")
    v_shift: int = int_field(0, 47, "vq = rshift_round(v, v_shift): the post v reduced to 16 bit signed")
    delay_u: int = int_field(0, 1 << 16, "steps by which the LTD/LTP terms read u-, u+ late")
    theta_plus: int = int_field(-(1 << (VQ_BITS - 1)) + 1, (1 << (VQ_BITS - 1)) - 1, "LTP voltage threshold, vq units")
    theta_minus: int = int_field(-U_LIM + 1, U_LIM - 1, "u threshold, u units (vq << UF, UF = 8)")
    u_init: int = int_field(-U_LIM + 1, U_LIM - 1, "u-, u+ before any step, u units")
    keep_minus: int = int_field(0, KEEP_ONE, "per-step retention of u-, 16 fraction bits")
    keep_plus: int = int_field(0, KEEP_ONE, "per-step retention of u+, 16 fraction bits")
    keep_x: int = int_field(0, KEEP_ONE, "per-step retention of xbar, 16 fraction bits")
    ltd_m: int = int_field(0, (1 << 16) - 1,
                           "LTD coefficient mantissa (16 bit): ltd_m * 2**-ltd_sh fine units per u unit")
    ltd_sh: int = int_field(0, 62, "LTD coefficient shift")
    ltp_m: int = int_field(0, (1 << 16) - 1, "LTP coefficient mantissa (16 bit), FF = 8 extra fraction bits")
    ltp_sh: int = int_field(0, 62, "LTP coefficient shift")

    def check(self, where: str) -> None:
        """Besides the seed-rule checks: ``ltp_sh >= 11`` when ``ltp_m > 0`` (keeps ``f < 2**47`` and
        ``xb * f < 2**63``, the module docstring's ranges)."""
        super().check(where)
        if self.ltp_m and self.ltp_sh < LTP_MIN_SHIFT:
            self.fail(where, f"ltp_sh {self.ltp_sh} is below {LTP_MIN_SHIFT} (the LTP product would overflow int64)")

    def check_post_voltage(self, voltage_bits: int, where: str) -> None:
        """``v_shift >= voltage_bits - 16``: vq must fit 16 bits signed for the products to stay in int64."""
        if self.v_shift < voltage_bits - VQ_BITS:
            self.fail(where, f"v_shift {self.v_shift} is below voltage_bits - {VQ_BITS} = {voltage_bits - VQ_BITS} "
                      "(vq would not fit 16 bits; the LTP product would overflow int64)")


def mant_shift(c: float, fld: str, name: str, min_shift: int = 0) -> tuple[int, int]:
    """``c ~= m * 2**-sh`` with a 16-bit mantissa ``m`` in [2**15, 2**16) (nearest) and ``0 <= sh <= 62``;
    ``c = 0`` -> (0, 0). ``sh < min_shift`` (the coefficient is too large for the engine) -> TargetError."""
    if c == 0.0:
        return 0, 0
    sh = 15 - math.floor(math.log2(c))
    if round(c * 2.0 ** min(sh, 62)) >= 1 << 16:
        sh -= 1
    sh = min(sh, 62)
    if sh < min_shift:
        raise TargetError(f"{fld}.plasticity: {name} is too large for the integer clopath engine "
                          f"(coefficient {c:.3g} fine-weight units; lower it or the weights' w_max)")
    return int(round(c * 2.0 ** sh)), int(sh)


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Clopath (C1)-(C4) on a lif/if post: voltages in the post's hardware v units. ``p``: the float rule
    (theta_plus, theta_minus, u_init in float volts; tau_minus, tau_plus, tau_x ms; A_LTD, A_LTP, delay_u);
    ``ctx.v_scale``/``ctx.v_reset``/``ctx.v_max``: the post population's voltage scale (hardware v units per
    float unit), float v_reset and largest hardware v."""
    fld = ctx.where
    if ctx.v_scale is None:
        raise TargetError(f"{fld}.plasticity: clopath needs the post population's voltage scale "
                          "(the post must be a lif or if population)")
    v_bits = int(round(math.log2(ctx.v_max + 1))) + 1
    v_shift = max(v_bits - VQ_BITS, 0)
    qv = 2.0 ** v_shift / ctx.v_scale                   # float voltage units per vq unit
    q.fields.update(v_shift=v_shift, delay_u=int(p["delay_u"]))
    th_p = q.put("theta_plus", p["theta_plus"] - ctx.v_reset, 1.0 / qv)
    th_m = q.put("theta_minus", p["theta_minus"] - ctx.v_reset, 2.0 ** UF / qv)
    u0 = q.put("u_init", p["u_init"] - ctx.v_reset, 2.0 ** UF / qv)
    lim = 1 << (VQ_BITS - 1)
    for name, val, top in (("theta_plus", th_p, lim), ("theta_minus", th_m, lim << UF), ("u_init", u0, lim << UF)):
        if abs(val) >= top:
            raise TargetError(f"{fld}.plasticity.{name}: outside the post neurons' voltage range "
                              "(keep the clopath thresholds between about v_reset - 2 (v_th - v_reset) "
                              "and v_reset + 2 (v_th - v_reset))")
    q.put("keep_minus", math.exp(-ctx.dt / p["tau_minus"]), 1 << 16)
    q.put("keep_plus", math.exp(-ctx.dt / p["tau_plus"]), 1 << 16)
    q.put("keep_x", math.exp(-ctx.dt / p["tau_x"]), 1 << 16)
    fine = ctx.ws * (1 << WF)
    ltp = ctx.dt * p["A_LTP"] / p["tau_x"] * fine * qv * qv / 2.0 ** UF * 2.0 ** FF
    for name, c, lo in (("ltd", p["A_LTD"] * fine * qv / 2.0 ** UF, 0), ("ltp", ltp, LTP_MIN_SHIFT)):
        m, sh = mant_shift(c, fld, "A_LTD" if name == "ltd" else "A_LTP", lo)
        q.fields[f"{name}_m"], q.fields[f"{name}_sh"] = m, sh
        q.errors[name] = abs(m * 2.0 ** -sh - c) / c if c else 0.0


@dataclass
class State:
    """``u``: int64[D+1, 2, n_post] ring of (u-, u+) of the last D+1 steps (row t % (D+1));
    ``xbar``: int64[S] pre trace per synapse; ``t``: int64[1], the last step seen (1-based)."""

    syn: Synapses
    u: np.ndarray
    xbar: np.ndarray
    cfg: Schema
    t: np.ndarray
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def make_state(learning, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    """State of one projection; ``learning``: its :class:`Schema` (or image dict)."""
    cfg = Schema.from_dict(learning, f"{ENGINE} learning", fill_defaults=True)
    u = np.full((cfg.delay_u + 1, 2, n_post), cfg.u_init, np.int64)
    return State(Synapses(cfg, n_pre, pre_idx, post_idx), u, np.zeros(len(pre_idx), np.int64), cfg,
                 np.zeros(1, np.int64))


def step(learning, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    """One step t (1-based) of one projection: the numba kernel (:func:`step_fields`, this engine's one
    implementation); ``learning`` is ignored (the state holds its schema)."""
    if post_v is None:
        raise ImageError("clopath learning engine: the emulator gave no post membrane v (it needs post_v)")
    packing.step_one(KERNEL, st, weights, pre_spikes, post_spikes, t, post_v)


#: index of the stored weights (int32) in a group tuple
WEIGHTS = 8
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "v_shift", "delay_u", "theta_plus", "theta_minus", "keep_minus", "keep_plus", "keep_x", "ltd_m",
          "ltd_sh", "ltp_m", "ltp_sh", "sign", "lo", "hi")


def _params(c: Schema) -> list[int]:
    return [c.delay, c.v_shift, c.delay_u, c.theta_plus, c.theta_minus, c.keep_minus, c.keep_plus, c.keep_x,
            c.ltd_m, c.ltd_sh, c.ltp_m, c.ltp_sh, c.sign, c.w_lo << WF, c.w_hi << WF]


def pack(states, weights) -> tuple:
    """Group tuple of projections (engine states, int32 stored weights): offsets (synapses, pre, post, delay
    rings, u rings), parameter rows, pre/post indices, stored and fine weights, xbar, the u rings, the step
    counters, the arrival buffer, the delay rings and two per-post scratch rows (ltd, f)."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    pre_off = offsets([st.syn.delay.ring.shape[1] for st in states])
    post_off = offsets([st.u.shape[2] for st in states])
    prm = np.array([_params(st.cfg) for st in states], np.int64).reshape(len(states), len(PARAMS))
    return (offsets([st.syn.pre_idx.size for st in states]), pre_off, post_off,
            offsets([st.syn.delay.ring.size for st in states]), offsets([st.u.size for st in states]), prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), cat([st.syn.w_fine for st in states], np.int64),
            cat([st.xbar for st in states], np.int64), cat([st.u for st in states], np.int64),
            cat([st.t for st in states], np.int64), np.zeros(pre_off[-1], np.bool_),
            cat([st.syn.delay.ring for st in states], np.bool_), np.zeros((2, post_off[-1]), np.int64))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    for k, name in ((9, "w_fine"), (10, "xbar"), (11, "u"), (12, "t"), (14, "ring")):
        scatter(g[k], [st.syn.w_fine if name == "w_fine" else st.syn.delay.ring if name == "ring"
                       else getattr(st, name) for st in states])


@numba.njit(inline="always")
def _filter(u, vq, keep):
    """One step of the voltage low-pass filter (C2'), u in vq << UF units."""
    return rshift_round(u * keep + (vq << UF) * (KEEP_ONE - keep), 16)


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, u_off, prm, pre_idx, post_idx, weights, w_fine, xbar, u, tc,
                arr, dring, post_tmp, pre_spk, post_spk, post_v):
    """One step (``t`` 1-based) of every projection of a group, its fields as separate arguments (in :func:`pack`'s
    order), then this step's pre/post spikes and the post neurons' v. Per
    projection: the u-, u+ filters and the per-post LTD amount and LTP factor (``post_tmp`` rows), then every
    synapse (module docstring)."""
    ltd, fac = post_tmp[0], post_tmp[1]
    for j in range(prm.shape[0]):
        d, v_shift, d1 = prm[j, 0], prm[j, 1], prm[j, 2] + 1
        th_p, th_m, keep_m, keep_p, keep_x = prm[j, 3], prm[j, 4], prm[j, 5], prm[j, 6], prm[j, 7]
        ltd_m, ltd_sh, ltp_m, ltp_sh = prm[j, 8], prm[j, 9], prm[j, 10], prm[j, 11]
        sign, lo, hi = prm[j, 12], prm[j, 13], prm[j, 14]
        p0 = pre_off[j]
        arrive(t, d, p0, pre_off[j + 1] - p0, dr_off[j], pre_spk, arr, dring)
        tc[j] += 1
        tt = tc[j]
        m0, m1 = post_off[j], post_off[j + 1]
        n_post = m1 - m0
        ub = u_off[j]
        cur = ub + ((tt - 1) % d1) * 2 * n_post           # row (t-1) % (D+1): u of the last step
        new = ub + (tt % d1) * 2 * n_post                 # row t % (D+1)
        late = ub + ((tt + 1) % d1) * 2 * n_post          # u(t - D); rows not yet written hold u_init
        for mm in range(n_post):
            m = m0 + mm
            vq = rshift_round(post_v[m], v_shift)
            um, up = u[cur + mm], u[cur + n_post + mm]
            u[new + mm] = _filter(um, vq, keep_m)
            u[new + n_post + mm] = _filter(up, vq, keep_p)
            lm = u[late + mm] - th_m
            lp = u[late + n_post + mm] - th_m
            ltd[m] = rshift_round((lm if lm > 0 else 0) * ltd_m, ltd_sh)
            dv = vq - th_p
            fac[m] = rshift_round((dv if dv > 0 else 0) * (lp if lp > 0 else 0) * ltp_m, ltp_sh)
        for q in range(syn_off[j], syn_off[j + 1]):
            m = post_idx[q]
            x = rshift_round(xbar[q] * keep_x, 16)
            w = w_fine[q]
            if arr[pre_idx[q]]:
                w -= ltd[m]
                w = lo if w < lo else (hi if w > hi else w)
                x = min(x + (1 << XB), XBAR_MAX)
            xbar[q] = x
            w += rshift_round(rshift_round(x, XB - XF) * fac[m], XF + FF)
            clip_store(q, w, lo, hi, sign, w_fine, weights)


#: the fused plastic loop's view of this engine (:mod:`neuromap.learning_engines.packing`)
KERNEL = packing.Kernel(pack=pack, unpack=unpack, step_fields=step_fields, n_fields=16,
                        weights=WEIGHTS, projections=5, reads_v=True)
