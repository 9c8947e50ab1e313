"""Integer helpers of the oracles, each a line of the documented arithmetic (plain Python ints)."""
from __future__ import annotations


def round_half_up(x: int, n: int) -> int:
    """``x / 2**n`` rounded to the nearest integer, halves towards +inf (docs/quantization.md: "round half
    up everywhere"): ``floor(x / 2**n + 1/2)``. ``n = 0`` returns ``x``."""
    if n == 0:
        return x
    return (x + 2 ** (n - 1)) // 2 ** n


def clip(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def wrap32(x: int) -> int:
    """Two's-complement wrap to int32 (Lava's int32 registers and ports)."""
    x %= 2 ** 32
    return x - 2 ** 32 if x >= 2 ** 31 else x


def decay_toward_zero(x: int, factor: int, bits: int) -> int:
    """``x * factor / 2**bits`` rounded toward zero: ``sign(x f) (|x f| >> bits)`` (Lava's decays)."""
    p = x * factor
    q = abs(p) // 2 ** bits
    return q if p >= 0 else -q


def lut_read(table: list[int], x: int, frac_bits: int, lut_frac_bits: int = 8) -> int:
    """A compiler table sampled every ``2**-lut_frac_bits`` of x's unit, read at fixed-point ``x``
    (``frac_bits`` fraction bits, x >= 0): linear interpolation between the two neighbouring entries,
    rounded half up; at or past the last entry the last entry (docs: neuromap/learning_engines/fixed.py ``LUT_F``)."""
    step = 2 ** (frac_bits - lut_frac_bits)          # x units per table entry
    i, f = divmod(x, step)
    if i >= len(table) - 1:
        return table[-1]
    return table[i] + round_half_up((table[i + 1] - table[i]) * f, frac_bits - lut_frac_bits)
