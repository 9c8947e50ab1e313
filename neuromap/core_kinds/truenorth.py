"""Core kind ``truenorth``: a TrueNorth-style neurosynaptic core (Cassidy et al. 2013, Akopyan et al. 2015).

One core: at most :data:`CORE_AXONS` axons and :data:`CORE_NEURONS` neurons, a binary crossbar, an axon type
``G_i`` in ``0..N_TYPES-1`` per axon and per neuron the digital neuron's parameters with the widths below
(equations with every mode: ``docs/truenorth.md``, executed by :mod:`emulator.truenorth`). This module
declares them once for everybody: the image fields of a TrueNorth image (:data:`FIELDS`, the table of
``docs/image-format.md``, *TrueNorth cores*) and :func:`verify`; the per-core record :class:`TNCore` the
emulator and the Lava process run (:func:`make_core`, :func:`check_core`); the constants the neuron model
(:mod:`neuromap.neurons.truenorth`) and the fan-out legalization (:mod:`neuromap.truenorth.fanout`) use.
Contract layer: imports numpy, :mod:`neuromap.errors` and :mod:`neuromap.core_kinds.fields` only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from neuromap.core_kinds.fields import Field, check_range
from neuromap.errors import ImageError

NAME = "truenorth"

N_TYPES = 4                                                # axon types G = 0..3
CORE_AXONS = CORE_NEURONS = 256
V_BITS = 20
V_MIN, V_MAX = -(2 ** (V_BITS - 1)), 2 ** (V_BITS - 1) - 1   # signed 20 bit
S_MAX = 255                                                # |s|, |lambda| <= 255 (sign + 8 bit)
THRESH_MAX = 2 ** 18 - 1                                   # alpha, beta: unsigned 18 bit
R_MIN, R_MAX = -(2 ** 17), 2 ** 17 - 1                     # R: signed 18 bit
TM_MAX = 17                                                # eta <= 2**17 - 1
GAMMA_MAX = 2
MIN_DELAY, MAX_DELAY = 1, 15                               # 4-bit axonal delay

#: image fields of a TrueNorth image (present only in images whose ``core_kinds`` is ``["truenorth"]``), in the
#: order :func:`verify` checks them
FIELDS = (
    Field("neurons", "tn_lambda", np.int16, -S_MAX, S_MAX, doc="leak λ"),
    Field("neurons", "tn_c_lambda", np.uint8, 0, 1, doc="stochastic leak c^λ"),
    Field("neurons", "tn_epsilon", np.uint8, 0, 1, doc="leak reversal ε"),
    Field("neurons", "tn_alpha", np.int32, 0, THRESH_MAX, doc="positive threshold α"),
    Field("neurons", "tn_beta", np.int32, 0, THRESH_MAX, doc="negative threshold β"),
    Field("neurons", "tn_TM", np.uint8, 0, TM_MAX, doc="threshold mask width (η = draw & (2^TM − 1))"),
    Field("neurons", "tn_gamma", np.uint8, 0, GAMMA_MAX, doc="reset mode: 0 set to R, 1 linear, 2 none"),
    Field("neurons", "tn_kappa", np.uint8, 0, 1, doc="negative saturation κ"),
    Field("neurons", "tn_R", np.int32, R_MIN, R_MAX, doc="reset potential R"),
    Field("neurons", "tn_s", np.int16, -S_MAX, S_MAX, extra=(N_TYPES,), doc="synaptic weight s_j^G of axon type G"),
    Field("neurons", "tn_b", np.uint8, 0, 1, extra=(N_TYPES,), doc="stochastic synapse b_j^G of axon type G"),
    Field("neurons", "v_init", np.int32, V_MIN, V_MAX, doc="V at tick 0"),
    Field("axons", "tn_type", np.uint8, 0, N_TYPES - 1, doc="axon type G_i"),
)
#: Loihi compartment fields every version-1 image carries; 0 on TrueNorth cores
UNUSED_NEURON_FIELDS = ("du", "dv", "vth", "bias_mant", "bias_exp", "u_init")

#: state variables a probe may record on these cores (V only)
STATE_VARIABLES = ("v",)


# ------------------------------------------------------------------------------------- one core
@dataclass
class TNCore:
    """Configuration of one core (plain numpy arrays; ``A`` axons, ``N`` neurons).

    crossbar (A, N) bool; axon_type (A,) uint8 0..3; s (N, 4) int16; b (N, 4)
    bool; lam, c_lambda, epsilon, alpha, beta, TM, gamma, kappa, R, V0 (N,)
    (ranges: the constants above; V0 = V at tick 0, signed 20 bit);
    dest_core (N,) int32 (-1 = none), dest_axon (N,) int32, delay (N,) uint8 1..15.
    """

    crossbar: np.ndarray
    axon_type: np.ndarray
    s: np.ndarray
    b: np.ndarray
    lam: np.ndarray
    c_lambda: np.ndarray
    epsilon: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    TM: np.ndarray
    gamma: np.ndarray
    kappa: np.ndarray
    R: np.ndarray
    V0: np.ndarray
    dest_core: np.ndarray
    dest_axon: np.ndarray
    delay: np.ndarray

    @property
    def n_axons(self) -> int:
        return int(self.crossbar.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.crossbar.shape[1])


_DTYPES = {"crossbar": np.bool_, "axon_type": np.uint8, "s": np.int16, "b": np.bool_, "lam": np.int16,
           "c_lambda": np.bool_, "epsilon": np.bool_, "alpha": np.int32, "beta": np.int32, "TM": np.uint8,
           "gamma": np.uint8, "kappa": np.bool_, "R": np.int32, "V0": np.int32, "dest_core": np.int32,
           "dest_axon": np.int32, "delay": np.uint8}
_DEFAULTS = {"s": 0, "b": False, "lam": 0, "c_lambda": False, "epsilon": False, "alpha": 1, "beta": 0,
             "TM": 0, "gamma": 0, "kappa": False, "R": 0, "V0": 0, "dest_core": -1, "dest_axon": 0, "delay": 1}
_RANGES = {"axon_type": (0, N_TYPES - 1), "s": (-S_MAX, S_MAX), "lam": (-S_MAX, S_MAX),
           "alpha": (0, THRESH_MAX), "beta": (0, THRESH_MAX), "TM": (0, TM_MAX), "gamma": (0, GAMMA_MAX),
           "R": (R_MIN, R_MAX), "V0": (V_MIN, V_MAX), "dest_core": (-1, None), "dest_axon": (0, CORE_AXONS - 1),
           "delay": (MIN_DELAY, MAX_DELAY)}


def make_core(crossbar, axon_type=0, **params) -> TNCore:
    """A :class:`TNCore` from a crossbar and per-neuron values (scalars broadcast; defaults: s=0,
    alpha=1, every other field 0/False, dest_core=-1, delay=1). Checked with :func:`check_core`."""
    xb = np.asarray(crossbar, dtype=bool)
    if xb.ndim != 2:
        raise ImageError(f"truenorth core: crossbar must be 2-d (axons, neurons), got shape {xb.shape}")
    A, N = xb.shape
    unknown = set(params) - set(_DEFAULTS)
    if unknown:
        raise ImageError(f"truenorth core: unknown field {sorted(unknown)[0]!r} (allowed: {', '.join(_DEFAULTS)})")
    vals = {"crossbar": xb, "axon_type": np.broadcast_to(np.asarray(axon_type), (A,))}
    for k, d in _DEFAULTS.items():
        shape = (N, N_TYPES) if k in ("s", "b") else (N,)
        vals[k] = np.broadcast_to(np.asarray(params.get(k, d)), shape)
    for k, v in vals.items():
        if not _fits(k, v):
            raise ImageError(f"truenorth core: field {k} is outside {_RANGES[k]}")
    core = TNCore(**{k: np.array(v, dtype=_DTYPES[k]) for k, v in vals.items()})
    check_core(core)
    return core


def _fits(k: str, v) -> bool:
    if k not in _RANGES:
        return True
    lo, hi = _RANGES[k]
    a = np.asarray(v).astype(np.int64)
    return a.size == 0 or (a.min() >= lo and (hi is None or a.max() <= hi))


def check_core(core: TNCore, n_cores: int | None = None) -> None:
    """Raise a one-line :class:`ImageError` if a field has the wrong dtype/shape or leaves its bit width."""
    A, N = core.crossbar.shape
    if A > CORE_AXONS or N > CORE_NEURONS:
        raise ImageError(f"truenorth core: {A} axons x {N} neurons exceeds {CORE_AXONS} x {CORE_NEURONS}")
    for f in fields(TNCore):
        a = getattr(core, f.name)
        shape = (A, N) if f.name == "crossbar" else (A,) if f.name == "axon_type" else \
            (N, N_TYPES) if f.name in ("s", "b") else (N,)
        if not isinstance(a, np.ndarray) or a.dtype != _DTYPES[f.name] or a.shape != shape:
            raise ImageError(f"truenorth core: field {f.name} must be {np.dtype(_DTYPES[f.name]).name} "
                             f"{shape}, got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
        if not _fits(f.name, a):
            raise ImageError(f"truenorth core: field {f.name} is outside {_RANGES[f.name]}")
    if n_cores is not None and core.dest_core.size and core.dest_core.max() >= n_cores:
        raise ImageError(f"truenorth core: dest_core {core.dest_core.max()} does not exist ({n_cores} cores)")


# ------------------------------------------------------------------------------------- verify
def verify(image: Any) -> None:
    """Invariants of a TrueNorth image (docs/image-format.md, *TrueNorth cores*), after the format's own
    (:meth:`neuromap.image.Image.verify`): every core is ``truenorth`` with <= 256 axons and neurons, every TN
    field has its dtype, shape and bit width, a synapse's stored weight is ``tn_s[post, tn_type[axon]]``
    (crossbar bit set), one synapse per (axon, neuron), synaptic delay 1, a neuron has at most one route
    (fan-out 1) with delay 1..15."""
    if image.core_kinds != [NAME]:
        raise ImageError(f"image core_kinds {image.core_kinds}: a TrueNorth image has core_kinds ['truenorth'] "
                         "only (mixing core kinds is not supported; recompile)")
    N, C, A = image.n_neurons, image.n_cores, image.n_axons
    nu, ax, sy, rt = image.neurons, image.axons, image.synapses, image.routes
    for f in FIELDS:
        if f.name != "v_init":      # a base field of every image, checked here for its 20-bit range
            f.check(getattr(image, f.group), {"neurons": N, "axons": A}[f.group], "TrueNorth images need it; recompile")
    check_range(nu["v_init"], V_MIN, V_MAX, "neurons.v_init")
    for k in UNUSED_NEURON_FIELDS:
        if np.any(nu[k] != 0):
            raise ImageError(f"image array neurons.{k} must be 0 on truenorth cores (unused field)")
    check_range(nu["slot"], 0, CORE_NEURONS - 1, "neurons.slot")
    n_ax = np.diff(image.cores["axon_ptr"])
    if C and n_ax.max() > CORE_AXONS:
        raise ImageError(f"image cores.axon_ptr: core {int(np.argmax(n_ax))} has {int(n_ax.max())} axons, "
                         f"more than {CORE_AXONS} (recompile)")
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
    if d.size and d.min() < MIN_DELAY:
        raise ImageError(f"image array routes.delay holds {int(d.min())}; truenorth routes take >= 1 tick")
    nd = d[:rt["src_ptr"][N]]
    if nd.size and nd.max() > MAX_DELAY:
        raise ImageError(f"image array routes.delay holds {int(nd.max())} on a neuron's route, outside "
                         f"[{MIN_DELAY}, {MAX_DELAY}] (4-bit axonal delay)")


def manifest_fields(image: Any) -> dict[str, Any]:
    """TrueNorth cores add no manifest field (their parameters are arrays)."""
    return {}
