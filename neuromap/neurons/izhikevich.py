"""``izhikevich``: Izhikevich neuron with AMPA/NMDA (and GABA) conductances, exactly as seed 003 (ANNarchy).

Equations (ms, mV; conductances dimensionless as in the seed)::

    I = g_ampa*(vrev - v) + g_nmda*nmda(v)*(vrev - v) + g_gaba*(E_gaba - v) + I_ext
    nmda(v) = x^2/(1 + x^2),  x = (v + 80)/60              (seed: nmda(v, -80, 60))
    dv/dt = (0.04*v + 5)*v + 140 - u + I                     (midpoint)
    du/dt = a*(b*v - u)                                      (midpoint)
    tau_x dg_x/dt = -g_x,  x in {ampa, nmda, gaba}           (exponential)
    v >= v_peak (30)  ->  spike, v <- c, u <- u + d

ANNarchy's semantics, reproduced step by step (one step of dt ms):

1. arriving spikes increment the conductances (``g_target += w``; targets
   ``ampa``, ``nmda``, ``gaba``; ``exc`` = ``ampa``, ``inh`` = ``gaba``);
2. I is evaluated once from v, g at the start of the step (an assignment,
   not re-evaluated at the midpoint);
3. coupled midpoint for (v, u): k = f(v, u); v_m = v + dt/2*k_v, u_m = u + dt/2*k_u;
   v <- v + dt*f_v(v_m, u_m), u <- u + dt*f_u(v_m, u_m);
4. exponential Euler for the conductances: g <- g + (1 - exp(-dt/tau))*(0 - g);
5. spike test on the new v, reset.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param

PARAMS = {
    "a": Param(0.02, per_neuron=True, unit="1/ms", doc="recovery rate"),
    "b": Param(0.2, per_neuron=True, doc="recovery sensitivity"),
    "c": Param(-65.0, per_neuron=True, unit="mV", doc="reset potential"),
    "d": Param(8.0, per_neuron=True, unit="mV", doc="recovery increment at a spike"),
    "tau_ampa": Param(5.0, lo=1e-6, unit="ms", doc="AMPA conductance time constant"),
    "tau_nmda": Param(150.0, lo=1e-6, unit="ms", doc="NMDA conductance time constant"),
    "tau_gaba": Param(10.0, lo=1e-6, unit="ms", doc="GABA conductance time constant"),
    "vrev": Param(0.0, unit="mV", doc="AMPA/NMDA reversal potential"),
    "E_gaba": Param(-70.0, unit="mV", doc="GABA reversal potential"),
    "I_ext": Param(0.0, per_neuron=True, unit="mV/ms", doc="constant external current"),
    "v_peak": Param(30.0, unit="mV", doc="spike when v >= v_peak"),
    "v_init": Param(-65.0, per_neuron=True, unit="mV", doc="initial v"),
    "u_init": Param(-13.0, per_neuron=True, unit="mV", doc="initial u"),
}
STATE = ("v", "u", "g_ampa", "g_nmda", "g_gaba")
TARGETS = {"ampa": (0, 1.0), "nmda": (1, 1.0), "gaba": (2, 1.0), "exc": (0, 1.0), "inh": (2, 1.0)}
N_CHANNELS = 3
CONSTS = ("a", "b", "c", "d", "s_ampa", "s_nmda", "s_gaba", "vrev", "E_gaba", "I_ext", "v_peak", "dt")


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).copy()  # noqa: E731
    return {"v": full(params["v_init"]), "u": full(params["u_init"]),
            "g_ampa": np.zeros(size), "g_nmda": np.zeros(size), "g_gaba": np.zeros(size)}


def constants(params: dict, size: int, dt: float) -> dict[str, np.ndarray]:
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    out = {k: full(params[k]) for k in ("a", "b", "c", "d", "vrev", "E_gaba", "I_ext", "v_peak")}
    for g in ("ampa", "nmda", "gaba"):
        out["s_" + g] = full(1.0 - math.exp(-dt / params["tau_" + g]))
    out["dt"] = full(dt)
    return out


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy); returns spiked. ``refr`` is unused (no refractory period)."""
    v, u, ga, gn, gg = s["v"], s["u"], s["g_ampa"], s["g_nmda"], s["g_gaba"]
    ga += inp[0]
    gn += inp[1]
    gg += inp[2]
    dt, a, b = c["dt"], c["a"], c["b"]
    x = (v + 80.0) / 60.0
    x2 = x * x
    i_syn = ga * (c["vrev"] - v) + gn * (x2 / (1.0 + x2)) * (c["vrev"] - v) + gg * (c["E_gaba"] - v) + c["I_ext"]
    kv = (0.04 * v + 5.0) * v + 140.0 - u + i_syn
    ku = a * (b * v - u)
    vm = v + 0.5 * dt * kv
    um = u + 0.5 * dt * ku
    v_new = v + dt * ((0.04 * vm + 5.0) * vm + 140.0 - um + i_syn)
    u[:] = u + dt * (a * (b * vm - um))
    v[:] = v_new
    ga += c["s_ampa"] * (0.0 - ga)
    gn += c["s_nmda"] * (0.0 - gn)
    gg += c["s_gaba"] * (0.0 - gg)
    spiked = v >= c["v_peak"]
    v[spiked] = c["c"][spiked]
    u[spiked] += c["d"][spiked]
    return spiked
