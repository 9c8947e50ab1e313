"""Core kind ``loihi_lif``: a Loihi-style compartment core running Lava 0.10's ``PyLifModelBitAcc``.

Declares what an image's ``loihi_lif`` cores mean: the neuron fields and their widths (``docs/image-format.md``,
*neurons*), the target's neuron arithmetic (:class:`LifArithmetic`, the manifest's ``arithmetic``), how the
synapse memory stores a weight (Lava's ``clip_weights`` / ``truncate_weights``: :func:`encode_weights`) and
:func:`verify`, the invariants of an image of these cores (every stored weight representable, every axon named
by one route, every core within the capacities the image records, :mod:`neuromap.capacity`).
Contract layer: imports numpy, :mod:`neuromap.errors`, :mod:`neuromap.capacity` and
:mod:`neuromap.core_kinds.fields` only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from neuromap.capacity import CoreLimits, image_usage, violations
from neuromap.core_kinds.fields import Field, check_length, check_range
from neuromap.errors import ImageError

NAME = "loihi_lif"

#: widths of hardware fields (Lava 0.10.0 ``PyLifModelBitAcc`` / ``PyDenseModelBitAcc``)
DU_MAX = DV_MAX = 4095        # unsigned 12 bit
VTH_MAX = 131071              # unsigned 17 bit
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095   # signed 13 bit
BIAS_EXP_MIN, BIAS_EXP_MAX = 0, 7            # 3 bit
UV_MIN, UV_MAX = -(2 ** 31), 2 ** 31 - 1      # u/v are stored in int32

SIGN_MODES = ("mixed", "excitatory", "inhibitory")

#: Lava ``SignMode`` enum values (lava/utils/weightutils.py) of each sign mode
LAVA_SIGN_MODE = {"mixed": 1, "excitatory": 2, "inhibitory": 3}


@dataclass(frozen=True)
class LifArithmetic:
    """Integer arithmetic of a ``loihi_lif`` core: Lava's ``PyLifModelBitAcc`` with the target's widths.

    One step (int32 working registers, as Lava; ``docs/targets.md``, *Neuron arithmetic*):
    ``u = wrap_u(wrap32(decay(u, 2**decay_bits - (du + 1)) + wrap32(wrap32(a_in) << activation_shift)))``,
    ``v = clip(wrap32(decay(v, 2**decay_bits - dv) + u + (bias_mant << bias_exp)), +-(2**(voltage_bits-1) - 1))``,
    spike where ``v > vth << threshold_shift``; ``decay(x, f) = sign(x f) (|x f| >> decay_bits)`` and
    ``wrap_u`` Lava's single conditional wrap into ``current_bits`` signed bits. Widths in bits.
    The defaults are Loihi's (Lava 0.10); images written before this field existed load as Loihi.
    """

    voltage_bits: int = 24       # signed v register; v saturates at +-(2**(voltage_bits-1) - 1)
    current_bits: int = 24       # signed u register; u wraps (once) into current_bits
    decay_bits: int = 12         # du, dv unsigned; decay = (du + 1) / 2**decay_bits, dv / 2**decay_bits
    threshold_bits: int = 17     # vth unsigned mantissa
    threshold_shift: int = 6     # threshold = vth << threshold_shift
    activation_shift: int = 6    # summed synaptic input << activation_shift into u
    bias_mantissa_bits: int = 13  # signed bias mantissa (0 = no bias)
    bias_exponent_bits: int = 3  # unsigned; bias = bias_mant << bias_exp

    #: inclusive range of each field the emulator implements (int32 registers; image field dtypes:
    #: du/dv uint16, vth int32, bias_mant int16, bias_exp int8)
    RANGES = {"voltage_bits": (2, 31), "current_bits": (2, 31), "decay_bits": (0, 16), "threshold_bits": (1, 31),
              "threshold_shift": (0, 31), "activation_shift": (0, 31), "bias_mantissa_bits": (0, 16),
              "bias_exponent_bits": (0, 4)}

    def problem(self) -> tuple[str, str] | None:
        """``(field, reason)`` of the first field outside what the emulator implements, else None."""
        for name, (lo, hi) in self.RANGES.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                return name, f"{v!r} is not an integer"
            if not lo <= v <= hi:
                return name, f"{v} is outside [{lo}, {hi}]"
        if self.bias_mantissa_bits and self.bias_mantissa_bits - 1 + self.bias_exp_max > 30:
            top = self.bias_mantissa_bits - 1 + self.bias_exp_max
            return "bias_exponent_bits", f"bias_mant << bias_exp reaches 2**{top}, beyond the 32-bit working register"
        return None

    @property
    def decay_unity(self) -> int:
        return 1 << self.decay_bits

    @property
    def decay_max(self) -> int:
        """Largest du / dv."""
        return (1 << self.decay_bits) - 1

    @property
    def vth_max(self) -> int:
        return (1 << self.threshold_bits) - 1

    @property
    def bias_mant_max(self) -> int:
        return (1 << (self.bias_mantissa_bits - 1)) - 1 if self.bias_mantissa_bits else 0

    @property
    def bias_mant_min(self) -> int:
        return -(1 << (self.bias_mantissa_bits - 1)) if self.bias_mantissa_bits else 0

    @property
    def bias_exp_max(self) -> int:
        return (1 << self.bias_exponent_bits) - 1

    @property
    def u_half(self) -> int:
        """``2**(current_bits - 1)``: u wraps once when it leaves ``(-u_half, u_half]``."""
        return 1 << (self.current_bits - 1)

    @property
    def v_limit(self) -> int:
        """v saturates at ``+-v_limit = 2**(voltage_bits - 1) - 1``."""
        return (1 << (self.voltage_bits - 1)) - 1

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.RANGES}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "LifArithmetic":
        """Checked inverse of :meth:`to_dict` (manifest ``arithmetic``); ImageError naming the field."""
        if not isinstance(d, dict) or set(d) != set(cls.RANGES):
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ImageError(f"{where}: arithmetic must be an object with exactly {', '.join(cls.RANGES)} "
                             f"(got {got}; recompile)")
        a = cls(**d)
        bad = a.problem()
        if bad:
            raise ImageError(f"{where}: arithmetic.{bad[0]}: {bad[1]} (recompile)")
        return a


#: Loihi (Lava 0.10 ``PyLifModelBitAcc``): the arithmetic of every image without an ``arithmetic`` field
LOIHI_ARITHMETIC = LifArithmetic()


def neuron_ranges(ar: LifArithmetic) -> dict[str, tuple[int, int]]:
    """Inclusive range of each ranged neuron field under arithmetic ``ar`` (the fields' widths follow it)."""
    return {"du": (0, ar.decay_max), "dv": (0, ar.decay_max), "vth": (0, ar.vth_max),
            "bias_mant": (ar.bias_mant_min, ar.bias_mant_max), "bias_exp": (BIAS_EXP_MIN, ar.bias_exp_max)}


_LOIHI_RANGES = neuron_ranges(LOIHI_ARITHMETIC)

#: per-neuron fields of a compartment (1-d, length N). Ranges shown are Loihi's; an image's ``arithmetic``
#: sets the widths it is checked against (:func:`neuron_ranges`). Format version 1 stores the required ones in
#: every image (TrueNorth images hold zeros).
FIELDS = (
    Field("neurons", "du", np.uint16, *_LOIHI_RANGES["du"],
          doc="current decay; u decays by `(4096 - (du+1)) / 4096` per step"),
    Field("neurons", "dv", np.uint16, *_LOIHI_RANGES["dv"],
          doc="voltage decay; v decays by `(4096 - dv) / 4096` per step"),
    Field("neurons", "vth", np.int32, *_LOIHI_RANGES["vth"], doc="threshold mantissa; effective threshold `vth << 6`"),
    Field("neurons", "bias_mant", np.int16, *_LOIHI_RANGES["bias_mant"], doc="bias mantissa"),
    Field("neurons", "bias_exp", np.int8, *_LOIHI_RANGES["bias_exp"],
          doc="bias exponent: bias = `bias_mant << bias_exp`"),
    Field("neurons", "u_init", np.int32, doc="u at step 0 (before the first update)"),
    Field("neurons", "v_init", np.int32, doc="v at step 0"),
    Field("neurons", "refractory", np.uint8, 0, 255, optional=True,
          doc="refractory period in steps (neuromap extension, see `docs/emulator.md`); absent = 0 for every "
              "neuron. The compiler writes it only when a population uses it, so images without refractory neurons "
              "are unchanged"),
    Field("neurons", "join_parent", np.int32, -1, None, optional=True,
          doc="multi-compartment join (neuromap extension, `docs/image-format.md` *Compartments*): -1 = a root "
              "compartment; otherwise the global id of the compartment this dendrite joins with ADD (its v of the "
              "step is added to the parent's v update); a dendrite never spikes. Absent = -1 for every neuron"),
)

#: state variables a probe may record on these cores
STATE_VARIABLES = ("u", "v")


# ------------------------------------------------------------------ synapse memory: weight encoding
def weight_step(sign_mode: str, num_weight_bits: int) -> int:
    """Granularity of a stored weight: ``2 ** (8 - num_weight_bits + mixed)``.

    (``truncate_weights`` in lava/utils/weightutils.py drops that many LSBs.)
    """
    return 1 << (8 - int(num_weight_bits) + (sign_mode == "mixed"))


def weight_range(sign_mode: str) -> tuple[int, int]:
    """Inclusive range of a stored weight (``clip_weights(num_bits=8)`` in lava/utils/weightutils.py)."""
    return {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[sign_mode]


def encode_weights(w: np.ndarray, sign_mode: str, num_weight_bits: int) -> np.ndarray:
    """Integer weights -> the values the synapse memory holds, exactly as Lava 0.10.0 does on its first step.

    ``clip_weights(w, sign_mode, num_bits=8)`` then ``truncate_weights(w, sign_mode,
    num_weight_bits)`` (lava/utils/weightutils.py): clip to :func:`weight_range`,
    then clear the low ``log2(weight_step)`` bits of ``w`` (``-w`` for inhibitory),
    i.e. round toward -inf for excitatory/mixed and toward +inf for inhibitory.
    Input must be integers representable in int32 (Lava casts with ``astype(np.int32)``).
    Returns int16.
    """
    w = np.asarray(w).astype(np.int32)  # Lava: weights.copy().astype(np.int32)
    lo, hi = weight_range(sign_mode)
    w = np.clip(w, lo, hi)
    k = 8 - int(num_weight_bits) + (sign_mode == "mixed")
    if sign_mode == "inhibitory":
        w = -((-w >> k) << k)
    else:
        w = (w >> k) << k
    return w.astype(np.int16)


def lava_sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode`` (used when a projection gives no sign mode)."""
    w = np.asarray(w)
    if w.size == 0 or np.min(w) >= 0:
        return "excitatory"
    if np.max(w) <= 0:
        return "inhibitory"
    return "mixed"


def weight_problem(sign_mode: str, num_weight_bits: int, w: np.ndarray) -> str | None:
    """Why a projection's stored weights ``w`` are not what its synapse memory can hold, else None."""
    lo, hi = weight_range(sign_mode)
    step = weight_step(sign_mode, num_weight_bits)
    if w.size and (w.min() < lo or w.max() > hi or np.any(w % step)):
        return (f"a stored weight is not representable with sign_mode={sign_mode}, "
                f"num_weight_bits={num_weight_bits} (range [{lo}, {hi}], multiples of {step})")
    return None


# ------------------------------------------------------------------------------------- verify
def verify(image: Any) -> None:
    """Invariants of an image of ``loihi_lif`` cores, after the format's own (:meth:`neuromap.image.Image.verify`):
    the arithmetic is one the emulator implements and every neuron field fits its width, every stored weight is
    representable in its projection's encoding, every axon is named by exactly one route, every core fits the
    capacities the image records in ``constants``. One-line :class:`ImageError` on the first violation."""
    ar = image.arithmetic
    if not isinstance(ar, LifArithmetic) or ar.problem():
        raise ImageError(f"image arithmetic: {ar.problem() if isinstance(ar, LifArithmetic) else type(ar).__name__}"
                         " is not an arithmetic the emulator implements (recompile)")
    nu = image.neurons
    for k, (lo, hi) in neuron_ranges(ar).items():
        check_range(nu[k], lo, hi, f"neurons.{k}")
    for f in FIELDS:
        if f.optional and f.name in nu:
            a = nu[f.name]
            if not isinstance(a, np.ndarray) or a.dtype != f.dtype or a.ndim != 1:
                raise ImageError(f"image array {f.key} must be 1-d {np.dtype(f.dtype).name}")
            check_length(a, image.n_neurons, f.key)
    if "join_parent" in nu:
        check_joins(nu["join_parent"], nu.get("refractory"), nu.get("core"))
    if image.n_synapses:
        _check_weights(image)
    _check_capacities(image)


def check_joins(parent: np.ndarray, refractory: np.ndarray | None = None, core: np.ndarray | None = None) -> None:
    """The compartment tree of ``neurons.join_parent`` is one level deep: every parent is a root compartment
    (-1) other than the dendrite itself, has at most one dendrite and no refractory period, and (given ``core``)
    lies on its dendrite's core (Loihi joins compartments of one core). One-line :class:`ImageError` otherwise."""
    n = parent.shape[0]
    check_range(parent, -1, n - 1, "neurons.join_parent")
    kids = np.flatnonzero(parent >= 0)
    if not kids.size:
        return
    par = parent[kids].astype(np.int64)
    if np.any(par == kids) or np.any(parent[par] >= 0):
        k = int(kids[np.flatnonzero((par == kids) | (parent[par] >= 0))[0]])
        raise ImageError(f"image array neurons.join_parent: compartment {k} joins {int(parent[k])}, which is itself "
                         "a dendrite (one level: a dendrite joins a root compartment; recompile)")
    if np.unique(par).size != par.size:
        raise ImageError("image array neurons.join_parent: a compartment has more than one dendrite (recompile)")
    if refractory is not None and np.any(refractory[par] > 0):
        raise ImageError("image array neurons.refractory: a compartment with a dendrite has a refractory period "
                         "(not supported with joins; recompile)")
    if core is not None and np.any(core[kids] != core[par]):
        k = int(kids[np.flatnonzero(core[kids] != core[par])[0]])
        raise ImageError(f"image array neurons.join_parent: compartment {k} (core {int(core[k])}) joins "
                         f"{int(parent[k])} on core {int(core[parent[k]])}; a join needs both on one core (recompile)")


def join_parents(image: Any) -> np.ndarray | None:
    """``neurons.join_parent`` as int64 when the image has at least one dendrite compartment, else None."""
    par = image.neurons.get("join_parent")
    if par is None or not np.any(par >= 0):
        return None
    return np.asarray(par, np.int64)


def manifest_fields(image: Any) -> dict[str, Any]:
    """Manifest fields of these cores: the neuron ``arithmetic``."""
    return {"arithmetic": image.arithmetic.to_dict()}


@numba.njit(cache=True)
def _first_bad_weight(syn_ptr, proj, w, lo, hi, step):  # pragma: no cover - compiled
    """Projection of the first axon holding a weight outside [lo, hi] of its projection or not a multiple of
    its step (a power of two), else -1: one pass over the synapses, no per-synapse temporaries."""
    for a in range(proj.shape[0]):
        p = proj[a]
        lo_p, hi_p, mask = lo[p], hi[p], step[p] - 1
        for k in range(syn_ptr[a], syn_ptr[a + 1]):
            x = np.int32(w[k])
            if x < lo_p or x > hi_p or (x & mask) != 0:
                return p
    return -1


def _check_weights(image: Any) -> None:
    """Every stored weight representable in its projection's encoding (O(synapses), one compiled pass); the
    message names the first projection with a bad weight."""
    lo, hi, step = (np.array([f(pm) for pm in image.projections], np.int32) for f in
                    (lambda pm: weight_range(pm.sign_mode)[0], lambda pm: weight_range(pm.sign_mode)[1],
                     lambda pm: weight_step(pm.sign_mode, pm.num_weight_bits)))
    w = image.synapses["weight"]
    k = int(_first_bad_weight(image.axons["syn_ptr"], image.axons["proj"], w, lo, hi, step))
    if k >= 0:
        pm = image.projections[k]
        of_k = np.repeat(image.axons["proj"] == k, np.diff(image.axons["syn_ptr"]))
        raise ImageError(f"image projection {k} ({pm.name}): "
                         + weight_problem(pm.sign_mode, pm.num_weight_bits, w[of_k].astype(np.int64)))


@numba.njit(cache=True)
def _axon_not_routed_once(axon_ptr, r_core, r_axon, n_axons):  # pragma: no cover - compiled
    """(first axon named by no route or by several, how many (counted up to 255)), else (-1, 1): a one-byte
    counter per axon, no per-route temporaries."""
    cnt = np.zeros(n_axons, np.uint8)
    for r in range(r_core.shape[0]):
        g = axon_ptr[r_core[r]] + r_axon[r]
        if cnt[g] < 255:
            cnt[g] += 1
    for a in range(n_axons):
        if cnt[a] != 1:
            return a, int(cnt[a])
    return -1, 1


def _check_capacities(image: Any) -> None:
    """Every axon is named by exactly one route, and every core fits the capacities the image records
    in ``constants`` (:mod:`neuromap.capacity`, the accounting packing and ``inspect`` use)."""
    A = image.n_axons
    if A:
        a, n = _axon_not_routed_once(image.cores["axon_ptr"], image.routes["core"], image.routes["axon"], A)
        if a >= 0:
            raise ImageError(f"image routes: axon {a} is named by {n} routes (each axon has exactly "
                             "one source; recompile)")
    limits = CoreLimits.from_constants(image.constants)
    if limits is None:
        return
    bad = violations(image_usage(image, limits), limits)
    if bad:
        raise ImageError(f"image exceeds a core's capacity: {bad[0]} ({len(bad)} violation(s); "
                         "recompile with a placer that respects the target)")
