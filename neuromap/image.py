"""The hardware image: what a compiled network is, and its on-disk format.

An :class:`Image` is the single contract between the compiler and everything
that runs a compiled network (the emulator, the Lava backend, reports). It is
plain data: dataclasses of numpy struct-of-arrays in hardware integers. This
module is a leaf: it imports only numpy, the standard library and
:mod:`neuromap.errors`. ``docs/image-format.md`` documents every field.

Index spaces
------------
* **neurons** (compartments), global index ``0..N-1``. Every population of
  neurons owns a contiguous range ``[start, start + size)``. Each neuron sits on
  one core (``neurons.core``) at a core-local slot (``neurons.slot``).
* **inputs** (spike sources driven by the host), global index ``0..I-1``; every
  input population owns a contiguous range.
* **sources** = neurons followed by inputs: source id ``s < N`` is neuron ``s``,
  ``s >= N`` is input ``s - N``. The routing table is indexed by source id.
* **axons**: per core, core-local axon ids ``0..``; globally the axons are
  sorted by core, so the global axon id of (core ``c``, axon ``a``) is
  ``cores.axon_ptr[c] + a``. Every axon belongs to one projection and owns a
  contiguous run of synapses ``axons.syn_ptr[g]:axons.syn_ptr[g+1]``.

One step of a Loihi-style core (semantics: ``docs/emulator.md``): every spike
of source ``s`` at step ``t`` travels each route ``(core, axon, delay_r)`` of
``s`` and each synapse ``(post, weight, delay)`` of that axon adds
``weight`` to the dendritic accumulator of ``post`` for step
``t + delay + delay_r`` (after the per-projection ``weight_exp`` shift).

Saved as a directory: ``manifest.json`` (format version, target, source hash,
compiler options, metadata, sha256 of every array) + ``arrays.npz``.
:func:`load_image` checks the version, every checksum and every invariant
(:meth:`Image.verify`); anything else is an :class:`~neuromap.errors.ImageError`.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuromap import image_files as _files
from neuromap import learning_engines
from neuromap.errors import ImageError

#: bump on any incompatible change of the fields below
FORMAT_VERSION = 1

#: core kinds an image may contain; ``loihi_lif`` is the Lava-LIF compartment
#: core (this issue); ``truenorth`` is reserved for TrueNorth-style cores.
CORE_KINDS = ("loihi_lif", "truenorth")

SIGN_MODES = ("mixed", "excitatory", "inhibitory")

#: Lava ``SignMode`` enum values (lava/utils/weightutils.py) of each sign mode
LAVA_SIGN_MODE = {"mixed": 1, "excitatory": 2, "inhibitory": 3}

#: widths of hardware fields (Lava 0.10.0 ``PyLifModelBitAcc`` / ``PyDenseModelBitAcc``)
DU_MAX = DV_MAX = 4095        # unsigned 12 bit
VTH_MAX = 131071              # unsigned 17 bit
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095   # signed 13 bit
BIAS_EXP_MIN, BIAS_EXP_MAX = 0, 7            # 3 bit
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7
MAX_DELAY = 64                # synaptic delay in steps; Lava delay = delay - 1 in 0..63
UV_MIN, UV_MAX = -(2 ** 31), 2 ** 31 - 1      # u/v are stored in int32



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
            return "bias_exponent_bits", (f"bias_mant << bias_exp reaches 2**{self.bias_mantissa_bits - 1 + self.bias_exp_max}"
                                          ", beyond the 32-bit working register")
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

_NEURON_FIELDS = {  # name -> dtype
    "core": np.int32, "slot": np.int32,
    "du": np.uint16, "dv": np.uint16, "vth": np.int32,
    "bias_mant": np.int16, "bias_exp": np.int8,
    "u_init": np.int32, "v_init": np.int32,
}
#: optional per-neuron fields (absent = all zero): refractory period in steps (neuromap extension)
_NEURON_OPTIONAL = {"refractory": np.uint8}
_SYN_FIELDS = {"post": np.int32, "weight": np.int16, "delay": np.uint8}
_AXON_FIELDS = {"proj": np.int32, "syn_ptr": np.int64}
_CORE_FIELDS = {"kind": np.int8, "axon_ptr": np.int64}
#: optional per-core mesh position (written by the ``place`` pass; absent in older images)
_CORE_OPTIONAL = {"tile_x": np.int32, "tile_y": np.int32, "chip": np.int32}
_ROUTE_FIELDS = {"src_ptr": np.int64, "core": np.int32, "axon": np.int32, "delay": np.uint8}
_INPUT_FIELDS = {"spike_step": np.int64, "spike_index": np.int32, "poisson_p": np.float64}

# ---- TrueNorth-style cores (core kind ``truenorth``; docs/image-format.md, docs/truenorth.md).
# Present only in images whose ``core_kinds`` is ``["truenorth"]``; checked by :func:`_verify_truenorth`.
#: per-neuron Cassidy et al. (2013) parameters, 1-d (N,); V at tick 0 is ``neurons.v_init``
_TN_NEURON_FIELDS = {"tn_lambda": np.int16, "tn_c_lambda": np.uint8, "tn_epsilon": np.uint8,
                     "tn_alpha": np.int32, "tn_beta": np.int32, "tn_TM": np.uint8, "tn_gamma": np.uint8,
                     "tn_kappa": np.uint8, "tn_R": np.int32}
#: per-neuron, per-axon-type fields, 2-d (N, 4): weight s_j^G and stochastic-synapse bit b_j^G
_TN_NEURON_TYPE_FIELDS = {"tn_s": np.int16, "tn_b": np.uint8}
#: per-axon type G_i (0..3)
_TN_AXON_FIELDS = {"tn_type": np.uint8}
#: field -> inclusive range (signed 9-bit weights/leak, 18-bit thresholds and reset, 1-bit flags)
_TN_RANGES = {"tn_lambda": (-255, 255), "tn_c_lambda": (0, 1), "tn_epsilon": (0, 1),
              "tn_alpha": (0, 2 ** 18 - 1), "tn_beta": (0, 2 ** 18 - 1), "tn_TM": (0, 17), "tn_gamma": (0, 2),
              "tn_kappa": (0, 1), "tn_R": (-(2 ** 17), 2 ** 17 - 1), "tn_s": (-255, 255), "tn_b": (0, 1),
              "tn_type": (0, 3)}
TN_V_MIN, TN_V_MAX = -(2 ** 19), 2 ** 19 - 1     # V: signed 20 bit
TN_MIN_DELAY, TN_MAX_DELAY = 1, 15               # axonal delay of a neuron's route (4 bit)
TN_CORE_AXONS = TN_CORE_NEURONS = 256


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


@dataclass
class PopulationMap:
    """Where a population of the source network lives in the image.

    kind ``neuron``: neurons ``[start, start+size)``; kind ``input``: inputs
    ``[start, start+size)``. ``model`` is the network model name
    (``loihi_lif``, ``spike_source``, ``poisson`` ...).
    """

    name: str
    kind: str
    model: str
    start: int
    size: int


@dataclass
class ProjectionMap:
    """Per-projection synapse configuration shared by all its axons/synapses.

    weight_exp: signed 4 bit (-8..7): the per-step sum of a projection's
    weights onto one (post, delay) is shifted left (right if negative,
    arithmetic, i.e. floor) by it. num_weight_bits 1..8 and sign_mode describe
    how weights are stored (:func:`encode_weights`). ``storage`` is a hint for
    backends (``dense`` crossbar or ``sparse`` rows); the image always stores
    rows. ``learning`` is ``None`` or the learning-engine configuration
    (a JSON dict whose ``"engine"`` names the engine: ``loihi`` for Lava's
    2-factor rules, or a neuromap integer seed rule; docs/learning.md) and
    ``learning_arrays`` its per-synapse arrays (saved as ``proj.<k>.learning.<name>``).
    """

    name: str
    pre: str
    post: str
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str = "mixed"
    storage: str = "sparse"
    learning: dict[str, Any] | None = None
    learning_arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ProbeMap:
    """Record ``variables`` of ``population``; ``neurons`` are population-local indices for u/v
    (spikes are always recorded for every neuron and input)."""

    population: str
    variables: tuple[str, ...] = ("spikes",)
    neurons: np.ndarray | None = None


@dataclass
class Image:
    """A compiled network.

    Array groups (struct-of-arrays, dtypes fixed; see module docstring):

    * ``neurons`` (N): core, slot, du, dv (uint16, 12 bit), vth (int32, 17 bit
      unsigned), bias_mant (int16, 13 bit signed), bias_exp (int8, 0..7),
      u_init/v_init (int32).
    * ``cores`` (C): kind (int8 index into ``core_kinds``), axon_ptr (C+1, int64);
      optional tile_x, tile_y (int32 board-wide router coordinates) and chip (int32), all or none.
    * ``axons`` (A): proj (int32 projection index), syn_ptr (A+1, int64).
    * ``synapses`` (S): post (int32 global neuron), weight (int16 stored
      weight), delay (uint8, 1..64; 1 = next step).
    * ``routes``: src_ptr (N+I+1, int64) over source ids; per entry core
      (int32), axon (int32 core-local), delay (uint8 extra axonal delay,
      0 on Loihi-style cores).
    * ``inputs``: spike_step (int64) / spike_index (int32 input id) sorted by
      step (explicit spike times); poisson_p (I, float64: expected events per
      step of Poisson inputs (a Bernoulli probability up to 1, a Poisson count mean above: several
      events per step), NaN for explicit-time inputs).
    * TrueNorth images (``core_kinds == ["truenorth"]``) add ``neurons.tn_*`` (``tn_s``/``tn_b`` (N, 4))
      and ``axons.tn_type`` (:data:`_TN_NEURON_FIELDS`, :func:`_verify_truenorth`, docs/image-format.md).
    """

    target: str
    constants: dict[str, Any]
    core_kinds: list[str]
    populations: list[PopulationMap]
    projections: list[ProjectionMap]
    probes: list[ProbeMap]
    neurons: dict[str, np.ndarray]
    cores: dict[str, np.ndarray]
    axons: dict[str, np.ndarray]
    synapses: dict[str, np.ndarray]
    routes: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    seed: int = 0
    source_hash: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    network_name: str = "network"
    format_version: int = FORMAT_VERSION
    #: neuron arithmetic of the loihi_lif cores (manifest ``arithmetic``; absent = Loihi's)
    arithmetic: LifArithmetic = LOIHI_ARITHMETIC

    # ------------------------------------------------------------------ sizes
    @property
    def n_neurons(self) -> int:
        return int(self.neurons["core"].shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.inputs["poisson_p"].shape[0])

    @property
    def n_cores(self) -> int:
        return int(self.cores["kind"].shape[0])

    @property
    def n_axons(self) -> int:
        return int(self.axons["proj"].shape[0])

    @property
    def n_synapses(self) -> int:
        return int(self.synapses["post"].shape[0])

    def population(self, name: str) -> PopulationMap:
        for p in self.populations:
            if p.name == name:
                return p
        raise ImageError(f"image has no population {name!r}")

    def source_ids(self, pop: PopulationMap) -> np.ndarray:
        """Source ids (routing-table index) of a population's members."""
        base = 0 if pop.kind == "neuron" else self.n_neurons
        return np.arange(base + pop.start, base + pop.start + pop.size, dtype=np.int64)

    def synapse_projections(self) -> np.ndarray:
        """Projection index of every synapse (int64[S], image synapse order), from its axon's ``proj``."""
        return np.repeat(self.axons["proj"].astype(np.int64), np.diff(self.axons["syn_ptr"].astype(np.int64)))

    def max_delay(self) -> int:
        """Largest total delay (synaptic + axonal) in steps; 1 if there are no synapses."""
        d = int(self.synapses["delay"].max()) if self.n_synapses else 1
        r = int(self.routes["delay"].max()) if self.routes["delay"].size else 0
        return max(1, d + r)

    # ------------------------------------------------------------- checking
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array under its archive name (``neurons.du``, ``proj.0.learning.x`` ...)."""
        out = {}
        for group in ("neurons", "cores", "axons", "synapses", "routes", "inputs"):
            for k, v in getattr(self, group).items():
                out[f"{group}.{k}"] = v
        for i, p in enumerate(self.projections):
            for k, v in p.learning_arrays.items():
                out[f"proj.{i}.learning.{k}"] = v
        return out

    def verify(self) -> None:
        """Check every invariant of the format; raise a one-line :class:`ImageError` on the first violation."""
        if self.format_version != FORMAT_VERSION:
            raise ImageError(f"image format version {self.format_version} is not supported "
                             f"(this neuromap reads version {FORMAT_VERSION}; recompile the network)")
        for group, spec in (("neurons", _NEURON_FIELDS), ("synapses", _SYN_FIELDS), ("axons", _AXON_FIELDS),
                            ("cores", _CORE_FIELDS), ("routes", _ROUTE_FIELDS), ("inputs", _INPUT_FIELDS)):
            arrs = getattr(self, group)
            for k, dt in spec.items():
                if k not in arrs:
                    raise ImageError(f"image array {group}.{k} is missing")
                a = arrs[k]
                if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != 1:
                    raise ImageError(f"image array {group}.{k} must be 1-d {np.dtype(dt).name}, "
                                     f"got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
        N, C, A, S, I = self.n_neurons, self.n_cores, self.n_axons, self.n_synapses, self.n_inputs
        for group, n, keys in (("neurons", N, _NEURON_FIELDS), ("synapses", S, _SYN_FIELDS)):
            for k in keys:
                if getattr(self, group)[k].shape[0] != n:
                    raise ImageError(f"image array {group}.{k} has length {getattr(self, group)[k].shape[0]}, "
                                     f"expected {n}")
        _len(self.cores["axon_ptr"], C + 1, "cores.axon_ptr")
        have = [k for k in _CORE_OPTIONAL if k in self.cores]
        if have and len(have) != len(_CORE_OPTIONAL):
            raise ImageError(f"image cores.{have[0]} needs cores.{', cores.'.join(sorted(set(_CORE_OPTIONAL) - set(have)))}")
        for k in have:
            a = self.cores[k]
            if not isinstance(a, np.ndarray) or a.dtype != _CORE_OPTIONAL[k] or a.ndim != 1:
                raise ImageError(f"image array cores.{k} must be 1-d int32")
            _len(a, C, f"cores.{k}")
            _rng(a, 0, None, f"cores.{k}")
        _len(self.axons["syn_ptr"], A + 1, "axons.syn_ptr")
        _len(self.routes["src_ptr"], N + I + 1, "routes.src_ptr")
        R = int(self.routes["core"].shape[0])
        _len(self.routes["axon"], R, "routes.axon")
        _len(self.routes["delay"], R, "routes.delay")
        _len(self.inputs["spike_index"], self.inputs["spike_step"].shape[0], "inputs.spike_index")
        _ptr(self.cores["axon_ptr"], A, "cores.axon_ptr")
        _ptr(self.axons["syn_ptr"], S, "axons.syn_ptr")
        _ptr(self.routes["src_ptr"], R, "routes.src_ptr")
        for name in self.core_kinds:
            if name not in CORE_KINDS:
                raise ImageError(f"image core kind {name!r} is unknown (known: {', '.join(CORE_KINDS)})")
        _rng(self.cores["kind"], 0, len(self.core_kinds) - 1, "cores.kind")
        nu = self.neurons
        _rng(nu["core"], 0, C - 1, "neurons.core")
        _rng(nu["slot"], 0, None, "neurons.slot")
        if N and np.unique(nu["core"].astype(np.int64) << 32 | nu["slot"].astype(np.int64)).shape[0] != N:
            raise ImageError("image neurons.slot: two neurons share a (core, slot)")
        ar = self.arithmetic
        if not isinstance(ar, LifArithmetic) or ar.problem():
            raise ImageError(f"image arithmetic: {ar.problem() if isinstance(ar, LifArithmetic) else type(ar).__name__}"
                             " is not an arithmetic the emulator implements (recompile)")
        _rng(nu["du"], 0, ar.decay_max, "neurons.du")
        _rng(nu["dv"], 0, ar.decay_max, "neurons.dv")
        _rng(nu["vth"], 0, ar.vth_max, "neurons.vth")
        _rng(nu["bias_mant"], ar.bias_mant_min, ar.bias_mant_max, "neurons.bias_mant")
        _rng(nu["bias_exp"], BIAS_EXP_MIN, ar.bias_exp_max, "neurons.bias_exp")
        for k, dt in _NEURON_OPTIONAL.items():
            if k in nu:
                a = nu[k]
                if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != 1:
                    raise ImageError(f"image array neurons.{k} must be 1-d {np.dtype(dt).name}")
                _len(a, N, f"neurons.{k}")
        _rng(self.axons["proj"], 0, len(self.projections) - 1, "axons.proj")
        sy = self.synapses
        _rng(sy["post"], 0, N - 1, "synapses.post")
        _rng(sy["delay"], 1, MAX_DELAY, "synapses.delay")
        rt = self.routes
        _rng(rt["core"], 0, C - 1, "routes.core")
        n_ax_core = np.diff(self.cores["axon_ptr"])
        if R and (np.any(rt["axon"] < 0) or np.any(rt["axon"] >= n_ax_core[rt["core"]])):
            raise ImageError("image routes.axon: a route names an axon its core does not have")
        _rng(rt["delay"], 0, MAX_DELAY, "routes.delay")
        inp = self.inputs
        _rng(inp["spike_index"], 0, I - 1, "inputs.spike_index")
        _rng(inp["spike_step"], 0, None, "inputs.spike_step")
        if np.any(np.diff(inp["spike_step"]) < 0):
            raise ImageError("image inputs.spike_step must be sorted")
        p = inp["poisson_p"]
        if np.any((p[~np.isnan(p)] < 0) | ~np.isfinite(p[~np.isnan(p)])):
            raise ImageError("image inputs.poisson_p must be a finite count of events per step >= 0 or NaN")
        # synapses of an axon target neurons of the axon's core, with the projection's weight encoding
        if S:
            n_syn_ax = np.diff(self.axons["syn_ptr"])
            core_of_ax = np.repeat(np.arange(C, dtype=np.int32), n_ax_core)
            if np.any(nu["core"][sy["post"]] != np.repeat(core_of_ax, n_syn_ax)):
                raise ImageError("image synapses.post: a synapse targets a neuron on another core than its axon")
            del core_of_ax
            per_proj = np.bincount(self.axons["proj"], weights=n_syn_ax, minlength=len(self.projections))
            for k, pm in enumerate(self.projections):   # settings first, then every weight at once
                _check_projection(k, pm, np.zeros(0, np.int64), n_syn=int(per_proj[k]))
            if "truenorth" not in self.core_kinds:     # TN weights: _verify_truenorth
                _check_weights(self, np.repeat(self.axons["proj"], n_syn_ax))
        else:
            for k, pm in enumerate(self.projections):
                _check_projection(k, pm, np.zeros(0, np.int64))
        names = set()
        for pop in self.populations:
            if pop.name in names:
                raise ImageError(f"image population {pop.name!r} appears twice")
            names.add(pop.name)
            total = N if pop.kind == "neuron" else I if pop.kind == "input" else None
            if total is None:
                raise ImageError(f"image population {pop.name!r} has kind {pop.kind!r} (use neuron or input)")
            if pop.start < 0 or pop.size < 0 or pop.start + pop.size > total:
                raise ImageError(f"image population {pop.name!r} range [{pop.start}, {pop.start + pop.size}) "
                                 f"exceeds the {total} {pop.kind}s")
        for pr in self.probes:
            pop = self.population(pr.population)
            if pr.neurons is not None and pr.neurons.size and (pr.neurons.min() < 0 or pr.neurons.max() >= pop.size):
                raise ImageError(f"image probe of {pr.population!r}: neuron index out of range")
            bad = [v for v in pr.variables if v not in ("spikes", "u", "v")]
            if bad or (pop.kind == "input" and set(pr.variables) - {"spikes"}):
                raise ImageError(f"image probe of {pr.population!r}: cannot record {bad or list(pr.variables)}")

        if "truenorth" in self.core_kinds:
            _verify_truenorth(self)
        else:
            _verify_capacities(self)

    # ------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write the image directory atomically (temp dir + atomic exchange, :mod:`neuromap.image_files`).

        ``path`` may be absent, an empty directory or a neuromap image (which is replaced); anything else
        (a directory with other files, a file) is refused unless ``force``. ``manifest.json`` carries
        ``manifest_sha256``, the checksum of all its other fields."""
        self.verify()
        path = Path(path)
        _files.recover(path)
        _files.check_replaceable(path, force)
        arrays = self.arrays()
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        manifest = {
            "format": "neuromap-image",
            "format_version": self.format_version,
            "target": self.target,
            "network_name": self.network_name,
            "source_hash": self.source_hash,
            "seed": int(self.seed),
            "options": self.options,
            "constants": self.constants,
            "core_kinds": list(self.core_kinds),
            **({"arithmetic": self.arithmetic.to_dict()} if "loihi_lif" in self.core_kinds else {}),
            "populations": [vars(p) for p in self.populations],
            "projections": [{k: v for k, v in vars(p).items() if k != "learning_arrays"}
                            for p in self.projections],
            "probes": [{"population": p.population, "variables": list(p.variables),
                        "neurons": None if p.neurons is None else [int(i) for i in p.neurons]}
                       for p in self.probes],
            "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape), "sha256": _digest(v)}
                       for k, v in arrays.items()},
        }
        manifest = json.loads(json.dumps(manifest, default=_json_default))   # what load_image will see
        manifest["manifest_sha256"] = _files.manifest_digest(manifest)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            (tmp / "arrays.npz").write_bytes(buf.getvalue())
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            _files.replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def load_image(path: str | os.PathLike) -> Image:
    """Read an image directory as untrusted input (:mod:`neuromap.image_files`): regular files only, the
    manifest's checksum and schema, array headers against the manifest before allocation, every array's
    checksum, then every invariant (:meth:`Image.verify`). Any problem is one :class:`ImageError` line."""
    path = Path(path)
    _files.recover(path)
    m = _files.read_manifest(path, FORMAT_VERSION)
    arrays = _files.read_arrays(path, m["arrays"])
    for k, meta in m["arrays"].items():
        if _digest(arrays[k]) != meta["sha256"]:
            raise ImageError(f"{path}: array {k!r} fails its checksum (image edited or truncated; recompile)")

    def grp(name):
        return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(name + ".")}

    projections = []
    for i, p in enumerate(m["projections"]):
        la = {k.split(".", 3)[3]: v for k, v in arrays.items()
              if k.startswith(f"proj.{i}.learning.") and k.count(".") >= 3}
        projections.append(ProjectionMap(**p, learning_arrays=la))
    img = Image(
        target=m["target"], constants=m["constants"], core_kinds=list(m["core_kinds"]),
        populations=[PopulationMap(**p) for p in m["populations"]],
        projections=projections,
        probes=[ProbeMap(p["population"], tuple(p["variables"]),
                         None if p["neurons"] is None else np.asarray(p["neurons"], dtype=np.int64))
                for p in m["probes"]],
        neurons=grp("neurons"), cores=grp("cores"), axons=grp("axons"), synapses=grp("synapses"),
        routes=grp("routes"), inputs=grp("inputs"),
        seed=m["seed"], source_hash=m["source_hash"], options=m["options"],
        network_name=m["network_name"], format_version=m["format_version"],
        arithmetic=(LifArithmetic.from_dict(m["arithmetic"], str(path / "manifest.json")) if "arithmetic" in m
                    else LOIHI_ARITHMETIC))
    img.verify()
    return img


