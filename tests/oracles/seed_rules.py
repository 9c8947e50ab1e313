"""Scalar references of neuromap's integer seed learning engines, written from their documentation
(docs/quantization.md *Plastic projections* and the docstrings of the engine modules, which state every
equation, width and rounding); plain Python ints, one synapse and one post neuron at a time.

Common to every engine (docs/quantization.md, *Weights*, *Order*):

- the engine learns a fine weight ``w = sign * stored_weight * 2**16`` per synapse, taken from the stored
  weights at its first step; after every step ``w`` is clipped to ``[w_lo * 2**16, w_hi * 2**16]`` and the
  stored weight becomes ``sign * round_half_up(w / 2**16)``;
- a pre spike emitted in step ``t`` *arrives* at its synapses in step ``t + delay`` (``learning["delay"]``),
  the step in which it enters the post neuron's input;
- ``t`` is the 1-based step (emulator step + 1); ``post_spikes`` are the post neurons' spikes of step t,
  ``post_v`` their v after step t (after reset).

Interface: ``Engine(learning, arrays, pre, post, n_pre, n_post)`` (``pre``/``post``: population-local index
of each synapse, in the order of the weights), then ``engine.step(weights, pre_spikes, post_spikes, t,
post_v)`` once per step, updating the list ``weights`` in place; ``ENGINES`` maps image engine names.
"""
from __future__ import annotations

from tests.oracles.fixed_point import clip, lut_read, round_half_up

WF = 16                      # fraction bits of the fine weight
ONE_SPIKE = 2 ** 12          # a spike-counting trace's 1.0 (XF = 12 fraction bits)
TRACE_MAX = 2 ** 16 - 1      # spike-counting traces are unsigned 16 bit, saturating


def decay(x: int, keep: int) -> int:
    """One step of a trace's exponential decay: ``round_half_up(x * keep / 2**16)``."""
    return round_half_up(x * keep, 16)


class _Synapses:
    """What every engine keeps: the synapse lists, the fine weights and the pre spikes on their way."""

    def __init__(self, learning: dict, pre, post, n_pre: int, n_post: int):
        self.p = learning
        self.pre = [int(i) for i in pre]
        self.post = [int(j) for j in post]
        self.n_pre, self.n_post = n_pre, n_post
        self.sign = int(learning["sign"])
        self.lo = int(learning["w_lo"]) * 2 ** WF
        self.hi = int(learning["w_hi"]) * 2 ** WF
        self.delay = int(learning["delay"])
        self.emitted: dict[int, list[bool]] = {}
        self.w: list[int] | None = None

    def arrivals(self, weights, pre_spikes, t: int) -> list[bool]:
        """Per pre neuron: a spike emitted in step ``t - delay`` arrives now."""
        if self.w is None:
            self.w = [self.sign * int(x) * 2 ** WF for x in weights]
        self.emitted[t] = [bool(s) for s in pre_spikes]
        self.emitted.pop(t - self.delay - 1, None)
        return self.emitted.get(t - self.delay, [False] * self.n_pre)

    def store(self, weights) -> None:
        for s in range(len(self.w)):
            self.w[s] = clip(self.w[s], self.lo, self.hi)
            weights[s] = self.sign * round_half_up(self.w[s], WF)


