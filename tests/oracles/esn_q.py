"""Scalar reference of the ``esn_q`` embedded-core controller, written from the equations of
docs/learning.md (*Embedded-core controllers*) / the module docstring of neuromap.embedded.esn_q: plain Python ints,
one neuron, one unit, one weight at a time. It reads only the image's controller entry (fields and arrays)."""
from __future__ import annotations

U32 = (1 << 32) - 1


def rr(x: int, n: int) -> int:
    """x / 2**n rounded half up."""
    return x if n == 0 else (x + (1 << (n - 1))) >> n


def sat(x: int) -> int:
    """Saturated to +-2**47 (q values and the TD error)."""
    return min(max(x, -2 ** 47), 2 ** 47)


def xorshift32(s: int) -> int:
    s ^= (s << 13) & U32
    s ^= s >> 17
    s ^= (s << 5) & U32
    return s


class EsnQ:
    """The controller of one image entry over ``n_post`` neurons."""

    READS = ("pw", "pw_soma", "c_soma", "c_dend")

    def __init__(self, ctl, n_post: int):
        f, a = ctl.fields, ctl.arrays
        self.f = dict(f)
        self.n = f["n_res"]
        self.w_in = [[int(x) for x in row] for row in a["w_in"]]
        self.w_res = [[int(x) for x in row] for row in a["w_res"]]
        self.w_out = [[int(x) for x in row] for row in a["w_out"]]
        self.lut = [int(x) for x in a["tanh_lut"]]
        self.secr = [int(x) for x in a["secr_lut"]]
        self.mul = [int(x) for x in a["obs_mul"]]
        self.shift = [int(x) for x in a["obs_shift"]]
        self.x = [[0] * self.n for _ in range(n_post)]
        self.prev = None                       # (features per neuron, action per neuron)
        self.s = f["seed"]
        self.level = [f["level_init"]] * n_post
        self.k = 0                             # decisions so far: explores while k < greedy_after (if given)

    def tanh(self, a12: int) -> int:
        pos = min(max(a12, -4 * 4096), 4 * 4096) + 4 * 4096
        i, frac = pos >> 6, pos & 63
        if i == len(self.lut) - 1:
            return self.lut[i]
        return self.lut[i] + rr((self.lut[i + 1] - self.lut[i]) * frac, 6)

    def decide(self, reads: dict[str, list[int]]) -> list[int]:
        """One decision per neuron; returns secr_scale per neuron."""
        f, n_post = self.f, len(self.x)
        feats, qs = [], []
        for m in range(n_post):
            o = [min(max(rr(reads[k][m] * self.mul[i], self.shift[i]), -2 ** 31), 2 ** 31)
                 for i, k in enumerate(self.READS)]
            old = list(self.x[m])
            for j in range(self.n):
                a = sum(self.w_in[j][k] * o[k] for k in range(4)) + sum(self.w_res[j][i] * old[i]
                                                                        for i in range(self.n))
                h = self.tanh(rr(a, 12))
                self.x[m][j] = old[j] + rr(f["leak"] * (h - old[j]), 12)
            feat = self.x[m] + [4096]
            feats.append(feat)
            qs.append([sat(sum(self.w_out[act][j] * feat[j] for j in range(self.n + 1))) for act in range(3)])
        if self.prev is not None:
            pf, pa = self.prev
            steps = []
            for m in range(n_post):
                r = -abs(reads["c_soma"][m] - f["c_opt"])
                q_prev = sat(sum(self.w_out[pa[m]][j] * pf[m][j] for j in range(self.n + 1)))
                td = sat(r * 2 ** 16 + rr(f["gamma"] * max(qs[m]), 12) - q_prev)
                steps.append(rr(f["lr"] * rr(td, 12), 16))
            for m in range(n_post):
                row = self.w_out[pa[m]]
                for j in range(self.n + 1):
                    row[j] = min(max(row[j] + rr(steps[m] * pf[m][j], 12), -2 ** 31), 2 ** 31 - 1)
        acts = []
        for m in range(n_post):
            q = qs[m]
            act = 0 if q[0] >= max(q[1], q[2]) else (1 if q[1] >= q[2] else 2)
            g = f.get("greedy_after", self.k + 1)
            eps = f["eps"] * (g - self.k) // g if f.get("anneal", 0) == 1 and "greedy_after" in f and g > 0 \
                else f["eps"]
            if self.k < g:
                self.s = xorshift32(self.s)
                if self.s < eps:
                    self.s = xorshift32(self.s)
                    act = (self.s * 3) >> 32
            acts.append(act)
            self.level[m] = min(max(self.level[m] + (0, -1, 1)[act], -f["levels"]), f["levels"])
        self.prev = (feats, acts)
        self.k += 1
        return [self.secr[lv + f["levels"]] for lv in self.level]