# ---------------------------------------------------------------- helpers
def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in an image manifest")


def _len(a: np.ndarray, n: int, name: str) -> None:
    if a.shape[0] != n:
        raise ImageError(f"image array {name} has length {a.shape[0]}, expected {n}")


def _ptr(a: np.ndarray, end: int, name: str) -> None:
    if a[0] != 0 or a[-1] != end or np.any(np.diff(a) < 0):
        raise ImageError(f"image array {name} is not a valid offset array (0 .. {end}, non-decreasing)")


def _rng(a: np.ndarray, lo: int, hi: int | None, name: str) -> None:
    if a.size and (a.min() < lo or (hi is not None and a.max() > hi)):
        bad = a[(a < lo) | (a > hi)][0] if hi is not None else a[a < lo][0]
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ImageError(f"image array {name} holds {bad}, outside {rng}")


def _check_weights(img: "Image", proj_of_syn: np.ndarray) -> None:
    """Every stored weight representable in its projection's encoding (O(synapses), one pass);
    the first projection with a bad weight gets :func:`_check_projection`'s message."""
    lo, hi, step = (np.array([f(pm) for pm in img.projections], np.int32) for f in
                    (lambda pm: weight_range(pm.sign_mode)[0], lambda pm: weight_range(pm.sign_mode)[1],
                     lambda pm: weight_step(pm.sign_mode, pm.num_weight_bits)))
    w = img.synapses["weight"]
    bad = (w < lo[proj_of_syn]) | (w > hi[proj_of_syn]) | ((w & (step[proj_of_syn] - 1)) != 0)
    if bad.any():
        k = int(proj_of_syn[int(np.argmax(bad))])
        _check_projection(k, img.projections[k], w[proj_of_syn == k].astype(np.int64))