class HomeostaticStdp(_Synapses):
    """``homeostatic_stdp`` (Carlson et al. 2013) and ``nn_stdp`` (``homeostasis`` false).

    Step t: record last emitted spike steps (pre, post; this step's included); an arriving pre spike sets
    ``ltp = a_plus``; then ltp (per synapse) and ltd (per post neuron) decay with keep_plus / keep_minus;
    ``stdp = ltp`` if the post neuron's last spike is not earlier than the pre neuron's (never = -inf),
    else ``-ltd``; homeostasis: ``c`` = the post neuron's spikes in steps t-window+1 .. t,
    ``w += round((h_lut[c] w + k_lut[c] stdp) / 2**30)``, else ``w += stdp``; clip and store; then a post
    spike sets ``ltd = a_minus``."""

    def __init__(self, learning, arrays, pre, post, n_pre, n_post):
        super().__init__(learning, pre, post, n_pre, n_post)
        self.ltp = [0] * len(self.pre)
        self.ltd = [0] * n_post
        self.last_pre = [float("-inf")] * n_pre
        self.last_post = [float("-inf")] * n_post
        self.homeostasis = bool(learning["homeostasis"])
        if self.homeostasis:
            self.window = int(learning["window"])
            self.k_lut = [int(x) for x in arrays["k_lut"]]
            self.h_lut = [int(x) for x in arrays["h_lut"]]
            self.post_times: list[list[int]] = [[] for _ in range(n_post)]

    def step(self, weights, pre_spikes, post_spikes, t, post_v=None):
        p = self.p
        arrived = self.arrivals(weights, pre_spikes, t)
        for i in range(self.n_pre):
            if pre_spikes[i]:
                self.last_pre[i] = t
        for j in range(self.n_post):
            if post_spikes[j]:
                self.last_post[j] = t
                if self.homeostasis:
                    self.post_times[j].append(t)
        for s, i in enumerate(self.pre):
            if arrived[i]:
                self.ltp[s] = int(p["a_plus"])
            self.ltp[s] = decay(self.ltp[s], int(p["keep_plus"]))
        for j in range(self.n_post):
            self.ltd[j] = decay(self.ltd[j], int(p["keep_minus"]))
        for s, (i, j) in enumerate(zip(self.pre, self.post)):
            stdp = self.ltp[s] if self.last_post[j] >= self.last_pre[i] else -self.ltd[j]
            if self.homeostasis:
                c = sum(1 for x in self.post_times[j] if x > t - self.window)
                self.w[s] += round_half_up(self.h_lut[c] * self.w[s] + self.k_lut[c] * stdp, 30)
            else:
                self.w[s] += stdp
        self.store(weights)
        for j in range(self.n_post):
            if post_spikes[j]:
                self.ltd[j] = int(p["a_minus"])


class VogelsIsp(_Synapses):
    """``vogels_isp`` (Vogels et al. 2011): the inhibitory magnitude learns.

    Step t: both traces decay (keep); ``before`` = the post trace now (decayed, before this step's post
    spikes); an arrival adds one spike (4096) to the synapse's x_pre, a post spike to x_post (saturating at
    65535); ``d = [arrived] (before - alpha) + [post spiked] x_pre`` (x_pre including this step's arrival);
    additive ``w += round(eta d / 2**12)``, multiplicative ``w += round(eta_m d w / 2**28)``; clip, store."""

    def __init__(self, learning, arrays, pre, post, n_pre, n_post):
        super().__init__(learning, pre, post, n_pre, n_post)
        self.x_pre = [0] * len(self.pre)
        self.x_post = [0] * n_post

    def step(self, weights, pre_spikes, post_spikes, t, post_v=None):
        p = self.p
        keep = int(p["keep"])
        arrived = self.arrivals(weights, pre_spikes, t)
        self.x_pre = [decay(x, keep) for x in self.x_pre]
        self.x_post = [decay(x, keep) for x in self.x_post]
        before = list(self.x_post)
        for s, i in enumerate(self.pre):
            if arrived[i]:
                self.x_pre[s] = min(self.x_pre[s] + ONE_SPIKE, TRACE_MAX)
        for j in range(self.n_post):
            if post_spikes[j]:
                self.x_post[j] = min(self.x_post[j] + ONE_SPIKE, TRACE_MAX)
        for s, (i, j) in enumerate(zip(self.pre, self.post)):
            d = 0
            if arrived[i]:
                d += before[j] - int(p["alpha"])
            if post_spikes[j]:
                d += self.x_pre[s]
            if p["multiplicative"]:
                self.w[s] += round_half_up(int(p["eta_m"]) * d * self.w[s], 12 + 16)
            else:
                self.w[s] += round_half_up(int(p["eta"]) * d, 12)
        self.store(weights)


POOL_MAX = 2 ** 36 - 1       # pools are int64 saturated to 0 .. 2**36 - 1
CALCIUM_F = 12               # calcium fraction bits


