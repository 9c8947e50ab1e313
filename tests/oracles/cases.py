"""Small plastic images for the oracle tests (emulator and Lava): explicit-time inputs (the core oracle
replays no Poisson stream), every seed rule on its own post population, and random integer constants for
the engines inside their documented ranges; random hardware-unit loihi_lif networks and stressed
neuron constants for the core oracle."""
from __future__ import annotations

import dataclasses

import numpy as np

from neuromap.network import Network

LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0)
STDP = dict(tau_plus=20.0, tau_minus=60.0, A_plus=0.03, A_minus=0.0099, w_min=0.0, w_max=0.45)
RULES = {
    "nn_stdp": dict(rule="nn_stdp", **STDP),
    "homeostatic_stdp": dict(rule="homeostatic_stdp", alpha=0.1, beta=1.0, gamma=50.0, Rtarget=35.0, T=20.0, **STDP),
    "pool_stdp": dict(rule="pool_stdp", a_plus=0.05, a_minus=0.05, tau_plus=5.0, tau_minus=5.0, w_min=0.0,
                      w_max=1.5, pw_init=0.5, pw_set=0.3, alpha_r=0.5, k_pw=0.05, alpha_s=1.0, beta_s=0.5,
                      alpha_c=0.2, beta_c=1.0, gamma_c=0.2, k_cg=0.5, soma_mode="functional", g_soma=0.01,
                      pw_soma_init=0.1, alpha_ss=0.01, w_goal_sum=2.0),
    "vogels_isp": dict(rule="vogels_isp", eta=0.05, rho0=5.0, tau_stdp=20.0, w_min=0.0, w_max=2.0),
    "clopath": dict(rule="clopath", A_LTD=7e-4, A_LTP=5e-3, theta_minus=-70.6, theta_plus=-60.0, tau_minus=10.0,
                    tau_plus=7.0, tau_x=15.0, delay_u=0, u_init=-70.6, w_min=0.0, w_max=1.0),
}
CLOPATH_LIF = dict(tau_m=10.0, tau_syn=2.0, v_rest=-70.6, v_reset=-70.6, v_th=-50.4, v_init=-70.6)


def spike_times(rng, n, steps, lo, hi):
    return [[float(t) for t in sorted(set(rng.integers(0, steps, rng.integers(lo, hi + 1)).tolist()))]
            for _ in range(n)]