def _check_projection(k: int, pm: ProjectionMap, w: np.ndarray, n_syn: int | None = None) -> None:
    where = f"image projection {k} ({pm.name})"
    if pm.sign_mode not in SIGN_MODES:
        raise ImageError(f"{where}: sign_mode {pm.sign_mode!r} is not one of {', '.join(SIGN_MODES)}")
    if not (1 <= pm.num_weight_bits <= 8):
        raise ImageError(f"{where}: num_weight_bits {pm.num_weight_bits} is outside [1, 8]")
    if not (WEIGHT_EXP_MIN <= pm.weight_exp <= WEIGHT_EXP_MAX):
        raise ImageError(f"{where}: weight_exp {pm.weight_exp} is outside [{WEIGHT_EXP_MIN}, {WEIGHT_EXP_MAX}]")
    lo, hi = weight_range(pm.sign_mode)
    step = weight_step(pm.sign_mode, pm.num_weight_bits)
    if w.size and (w.min() < lo or w.max() > hi or np.any(w % step)):
        raise ImageError(f"{where}: a stored weight is not representable with sign_mode={pm.sign_mode}, "
                         f"num_weight_bits={pm.num_weight_bits} (range [{lo}, {hi}], multiples of {step})")
    _check_learning(where, pm, w.size if n_syn is None else n_syn)