class PoolStdp(_Synapses):
    """``pool_stdp`` (Nikitin et al. 2019), equations (P1)-(P17) of the engine's docstring; per post neuron
    sums over its synapses. The STDP traces are nearest-spike: an arrival sets x_pre = 4096 after the
    step's decay (so the step's potentiation sees it), a post spike sets y_post = 4096 after the step's
    depression was computed; every other right-hand side is a value from the start of the step."""

    def __init__(self, learning, arrays, pre, post, n_pre, n_post):
        super().__init__(learning, pre, post, n_pre, n_post)
        self.x_pre = [0] * len(self.pre)
        self.y_post = [0] * n_post
        self.pw = [int(learning["pw_init"])] * n_post
        self.pw_soma = [int(learning["pw_soma_init"])] * n_post
        self.c_dend = [0] * n_post
        self.c_soma = [0] * n_post
        self.s_lut, self.decay_lut, self.prod_lut = ([int(x) for x in arrays[k]]
                                                      for k in ("s_lut", "decay_lut", "prod_lut"))
        self.c_max = (len(self.decay_lut) - 1) * 2 ** (CALCIUM_F - 8)    # the end of the tables
        self.goal: list[int] | None = None
        self.secr_scale = [2 ** 16] * n_post       # production multiplier (P11): 2**16 unless a controller writes it

    def _per_post(self, values) -> list[int]:
        out = [0] * self.n_post
        for s, j in enumerate(self.post):
            out[j] += values[s]
        return out

    def step(self, weights, pre_spikes, post_spikes, t, post_v=None):
        p, n, S = self.p, self.n_post, len(self.pre)
        arrived = self.arrivals(weights, pre_spikes, t)
        w = self.w
        if self.goal is None:
            g = int(p["w_goal"])
            self.goal = [g] * n if g > 0 else self._per_post(w)
        a_plus, a_minus, k_pw = int(p["a_plus"]), int(p["a_minus"]), int(p["k_pw"])
        x = [w[s] if arrived[self.pre[s]] else 0 for s in range(S)]                      # (P1)
        x_sum = self._per_post(x)
        pot, dep = [0] * S, [0] * S                                                    # (P2, P3)
        for s in range(S):
            self.x_pre[s] = decay(self.x_pre[s], int(p["keep_plus"]))
            if arrived[self.pre[s]]:
                self.x_pre[s] = ONE_SPIKE
        for j in range(n):
            self.y_post[j] = decay(self.y_post[j], int(p["keep_minus"]))
        for s, j in enumerate(self.post):
            if post_spikes[j]:
                pot[s] = round_half_up((self.hi - w[s]) * a_plus * self.x_pre[s], 16 + 12)
            if arrived[self.pre[s]]:
                dep[s] = round_half_up((w[s] - self.lo) * a_minus * self.y_post[j], 16 + 12)
        for j in range(n):
            if post_spikes[j]:
                self.y_post[j] = ONE_SPIKE
        pot_sum = self._per_post(pot)                                                  # (P4)
        for s, j in enumerate(self.post):
            avail = max(self.pw[j], 0)
            if pot_sum[j] > avail:
                pot[s] = pot[s] * avail // pot_sum[j]
        pot_sum, dep_sum = self._per_post(pot), self._per_post(dep)
        w_sum = self._per_post(w)
        ss = [0] * S
        one_minus = [0] * n
        new_pw, new_soma, new_cd, new_cs = [0] * n, [0] * n, [0] * n, [0] * n
        for j in range(n):
            use = pot_sum[j] - round_half_up(int(p["alpha_r"]) * dep_sum[j], 16)      # (P5)
            degr = round_half_up(k_pw * x_sum[j], 16)                                 # (P6)
            s_c = lut_read(self.s_lut, self.c_dend[j], CALCIUM_F)                     # (P7, P8)
            demand = max(-round_half_up(s_c * (self.pw[j] - use - degr - int(p["pw_set"])), 16), 0)
            supply = min(demand, max(self.pw_soma[j], 0))                              # (P9)
            if p["pool_update"] == "conserve":                                         # (P10)
                pw = self.pw[j] + supply - use - degr
            else:
                pw = self.pw[j] + (supply if demand > 0 else -use - degr)
            new_pw[j] = clip(pw, 0, POOL_MAX)
            prod = round_half_up(lut_read(self.prod_lut, self.c_soma[j], CALCIUM_F) * self.secr_scale[j], 16)  # (P11)
            new_soma[j] = clip(self.pw_soma[j] - supply + prod, 0, POOL_MAX)
            ratio = self.goal[j] * 2 ** 16 // w_sum[j] if w_sum[j] > 0 else 2 ** 16   # (P16)
            one_minus[j] = max(2 ** 16 - ratio, -15 * 2 ** 16)
            c_in = round_half_up(x_sum[j] * int(p["c_per_w"]), 32)                     # (P12, P13)
            new_cd[j] = clip(self.c_dend[j] + c_in - lut_read(self.decay_lut, self.c_dend[j], CALCIUM_F),
                             0, self.c_max)
            new_cs[j] = clip(self.c_soma[j] + (int(p["k_cg"]) if post_spikes[j] else 0)
                             - lut_read(self.decay_lut, self.c_soma[j], CALCIUM_F), 0, self.c_max)
        for s, j in enumerate(self.post):
            ss[s] = round_half_up(int(p["alpha_ss"]) * w[s] * one_minus[j], 16 + 16)
            w[s] += pot[s] - dep[s] - round_half_up(k_pw * x[s], 16) - ss[s]          # (P15, P17)
        self.store(weights)
        self.pw, self.pw_soma, self.c_dend, self.c_soma = new_pw, new_soma, new_cd, new_cs


