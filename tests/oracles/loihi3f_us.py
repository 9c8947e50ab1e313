"""Scalar reference of the ``loihi3f_us`` post neuron's third factor (the Urbanczik-Senn dendritic error),
written from docs/voltage-rules.md (*On chip: Urbanczik-Senn with the dendritic error as third factor*): plain
Python ints, one neuron at a time. The connection's arithmetic is ``loihi3f``'s: its oracle
(:class:`tests.oracles.loihi3f.Oracle`) takes these values as its third factor."""
from __future__ import annotations

import numpy as np


def y2(learning: dict, phi_lut, h_lut, v_d: int, v_s: int, r: int) -> int:
    """y2 of one neuron from its dendrite's and soma's v and its dither value ``r`` (in [0, 2^err_shift))."""
    n = 2 ** (24 - learning["lut_shift"])

    def index(v: int) -> int:
        return min(max((v + 2 ** 23) // 2 ** learning["lut_shift"], 0), n - 1)

    v_p = (v_d * learning["pred_mult"]) // 2 ** learning["pred_shift"]          # floor
    e = (int(phi_lut[index(v_s)]) - int(phi_lut[index(v_p)])) * int(h_lut[index(v_p)])
    q = (e * learning["err_mult"] + r) // 2 ** learning["err_shift"]             # floor
    return 8 * min(max(q, -16), 15)


def dither(learning: dict, n_post: int):
    """The dither values step by step: ``default_rng([seed, 0x7533]).integers(0, 2^err_shift, n_post)`` once per
    step (the documented stream), as lists of Python ints."""
    rng = np.random.default_rng([learning["seed"], 0x7533])
    while True:
        yield [int(x) for x in rng.integers(0, 2 ** learning["err_shift"], n_post, dtype=np.int64)]