def _check_learning(where: str, pm: ProjectionMap, n_syn: int) -> None:
    """``learning`` / ``learning_arrays`` against the engine's typed schema
    (:func:`neuromap.learning_engines.verify`: every field's type and range, the engine's tables; for
    ``loihi`` also the projection's sign_mode and num_weight_bits); arrays are numeric numpy arrays."""
    lr, arrs = pm.learning, pm.learning_arrays
    if lr is None:
        if arrs:
            raise ImageError(f"{where}: learning arrays without a learning configuration")
        return
    if not isinstance(lr, dict) or not isinstance(lr.get("engine"), str) or not lr["engine"]:
        raise ImageError(f"{where}: learning must be a dict naming its engine (e.g. \"engine\": \"loihi\")")
    for name, a in arrs.items():
        if not isinstance(a, np.ndarray) or a.ndim < 1 or a.dtype.kind not in "iuf":
            raise ImageError(f"{where}: learning array {name!r} must be a numeric numpy array")
    learning_engines.verify(lr, arrs, n_syn, pm.sign_mode, pm.num_weight_bits, where)


def _verify_capacities(img: "Image") -> None:
    """Every axon is named by exactly one route, and every core fits the capacities the image records
    in ``constants`` (:mod:`neuromap.capacity`, the accounting packing and ``inspect`` use)."""
    from neuromap.capacity import CoreLimits, image_usage, violations
    A = img.n_axons
    if A:
        g = img.cores["axon_ptr"][img.routes["core"]] + img.routes["axon"]
        n_routes = np.bincount(g, minlength=A)
        if np.any(n_routes != 1):
            a = int(np.flatnonzero(n_routes != 1)[0])
            raise ImageError(f"image routes: axon {a} is named by {int(n_routes[a])} routes (each axon has exactly "
                             "one source; recompile)")
    limits = CoreLimits.from_constants(img.constants)
    if limits is None:
        return
    bad = violations(image_usage(img, limits), limits)
    if bad:
        raise ImageError(f"image exceeds a core's capacity: {bad[0]} ({len(bad)} violation(s); "
                         "recompile with a placer that respects the target)")