class Clopath(_Synapses):
    """``clopath`` (Clopath et al. 2010) on the post neuron's hardware v, in the docstring's step order:
    ``vq = round(v / 2**v_shift)``; u-, u+ filter vq (``u <- round((u keep + vq 2**8 (2**16 - keep)) / 2**16)``);
    ``late`` = u of step ``t - delay_u`` (u_init for steps <= 0); per post ``ltd = round([late- - theta-]+
    ltd_m / 2**ltd_sh)``, ``f = round([vq - theta+]+ [late+ - theta-]+ ltp_m / 2**ltp_sh)``; xbar decays
    (keep_x); an arrival clips ``w - ltd`` to the bounds and adds 2**20 to xbar (saturating at 2**24 - 1);
    then every synapse ``w += round(round(xbar / 2**8) f / 2**20)``; clip, store."""

    def __init__(self, learning, arrays, pre, post, n_pre, n_post):
        super().__init__(learning, pre, post, n_pre, n_post)
        self.xbar = [0] * len(self.pre)
        u0 = int(learning["u_init"])
        self.history = {0: ([u0] * n_post, [u0] * n_post)}   # step -> (u-, u+) after that step

    def _u(self, step: int):
        u0 = int(self.p["u_init"])
        return self.history.get(step, ([u0] * self.n_post, [u0] * self.n_post)) if step > 0 else \
            ([u0] * self.n_post, [u0] * self.n_post)

    def step(self, weights, pre_spikes, post_spikes, t, post_v=None):
        p = self.p
        arrived = self.arrivals(weights, pre_spikes, t)
        vq = [round_half_up(int(v), int(p["v_shift"])) for v in post_v]
        um, up = self._u(t - 1)

        def filt(u, q, keep):
            return round_half_up(u * keep + q * 2 ** 8 * (2 ** 16 - keep), 16)

        self.history[t] = ([filt(um[j], vq[j], int(p["keep_minus"])) for j in range(self.n_post)],
                           [filt(up[j], vq[j], int(p["keep_plus"])) for j in range(self.n_post)])
        late_m, late_p = self._u(t - int(p["delay_u"]))
        self.history.pop(t - int(p["delay_u"]) - 1, None)
        th_m = int(p["theta_minus"])
        ltd = [round_half_up(max(late_m[j] - th_m, 0) * int(p["ltd_m"]), int(p["ltd_sh"])) for j in range(self.n_post)]
        f = [round_half_up(max(vq[j] - int(p["theta_plus"]), 0) * max(late_p[j] - th_m, 0) * int(p["ltp_m"]),
                           int(p["ltp_sh"])) for j in range(self.n_post)]
        for s, (i, j) in enumerate(zip(self.pre, self.post)):
            self.xbar[s] = decay(self.xbar[s], int(p["keep_x"]))
            if arrived[i]:
                self.w[s] = clip(self.w[s] - ltd[j], self.lo, self.hi)
                self.xbar[s] = min(self.xbar[s] + 2 ** 20, 2 ** 24 - 1)
            self.w[s] += round_half_up(round_half_up(self.xbar[s], 8) * f[j], 12 + 8)
        self.store(weights)


#: image engine name -> oracle class
ENGINES = {"homeostatic_stdp": HomeostaticStdp, "vogels_isp": VogelsIsp, "pool_stdp": PoolStdp, "clopath": Clopath}
