"""Controller kind ``esn_q``: seed 000's echo-state-network Q-learner in fixed point, on an embedded core.

It sets ``pool_stdp``'s per-neuron secretion factor (``secr_scale``, P11) from the state of the receptor pools, as
the float ``pool_esn`` rule (:mod:`neuromap.controllers.esn_pool`, equations E1-E6) sets k_secr. Every ``period``
steps, for each post neuron m (all integers; ``rr(x, n)`` = x / 2**n rounded half up, an arithmetic shift):

    o_k   = clamp(rr(read_k[m] * obs_mul[k], obs_shift[k]), +-2**31),  reads (pw, pw_soma, c_soma, c_dend)   (E1)
            (Q12: 12 fraction bits, in the float model's units: weight units for pools, calcium units)
    a_j   = sum_k w_in[j, k] o_k + sum_i w_res[j, i] x_i                     (Q24; w_in, w_res: int16 Q12)  (E2)
    h_j   = tanh_lut interpolated at clamp(rr(a_j, 12), +-4 * 4096):  pos = that + 16384, i = pos >> 6,
            h = lut[i] + rr((lut[i + 1] - lut[i]) (pos & 63), 6)   (lut[512] at the end; lut: tanh(-4 + i/64), Q12)
    x_j  <- x_j + rr(leak (h_j - x_j), 12)                                   (x: Q12; leak: Q12)
    f     = (x_1 .. x_n_res, 4096)                                           (features, Q12)
    q_a   = sat(sum_j w_out[a, j] f_j),  a = 0 keep, 1 down, 2 up            (Q28; w_out: int32 Q16)        (E3)
            (sat: saturate to +-2**47, so every product below fits int64)
    TD (E6), from the second decision on, with the w_out of before this decision for every neuron:
      r    = -|c_soma[m] - c_opt|                                            (Q12, calcium units)
      td   = sat(r * 2**16 + rr(gamma max_a q_a, 12) - sat(sum_j w_out[a_prev, j] f_prev_j))  (Q28; gamma: Q12)
      then for every neuron: w_out[a_prev, j] += rr(rr(lr rr(td, 12), 16) f_prev_j, 12), saturated to int32
                                                                                           (lr: Q16)
    a     = the first a with the largest q_a (ties: keep before down before up)                             (E4)
            exploration, neuron by neuron in order: d = next(); if d < eps: a = (next() * 3) >> 32
            (only while the decision's number k, 0-based, is below the optional field greedy_after: after it the
            controller is greedy and draws nothing; an image without the field explores throughout; with the
            optional field anneal = 1 the threshold of decision k < greedy_after is eps (greedy_after - k) //
            greedy_after instead of eps: linear annealing, the float rule's epsilon_schedule linear)
            (next(): Marsaglia's xorshift32, s ^= s << 13; s ^= s >> 17; s ^= s << 5 (mod 2**32), returns s)
    level <- clip(level + (0, -1, +1)[a], -levels, levels)                                                 (E5)
    write secr_scale[m] = secr_lut[level + levels] = round((sigmoid(level dk) - 0.5) 2**16)

The float rule draws its exploration from numpy's generator (all neurons' uniforms, then the explored neurons'
actions); the chip draws from the xorshift32 stream above, so the two explore differently (same probabilities) and
are compared by their results, not step by step. Everything else is the float equations with these roundings.

Cost per decision and neuron (:func:`cost`): n_res (4 + n_res) multiply-adds for the reservoir, n_res table reads
and interpolations, n_res leak multiplies, 3 (n_res + 1) for the readout, 2 (n_res + 1) + 2 for the TD update; the
reads are 4 words of the learning engine's state and the write one word.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.errors import ImageError

KIND = "esn_q"
#: the learning engine whose state it reads and writes
ENGINE = "pool_stdp"
#: per-post engine state it reads, in observation order (E1)
READS = ("pw", "pw_soma", "c_soma", "c_dend")
#: per-post engine state it writes
WRITES = ("secr_scale",)
#: fraction bits of observations, reservoir state, tanh table and reservoir weights
QF = 12
#: fraction bits of the readout weights (w_out) and of lr
OF = 16
#: tanh table: tanh(-TANH_END + i / 2**TANH_STEP_BITS), i = 0 .. 2 * TANH_END * 2**TANH_STEP_BITS
TANH_END = 4
TANH_STEP_BITS = 6
N_ACT = 3
#: largest |observation| (Q12)
OBS_MAX = 2 ** 31
#: |obs_mul| stays below this: reads (pools < 2**37, calcium) times it fit int64
OBS_MUL_MAX = 2 ** 26
#: q values and the TD error saturate here (Q28)
Q_MAX = 2 ** 47
U32 = (1 << 32) - 1

#: field -> (lo, hi, doc)
FIELDS = {
    "n_res": (1, 1024, "reservoir units"),
    "leak": (0, 1 << QF, "reservoir leak rate, Q12"),
    "gamma": (0, 1 << QF, "discount, Q12"),
    "lr": (0, 1 << 24, "Q-learning rate, Q16"),
    "eps": (0, 1 << 32, "exploration: a draw below eps explores (eps = round(epsilon 2**32))"),
    "c_opt": (0, 2 ** 40, "target soma calcium, Q12 (the engine's calcium units)"),
    "levels": (0, 64, "secretion levels -levels .. levels (k_secr = level dk)"),
    "level_init": (-64, 64, "initial level (round(k_secr / dk))"),
    "seed": (1, U32, "xorshift32 state before the first draw (nonzero)"),
}
#: optional fields (absent: the behaviour before them) -> (lo, hi, doc)
OPTIONAL_FIELDS = {
    "greedy_after": (0, 2 ** 31 - 1, "decisions that explore; from decision greedy_after on (0-based) no exploration "
                                     "(the float rule's greedy_from: ceil(greedy_from / period))"),
    "anneal": (0, 1, "1: the exploration threshold falls linearly to 0 at decision greedy_after: eps (greedy_after - "
                     "k) // greedy_after at decision k (the float rule's epsilon_schedule linear)"),
}
#: array -> (dtype, doc)
ARRAYS = {
    "w_in": ("int16", "(n_res, 4) input weights, Q12"),
    "w_res": ("int16", "(n_res, n_res) reservoir weights, Q12"),
    "w_out": ("int32", "(3, n_res + 1) initial readout (keep, down, up), Q16"),
    "tanh_lut": ("int16", f"({2 * TANH_END * 2 ** TANH_STEP_BITS + 1},) tanh(-{TANH_END} + i/"
                          f"{2 ** TANH_STEP_BITS}), Q12"),
    "secr_lut": ("int32", "(2 levels + 1,) secretion factor per level, round((sigmoid(level dk) - 0.5) 2**16)"),
    "obs_mul": ("int64", "(4,) observation multipliers (reads -> Q12 float units)"),
    "obs_shift": ("int64", "(4,) observation shifts (0..62)"),
}
TANH_SIZE = 2 * TANH_END * 2 ** TANH_STEP_BITS + 1


def check(ctl, n_post: int, where: str) -> None:
    """Array shapes and value ranges against the fields (one-line :class:`ImageError`)."""
    f, a = ctl.fields, ctl.arrays
    n = f["n_res"]
    shapes = {"w_in": (n, 4), "w_res": (n, n), "w_out": (N_ACT, n + 1), "tanh_lut": (TANH_SIZE,),
              "secr_lut": (2 * f["levels"] + 1,), "obs_mul": (4,), "obs_shift": (4,)}
    for k, shape in shapes.items():
        if a[k].shape != shape:
            raise ImageError(f"{where}: array {k} has shape {list(a[k].shape)}, not {list(shape)} (recompile)")
    if "anneal" in f and "greedy_after" not in f:
        raise ImageError(f"{where}: field anneal needs the field greedy_after (the decision where exploration ends; "
                         "recompile)")
    if abs(f["level_init"]) > f["levels"]:
        raise ImageError(f"{where}: level_init {f['level_init']} outside [-levels, levels] (recompile)")
    if np.any(a["obs_shift"] < 0) or np.any(a["obs_shift"] > 62) or np.any(np.abs(a["obs_mul"]) >= OBS_MUL_MAX):
        raise ImageError(f"{where}: obs_mul must be below 2**26 and obs_shift in 0..62 (recompile)")
    if np.any(np.abs(a["secr_lut"]) > 1 << 15):
        raise ImageError(f"{where}: secr_lut entries must be within +-2**15 (recompile)")


# ------------------------------------------------------------------------------------------- quantization
def quantize(p: dict, w_in: np.ndarray, w_res: np.ndarray, fine: float, c_unit: float) -> tuple[dict, dict, dict]:
    """(fields, arrays, report) of the float ``pool_esn`` parameters ``p`` with the float controller's input and
    reservoir weights ``w_in``/``w_res``; ``fine``: the engine's fine-weight units per float weight unit (pools),
    ``c_unit``: its calcium units per float calcium unit (2**12). Raises ValueError naming the parameter when a
    value cannot be represented."""
    n = int(p["n_res"])
    for name, w in (("in_scale", w_in), ("rho", w_res)):
        if w.size and np.max(np.abs(w)) * (1 << QF) > 32767:
            raise ValueError(f"{name}: reservoir weights reach {np.max(np.abs(w)):.3g}; int16 Q12 holds |w| < 8")
    dk, k_max = float(p["dk"]), float(p["k_max"])
    levels = int(math.floor(k_max / dk + 1e-9)) if dk > 0 else 0
    if levels > 64:
        raise ValueError(f"k_max / dk = {k_max / dk:g} secretion levels; at most 64 (raise dk)")
    if dk > 0 and abs(levels * dk - k_max) > 1e-9 * max(1.0, k_max):
        raise ValueError(f"k_max {k_max:g} is not a multiple of dk {dk:g} (the chip steps k_secr by dk)")
    level_init = int(round(float(p["k_secr"]) / dk)) if dk > 0 else 0
    level_init = max(-levels, min(levels, level_init))
    lv = np.arange(-levels, levels + 1) * dk
    secr = 1.0 / (1.0 + np.exp(-lv)) - 0.5
    tanh_x = -TANH_END + np.arange(TANH_SIZE) / 2 ** TANH_STEP_BITS
    mul, shift = [], []
    for unit in (fine, fine, c_unit, c_unit):     # reads -> Q12 float units: v * 2**12 / unit
        s = max(0, min(62, int(math.floor(math.log2(unit))) + 17))
        m = int(round(2.0 ** (QF + s) / unit))
        while m >= OBS_MUL_MAX and s > 0:
            s -= 1
            m = int(round(2.0 ** (QF + s) / unit))
        mul.append(m)
        shift.append(s)
    seed = (int(p["seed"]) * 2654435761 + 0x9E3779B9) & U32 or 1
    fields = {"n_res": n, "leak": _q(p["leak"], QF), "gamma": _q(p["gamma"], QF), "lr": _q(p["lr"], OF),
              "eps": int(round(float(p["epsilon"]) * 2 ** 32)), "c_opt": int(round(float(p["c_opt"]) * c_unit)),
              "levels": levels, "level_init": level_init, "seed": seed}
    if int(p.get("greedy_from", -1)) >= 0:           # written only when used: other images stay as they were
        fields["greedy_after"] = -(-int(p["greedy_from"]) // int(p["period"]))
        if p.get("epsilon_schedule", "constant") == "linear" and fields["greedy_after"] > 0:
            fields["anneal"] = 1
    arrays = {"w_in": np.rint(w_in * (1 << QF)).astype(np.int16),
              "w_res": np.rint(w_res * (1 << QF)).astype(np.int16),
              "w_out": np.zeros((N_ACT, n + 1), np.int32),
              "tanh_lut": np.rint(np.tanh(tanh_x) * (1 << QF)).astype(np.int16),
              "secr_lut": np.rint(secr * (1 << 16)).astype(np.int32),
              "obs_mul": np.asarray(mul, np.int64), "obs_shift": np.asarray(shift, np.int64)}
    report = {"controller": KIND, "n_res": n, "levels": levels,
              "w_res_max_abs_error": float(np.max(np.abs(arrays["w_res"] / (1 << QF) - w_res), initial=0.0)),
              "w_in_max_abs_error": float(np.max(np.abs(arrays["w_in"] / (1 << QF) - w_in), initial=0.0)),
              "secr_max_abs_error": float(np.max(np.abs(arrays["secr_lut"] / 2 ** 16 - secr), initial=0.0)),
              "multiply_adds_per_decision": cost(n)}
    return fields, arrays, report


def _q(x: float, bits: int) -> int:
    return int(round(float(x) * (1 << bits)))


def describe(ctl) -> dict:
    """What ``inspect`` shows of a controller of this kind."""
    f = ctl.fields
    out = {"n_res": f["n_res"], "secretion_levels": 2 * f["levels"] + 1, "exploration": f["eps"] / 2 ** 32,
           "multiply_adds_per_decision_and_neuron": cost(f["n_res"])}
    if "greedy_after" in f:
        out["greedy_after_decisions"] = f["greedy_after"]
        out["exploration_annealed"] = bool(f.get("anneal", 0))
    return out


def cost(n_res: int) -> int:
    """Multiply-adds per decision and neuron (module docstring)."""
    return n_res * (4 + n_res) + n_res + 3 * (n_res + 1) + 2 * (n_res + 1) + 2


# ------------------------------------------------------------------------------------------------ program
class State:
    """Run-time state of one controller over ``n_post`` neurons: reservoir ``x`` (int64 (n_post, n_res), Q12),
    readout ``w_out`` (int64 (3, n_res + 1), Q16), last decision's features ``f_prev`` and actions ``a_prev``,
    ``decided`` (a decision happened), the xorshift32 state ``rng`` and the secretion ``level`` per neuron; and
    the image's constant arrays as int64, converted once (``w_in``, ``w_res``, ``tanh_lut``, ``secr_lut``)."""

    def __init__(self, ctl, n_post: int):
        f, a = ctl.fields, ctl.arrays
        self.w_in, self.w_res = a["w_in"].astype(np.int64), a["w_res"].astype(np.int64)
        self.tanh_lut, self.secr_lut = a["tanh_lut"].astype(np.int64), a["secr_lut"].astype(np.int64)
        self.x = np.zeros((n_post, f["n_res"]), np.int64)
        self.w_out = ctl.arrays["w_out"].astype(np.int64)
        self.f_prev = np.zeros((n_post, f["n_res"] + 1), np.int64)
        self.a_prev = np.zeros(n_post, np.int64)
        self.decided = False
        self.rng = int(f["seed"])
        self.level = np.full(n_post, f["level_init"], np.int64)
        self.n_decided = 0                              # decisions so far (greedy_after)
        self.greedy_after = int(f.get("greedy_after", -1))
        self.anneal = int(f.get("anneal", 0)) == 1 and self.greedy_after > 0