def plastic_net(rules, seed: int, steps: int = 60, inputs: tuple[int, int] = (3, 8),
                posts: tuple[int, int] = (1, 3)) -> Network:
    """Explicit-time inputs (``inputs``: size range) -> one post population per rule (``posts``: size range,
    refractory 0..3 steps, delays 1..3), the vogels_isp projection inhibitory from a driven population of
    2..8, clopath on a LIF in mV with a strong drive."""
    rng = np.random.default_rng(seed)
    n = Network(seed=seed)
    n_in = int(rng.integers(inputs[0], inputs[1] + 1))
    n.add_population("inp", n_in, "spike_source", times=spike_times(rng, n_in, steps, 4, steps // 2))
    for k, name in enumerate(rules):
        post = f"p{k}"
        size = int(rng.integers(posts[0], posts[1] + 1))
        d = int(rng.integers(1, 4))
        refr = int(rng.integers(0, 4))
        rule = RULES[name]
        if name == "clopath":
            n.add_population(post, size, "lif", refractory=refr, **CLOPATH_LIF)
            n.add_population(f"drive{k}", size, "spike_source", times=spike_times(rng, size, steps, 3, steps // 3))
            n.connect(f"drive{k}", post, "one_to_one", weight=200.0, delay=1)
            n.connect("inp", post, "all_to_all", weight=float(rng.uniform(0.2, 0.8)), delay=d, plasticity=rule)
            continue
        n.add_population(post, size, "lif", refractory=refr, **LIF)
        if name == "vogels_isp":
            n.add_population(f"i{k}", int(rng.integers(2, 9)), "lif", **LIF)
            n.connect("inp", f"i{k}", "all_to_all", weight={"uniform": [0.3, 1.0]}, delay=1)
            n.connect("inp", post, "all_to_all", weight=0.7, delay=1)
            n.connect(f"i{k}", post, "all_to_all", weight={"uniform": [0.1, 0.5]}, delay=d, target="inh",
                      plasticity=rule)
        else:
            n.connect("inp", post, "all_to_all", weight={"uniform": [0.15, 0.6]}, delay=d, plasticity=rule)
    return n


def _keep(r, edges: bool):
    if edges:
        return int(r.choice([65536, 65535, 49152, 32768, 32769, 16384]))
    return int(r.choice([0, 1, 32768, 65535, 65536, int(r.integers(40000, 65537))]))


def _half(r, k: int = 8, unit: int = 1 << 16) -> int:
    """An odd multiple of half a ``unit`` (of a stored weight mantissa in fine units), off by -1, 0 or +1:
    sums of these sit on the stored weight's rounding boundary, so a rounding of one fine unit inside an
    engine changes a stored weight."""
    return (2 * int(r.integers(0, k)) + 1) * unit // 2 + int(r.choice([-1, 0, 0, 1]))


def randomize(learning: dict, arrays: dict, r, edges: bool = False) -> tuple[dict, dict]:
    """Other integer constants for one plastic projection, inside the ranges the engines document (so the
    engines' int64 never overflows): rounding edges (keep 0 / 1/2 / 1, odd amplitudes), saturation.
    ``edges``: amplitudes and coefficients that put fine weights on the half-mantissa boundary (see
    :func:`_half`), so every internal round-half-up is observable in the stored weights."""
    p, a = dict(learning), dict(arrays)
    lo = int(r.integers(0, 20))
    p["w_lo"], p["w_hi"] = lo, int(r.integers(lo, 256))
    e = p["engine"]
    if e == "homeostatic_stdp":
        p.update(keep_plus=_keep(r, edges), keep_minus=_keep(r, edges))
        if edges:
            p.update(a_plus=_half(r), a_minus=_half(r))
        else:
            p.update(a_plus=int(r.integers(0, 1 << 21)), a_minus=int(r.integers(0, 1 << 21)))
        if p["homeostasis"]:
            p["window"] = n = int(r.integers(1, 30))
            if edges:
                a = {"k_lut": np.array([int(r.choice([0, 1 << 29, 1 << 30])) + int(r.integers(-1, 2))
                                        for _ in range(n + 1)]),
                     "h_lut": np.array([int(r.choice([-1, 1])) * _half(r, 2, 1 << 14) for _ in range(n + 1)])}
            else:
                a = {"k_lut": r.integers(0, 1 << 31, n + 1), "h_lut": r.integers(-(1 << 31), 1 << 31, n + 1)}
    elif e == "vogels_isp":
        p.update(keep=_keep(r, edges), multiplicative=bool(r.integers(0, 2)))
        if edges:
            p.update(alpha=int(r.choice([0, 1, 2048, 4095])), eta=int(r.choice([-1, 1])) * _half(r, 4, 1 << 13),
                     eta_m=int(r.choice([1 << 14, 1 << 15, (1 << 15) + 1, (1 << 15) - 1])))
        else:
            p.update(alpha=int(r.integers(0, 8192)), eta=int(r.integers(-(1 << 19), 1 << 20)),
                     eta_m=int(r.integers(0, 1 << 17)))
    elif e == "pool_stdp":
        p.update(keep_plus=_keep(r, edges), keep_minus=_keep(r, edges), a_plus=int(r.integers(0, 1 << 17)),
                 a_minus=int(r.integers(0, 1 << 17)), alpha_r=int(r.integers(0, 1 << 17)),
                 k_pw=int(r.integers(0, 1 << 14)), alpha_ss=int(r.integers(0, 1 << 14)),
                 pw_init=int(r.integers(0, 1 << 26)), pw_soma_init=int(r.integers(0, 1 << 24)),
                 pw_set=int(r.integers(0, 1 << 25)), w_goal=int(r.choice([0, int(r.integers(1, 1 << 26))])),
                 k_cg=int(r.integers(0, 1 << 13)), c_per_w=int(r.integers(0, 1 << 23)),
                 pool_update=str(r.choice(["conserve", "literal"])))
        if edges:
            p.update(a_plus=_half(r, 2), a_minus=_half(r, 2), k_pw=_half(r, 1, 1 << 14),
                     alpha_ss=_half(r, 1, 1 << 12), pw_init=int(r.choice([0, 1 << 30])))
        m = int(r.integers(2, 40))
        a = {"s_lut": r.integers(-(1 << 16), 1 << 16, m), "decay_lut": np.sort(r.integers(0, 64, m)),
             "prod_lut": r.integers(0, 1 << 14, m)}
    elif e == "clopath":
        # v_shift stays the compiler's voltage_bits - 16 (vq is 16 bit: the engine's int64 bound needs it)
        p.update(delay_u=int(r.integers(0, 4)), keep_minus=_keep(r, edges),
                 keep_plus=_keep(r, edges), keep_x=_keep(r, edges), theta_plus=int(r.integers(-2000, 8000)),
                 theta_minus=int(r.integers(-(1 << 19), 1 << 20)), u_init=int(r.integers(-(1 << 20), 1 << 20)),
                 ltd_m=int(r.integers(0, 1 << 16)), ltd_sh=int(r.integers(0, 28)), ltp_m=int(r.integers(0, 1 << 16)),
                 ltp_sh=int(r.integers(11, 30)))
    p["delay"] = int(r.integers(0, 5))
    return p, a


def with_learning(img, r, edges: bool = False):
    """``img`` with :func:`randomize`'d constants on every plastic projection."""
    projs = []
    for pm in img.projections:
        if pm.learning:
            learning, arrays = randomize(pm.learning, pm.learning_arrays, r, edges)
            pm = dataclasses.replace(pm, learning=learning, learning_arrays=arrays)
        projs.append(pm)
    return dataclasses.replace(img, projections=projs)


def core_net(seed: int) -> Network:
    """A random hardware-unit network: 1-3 loihi_lif populations, explicit-time inputs, 1-5 projections with
    delays 1..8, weight exponents -8..7 (negative ones go through dendrite sums), refractory 0..4."""
    rng = np.random.default_rng(seed)
    net = Network(seed=1)
    pops = []
    for k in range(int(rng.integers(1, 4))):
        net.add_population(f"p{k}", int(rng.integers(1, 12)), neuron="loihi_lif", du=int(rng.integers(0, 4096)),
                           dv=int(rng.integers(0, 4096)), vth=int(rng.integers(0, 400)),
                           bias_mant=int(rng.integers(-300, 300)), bias_exp=int(rng.integers(0, 8)),
                           refractory=int(rng.integers(0, 5)))
        pops.append(f"p{k}")
    n_in = int(rng.integers(1, 8))
    net.add_population("inp", n_in, "spike_source",
                       times=[[float(t) for t in sorted(set(rng.integers(0, 50, rng.integers(1, 30)).tolist()))]
                              for _ in range(n_in)])
    for _ in range(int(rng.integers(1, 6))):
        net.connect(str(rng.choice(pops + ["inp"])), str(rng.choice(pops)),
                    connect={"rule": "fixed_probability", "p": float(rng.uniform(0.2, 1.0))},
                    weight={"uniform_int": [-255, 255]}, delay={"uniform_int": [1, int(rng.integers(1, 9))]},
                    weight_exp=int(rng.integers(-8, 8)))
    return net


def stress(img, seed: int, per_neuron_vth: bool = True):
    """The image with neuron constants over their full ranges (u/v initial values near the limits, large
    biases, thresholds from 0), so the u wrap and the v saturation are reached. ``per_neuron_vth=False``
    keeps vth (Lava needs one vth per LIF process for weight_exp < 0 projections)."""
    rng = np.random.default_rng(seed)
    N = img.n_neurons
    nu = dict(img.neurons)
    nu["u_init"] = rng.integers(-(2 ** 23), 2 ** 23, N).astype(nu["u_init"].dtype)
    nu["v_init"] = rng.integers(-(2 ** 23) + 1, 2 ** 23, N).astype(nu["v_init"].dtype)
    nu["bias_mant"] = rng.integers(-4096, 4096, N).astype(nu["bias_mant"].dtype)
    if per_neuron_vth:
        nu["vth"] = rng.integers(0, 131072, N).astype(nu["vth"].dtype)
    out = dataclasses.replace(img, neurons=nu)
    out.verify()
    return out