def _verify_truenorth(img: "Image") -> None:
    """Invariants of a TrueNorth image (docs/image-format.md, *TrueNorth cores*): every core is
    ``truenorth`` with <= 256 axons and neurons, every TN field has its dtype, shape and bit width, a
    synapse's stored weight is ``tn_s[post, tn_type[axon]]`` (crossbar bit set), one synapse per
    (axon, neuron), synaptic delay 1, a neuron has at most one route (fan-out 1) with delay 1..15."""
    if img.core_kinds != ["truenorth"]:
        raise ImageError(f"image core_kinds {img.core_kinds}: a TrueNorth image has core_kinds ['truenorth'] "
                         "only (mixing core kinds is not supported; recompile)")
    N, C, A = img.n_neurons, img.n_cores, img.n_axons
    nu, ax, sy, rt = img.neurons, img.axons, img.synapses, img.routes
    for group, spec, shape in (("neurons", _TN_NEURON_FIELDS, (N,)), ("neurons", _TN_NEURON_TYPE_FIELDS, (N, 4)),
                               ("axons", _TN_AXON_FIELDS, (A,))):
        for k, dt in spec.items():
            a = getattr(img, group).get(k)
            if a is None:
                raise ImageError(f"image array {group}.{k} is missing (TrueNorth images need it; recompile)")
            if not isinstance(a, np.ndarray) or a.dtype != dt or a.shape != shape:
                raise ImageError(f"image array {group}.{k} must be {np.dtype(dt).name} of shape {shape}, "
                                 f"got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
            _rng(a.reshape(-1), *_TN_RANGES[k], f"{group}.{k}")
    _rng(nu["v_init"], TN_V_MIN, TN_V_MAX, "neurons.v_init")
    for k in ("du", "dv", "vth", "bias_mant", "bias_exp", "u_init"):
        if np.any(nu[k] != 0):
            raise ImageError(f"image array neurons.{k} must be 0 on truenorth cores (unused field)")
    _rng(nu["slot"], 0, TN_CORE_NEURONS - 1, "neurons.slot")
    n_ax = np.diff(img.cores["axon_ptr"])
    if C and n_ax.max() > TN_CORE_AXONS:
        raise ImageError(f"image cores.axon_ptr: core {int(np.argmax(n_ax))} has {int(n_ax.max())} axons, "
                         f"more than {TN_CORE_AXONS} (recompile)")
    if np.any(sy["delay"] != 1):
        raise ImageError("image array synapses.delay must be 1 on truenorth cores (delays are axonal: routes.delay)")
    ax_of_syn = np.repeat(np.arange(A), np.diff(ax["syn_ptr"]))
    if sy["post"].size:
        if np.unique(ax_of_syn.astype(np.int64) * max(N, 1) + sy["post"]).size != sy["post"].size:
            raise ImageError("image synapses.post: two synapses join the same axon and neuron (one crossbar bit each)")
        implied = nu["tn_s"][sy["post"], ax["tn_type"][ax_of_syn]]
        bad = np.flatnonzero(sy["weight"] != implied)
        if bad.size:
            raise ImageError(f"image synapses.weight[{bad[0]}] = {sy['weight'][bad[0]]} differs from the crossbar's "
                             f"implied weight tn_s[post, tn_type[axon]] = {implied[bad[0]]} (recompile)")
    fan = np.diff(rt["src_ptr"])
    if N and fan[:N].max(initial=0) > 1:
        raise ImageError(f"image routes.src_ptr: neuron {int(np.argmax(fan[:N]))} has {int(fan[:N].max())} routes; "
                         "a TrueNorth neuron drives one axon (fan-out legalization adds splitters; recompile)")
    d = rt["delay"]
    if d.size and d.min() < TN_MIN_DELAY:
        raise ImageError(f"image array routes.delay holds {int(d.min())}; truenorth routes take >= 1 tick")
    nd = d[:rt["src_ptr"][N]]
    if nd.size and nd.max() > TN_MAX_DELAY:
        raise ImageError(f"image array routes.delay holds {int(nd.max())} on a neuron's route, outside "
                         f"[{TN_MIN_DELAY}, {TN_MAX_DELAY}] (4-bit axonal delay)")