def make_state(ctl, n_post: int) -> State:
    return State(ctl, n_post)


def _rr(x, n):
    """x / 2**n rounded half up (n >= 0; arrays or ints)."""
    return x if n == 0 else (x + (1 << (n - 1))) >> n


def xorshift32(s: int) -> int:
    """The next state (= the draw) of Marsaglia's xorshift32."""
    s ^= (s << 13) & U32
    s ^= s >> 17
    s ^= (s << 5) & U32
    return s


def tanh_q12(a12: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """tanh of Q12 values (int64) by the interpolated table (module docstring)."""
    pos = np.clip(a12, -TANH_END << QF, TANH_END << QF) + (TANH_END << QF)
    i = pos >> TANH_STEP_BITS
    frac = pos & ((1 << TANH_STEP_BITS) - 1)
    lo = lut[i]
    hi = lut[np.minimum(i + 1, lut.size - 1)]
    return lo + _rr((hi - lo) * frac, TANH_STEP_BITS)


def decide(ctl, st: State, reads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One decision for every post neuron (module docstring): ``reads`` maps each name of :data:`READS` to the
    engine's int64 per-post values; returns {"secr_scale": int64 per post}. Updates ``st``."""
    f, arr = ctl.fields, ctl.arrays
    obs = np.stack([np.clip(_rr(np.asarray(reads[k], np.int64) * int(arr["obs_mul"][i]), int(arr["obs_shift"][i])),
                            -OBS_MAX, OBS_MAX) for i, k in enumerate(READS)], axis=1)               # (E1)
    a = obs @ st.w_in.T + st.x @ st.w_res.T                                                        # (E2)
    h = tanh_q12(_rr(a, QF), st.tanh_lut)
    st.x = st.x + _rr(f["leak"] * (h - st.x), QF)
    feat = np.hstack([st.x, np.full((st.x.shape[0], 1), 1 << QF, np.int64)])
    q = np.clip(feat @ st.w_out.T, -Q_MAX, Q_MAX)                                                  # (E3)
    if st.decided:                                                                                  # (E6)
        r = -np.abs(np.asarray(reads["c_soma"], np.int64) - f["c_opt"])
        q_prev = np.clip(np.einsum("ij,ij->i", st.f_prev, st.w_out[st.a_prev]), -Q_MAX, Q_MAX)
        td = np.clip((r << OF) + _rr(f["gamma"] * q.max(axis=1), QF) - q_prev, -Q_MAX, Q_MAX)
        step = _rr(f["lr"] * _rr(td, QF), OF)
        for m in range(st.x.shape[0]):
            row = st.w_out[st.a_prev[m]]
            row[:] = np.clip(row + _rr(step[m] * st.f_prev[m], QF), -2 ** 31, 2 ** 31 - 1)
    act = np.argmax(q, axis=1).astype(np.int64)                                                     # (E4)
    s = st.rng
    eps = int(f["eps"])
    if st.anneal and st.n_decided < st.greedy_after:       # Python ints: eps * greedy_after exceeds int64
        eps = eps * (st.greedy_after - st.n_decided) // st.greedy_after
    if st.greedy_after < 0 or st.n_decided < st.greedy_after:
        for m in range(act.size):
            s = xorshift32(s)
            if s < eps:
                s = xorshift32(s)
                act[m] = (s * N_ACT) >> 32
    st.rng = s
    st.n_decided += 1
    st.f_prev, st.a_prev, st.decided = feat, act, True
    st.level = np.clip(st.level + np.array([0, -1, 1], np.int64)[act], -f["levels"], f["levels"])   # (E5)
    return {"secr_scale": st.secr_lut[st.level + f["levels"]]}
