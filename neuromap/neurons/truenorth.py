"""``truenorth``: the Cassidy et al. (2013) TrueNorth neuron, given in hardware units.

Parameters carry the paper's names (``lambda`` = λ_j, ``c_lambda`` = c_j^λ,
``epsilon`` = ε_j, ``alpha`` = α_j, ``beta`` = β_j, ``TM`` = the threshold mask
width, M_j = 2**TM - 1, ``gamma`` = γ_j, ``kappa`` = κ_j, ``R`` = R_j,
``b`` = b_j^G for every axon type G) and their bit widths; ``v_init`` is V_j at
tick 0. Synaptic weights s_j^G are not neuron parameters: they come from the
projections (integer hardware units, -255..255) and the crossbar legalization
(:mod:`neuromap.truenorth.crossbar`) assigns them to the four axon types.
Widths: :mod:`neuromap.core_kinds.truenorth`; equations and modes: ``emulator/truenorth.py``, ``docs/truenorth.md``.
"""
from __future__ import annotations

import numpy as np

from neuromap.core_kinds.truenorth import GAMMA_MAX, N_TYPES, R_MAX, R_MIN, S_MAX, THRESH_MAX, TM_MAX, V_MAX, V_MIN
from neuromap.params import Param

PARAMS = {
    "lambda": Param(0, kind="int", lo=-S_MAX, hi=S_MAX, per_neuron=True, unit="hw",
                    doc="leak λ added every tick (signed 9 bit)"),
    "c_lambda": Param(False, kind="bool", doc="stochastic leak: add sgn(λ) with probability (|λ|+1)/256"),
    "epsilon": Param(False, kind="bool", doc="leak reversal: leak times sgn(V) (λ<0 pulls V to 0)"),
    "alpha": Param(1, kind="int", lo=0, hi=THRESH_MAX, per_neuron=True, unit="hw",
                   doc="positive threshold α: spike when V >= α + η (unsigned 18 bit)"),
    "beta": Param(0, kind="int", lo=0, hi=THRESH_MAX, per_neuron=True, unit="hw",
                  doc="negative threshold β: the negative reset applies when V < -β (-(β+η) if kappa is false)"),
    "TM": Param(0, kind="int", lo=0, hi=TM_MAX, per_neuron=True,
                doc="threshold mask width: η = PRN & (2**TM - 1) is added to the thresholds"),
    "gamma": Param(0, kind="int", lo=0, hi=GAMMA_MAX, per_neuron=True,
                   doc="reset mode: 0 set V to R, 1 linear (V - (α+η)), 2 no reset"),
    "kappa": Param(False, kind="bool", doc="negative saturation: V below -β is set to -β"),
    "R": Param(0, kind="int", lo=R_MIN, hi=R_MAX, per_neuron=True, unit="hw",
               doc="reset potential (signed 18 bit); -R after a negative-threshold crossing in mode 0"),
    "b": Param(False, kind="bool", doc="stochastic synapses (all 4 axon types): add sgn(s) with probability "
                                       "(|s|+1)/256"),
    "v_init": Param(0, kind="int", lo=V_MIN, hi=V_MAX, per_neuron=True, unit="hw",
                    doc="V at tick 0 (signed 20 bit)"),
}
STATE = ("v",)


def core_fields(params: dict, size: int) -> dict[str, np.ndarray]:
    """Validated ``params`` -> the per-neuron fields of :func:`neuromap.core_kinds.truenorth.make_core`
    (``size`` neurons)."""
    def vec(name, dtype):
        return np.broadcast_to(np.asarray(params[name]), (size,)).astype(dtype)
    return {
        "lam": vec("lambda", np.int16), "c_lambda": vec("c_lambda", bool), "epsilon": vec("epsilon", bool),
        "alpha": vec("alpha", np.int32), "beta": vec("beta", np.int32), "TM": vec("TM", np.uint8),
        "gamma": vec("gamma", np.uint8), "kappa": vec("kappa", bool), "R": vec("R", np.int32),
        "V0": vec("v_init", np.int32),
        "b": np.broadcast_to(np.asarray(params["b"], dtype=bool), (size, N_TYPES)).copy(),
    }
