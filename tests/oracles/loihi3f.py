"""Scalar reference of three-factor learning (engine ``loihi3f``: Lava 0.10's ``Loihi3FLearningRule`` on a
``LearningDense`` with the R-STDP post neuron), written from docs/learning.md (*Order of operations*, *Random
streams*, *Bit widths*, *Three-factor learning*); plain Python ints and floats, one synapse at a time, its own
random generators (one numpy ``default_rng`` per stream, one value per call, as Lava draws them).

``Oracle(cfg, post_impulse, post_tau, w, reward)``: ``cfg`` the parsed :class:`LearningConfig` (Lava's parser
gives each product's mantissa, stored exponent and factors), ``w`` the initial weights [post][pre] (already
truncated), ``reward(t, j)`` the third factor of post neuron j at step t. ``step(pre, post, t)`` advances one
step; ``weights``, ``tag_1``, ``x`` (x1, x2 per pre), ``y`` (y1, y2, y3 per post), ``tx``, ``ty`` are the state.
"""
from __future__ import annotations

import math

import numpy as np

WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 9, "t": 9, "C": 8}


def wrap32(v: int) -> int:
    return ((v + 2 ** 31) % 2 ** 32) - 2 ** 31


def clip(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


class _Draws:
    """One Lava random stream: value k is the k-th call (k = 0 at construction)."""

    def __init__(self, seed, kind):
        self.rng, self.kind, self.vals = np.random.default_rng(seed=seed), kind, []

    def __getitem__(self, k):
        while len(self.vals) <= k:
            self.vals.append(float(self.rng.random(1)[0]) if self.kind == "float"
                             else int(self.rng.integers(0, 128, size=1)[0]))
        return self.vals[k]


def _split(impulse: float) -> tuple[int, int]:
    i = math.floor(impulse)
    return i, int(np.round((impulse - i) * 256))


class Oracle:
    def __init__(self, cfg, post_impulse, post_tau, w, reward):
        self.cfg, self.reward = cfg, reward
        self.n_post, self.n_pre = len(w), len(w[0])
        self.weights = [list(map(int, row)) for row in w]
        self.tag_1 = [[0] * self.n_pre for _ in range(self.n_post)]
        self.tag_2 = [[0] * self.n_pre for _ in range(self.n_post)]
        self.x = [[0, 0] for _ in range(self.n_pre)]
        self.y = [[0, 0, 0] for _ in range(self.n_post)]
        self.tx, self.ty = [0] * self.n_pre, [0] * self.n_post
        self.y1p = [0.0] * self.n_post                          # the post neuron's y1 (float64)
        self.prev = [False] * self.n_post
        self.K, self.post_decay = float(post_impulse), float(np.exp(-1 / np.float64(post_tau)))
        s = cfg.rng_seed
        self.r = {"xd": _Draws(s, "float"), "xi": _Draws(s + 1, "int"), "yd": _Draws(s + 2, "float"),
                  "yi": _Draws(s + 3, "int"), "conn": _Draws(cfg.conn_rng_seed, "float")}
        self.x_imp = [_split(cfg.x1_impulse), _split(cfg.x2_impulse)]
        self.y_imp = [_split(getattr(cfg, f"y{k}_impulse")) for k in (1, 2, 3)]
        self.x_tau = [cfg.x1_tau, cfg.x2_tau]
        self.y_tau = [cfg.y1_tau, cfg.y2_tau, cfg.y3_tau]
        self.epochs = 0

    def step(self, pre, post, t):
        T = self.cfg.t_epoch
        within = t % T or T
        # the post neuron (before its LIF update): y1 from its spikes up to t - 1; y2 the third factor of t
        for j in range(self.n_post):
            self.y1p[j] = math.floor(self.y1p[j] * self.post_decay + self.K * float(self.prev[j]))
            self.prev[j] = bool(post[j])
        # spike phase: a pre neuron spiking again within the epoch gets its impulse now (random 0)
        for i in range(self.n_pre):
            if pre[i]:
                if self.tx[i] > 0:
                    for k in range(2):
                        ii, ff = self.x_imp[k]
                        self.x[i][k] = clip(self.x[i][k] + ii + (1 if 0 < ff else 0), 0, 127)
                self.tx[i] = within
        for j in range(self.n_post):
            if post[j]:
                self.ty[j] = within
            self.y[j] = [int(self.y1p[j]), int(self.reward(t, j)), 0]     # received, overwriting
        if t % T:
            return
        self.epochs += 1
        r_conn = self.r["conn"][self.epochs]
        xh = [self._history(self.x[i], self.tx[i], self.x_tau, self.x_imp, self.r["xd"][2 * t],
                            self.r["xi"][2 * t], T) for i in range(self.n_pre)]
        yh = [self._history(self.y[j], self.ty[j], self.y_tau, self.y_imp, self.r["yd"][2 * t],
                            self.r["yi"][2 * t], T) for j in range(self.n_post)]
        for i in range(self.n_pre):
            self.x[i] = list(xh[i][T])
        u = 1 if self.cfg.decimate_exponent is not None and (t // T) % 2 ** self.cfg.decimate_exponent == 0 else 0
        for j in range(self.n_post):
            for i in range(self.n_pre):
                self._synapse(i, j, xh, yh, u, r_conn, T)
        self.tx = [0] * self.n_pre
        self.ty = [0] * self.n_post

    @staticmethod
    def _history(h0, t_spike, taus, imps, r_dec, r_imp, T):
        h = [list(h0)]
        for s in range(1, T + 1):
            row = []
            for k, tau in enumerate(taus):
                if tau == 0:
                    v = 0
                else:
                    f = float(np.exp(-1 / np.array([tau], np.float64))[0]) * h[s - 1][k]
                    v = math.floor(f) + (1 if r_dec < f - math.floor(f) else 0)
                if t_spike == s:
                    ii, ff = imps[k]
                    v = clip(v + ii + (1 if r_imp < ff else 0), 0, 127)
                row.append(v)
            h.append(row)
        return h

    def _synapse(self, i, j, xh, yh, u, r_conn, T):
        old = {"w": self.weights[j][i], "d": self.tag_2[j][i], "t": self.tag_1[j][i]}
        x0, y0 = int(self.tx[i] > 0), int(self.ty[j] > 0)
        dep = {"x0": (x0, self.tx[i]), "y0": (y0, self.ty[j]), "u": (u, T)}
        new = {}
        for target, var in (("dw", "w"), ("dd", "d"), ("dt", "t")):
            prods = getattr(self.cfg, target)
            if prods is None:
                continue
            acc = old[var] << 7
            for p in prods:
                dv, when = dep[p.dependency]
                c = dv
                width = 0
                for f in p.factors:
                    k = f.const or 0
                    if f.var == "x0":
                        val = x0 + k
                    elif f.var == "y0":
                        val = y0 + k
                    elif f.var in ("x1", "x2"):
                        val = xh[i][when][int(f.var[1]) - 1] + k
                    elif f.var in ("y1", "y2", "y3"):
                        val = yh[j][when][int(f.var[1]) - 1] + k
                    elif f.var in ("w", "d", "t"):
                        val = old[f.var] + k
                        if f.sgn:
                            val = (val > 0) - (val < 0)
                    else:
                        val = k
                    width += WIDTH[f.var]
                    c = wrap32(c * clip(val, -2 ** WIDTH[f.var], 2 ** WIDTH[f.var] - 1))
                c = wrap32(c * p.s_mantissa)
                c >>= max(0, width + 4 - 15)
                c = clip(wrap32(c << p.s_exp), -32769, 32767)
                acc = clip(acc + c, -32769, 32767)
            if var == "w" and self.cfg.sign_mode == "excitatory":
                acc = max(0, acc)
            elif var == "w" and self.cfg.sign_mode == "inhibitory":
                acc = min(0, acc)
            elif var == "d":
                acc = max(0, acc)
            q = acc // 128 + (1 if r_conn < (acc % 128) / 128 else 0)
            lo, hi = {"w": {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[self.cfg.sign_mode],
                      "d": (0, 255), "t": (-257, 255)}[var]
            new[var] = clip(q, lo, hi)
        self.weights[j][i] = new.get("w", old["w"])
        self.tag_2[j][i] = new.get("d", old["d"])
        self.tag_1[j][i] = new.get("t", old["t"])
