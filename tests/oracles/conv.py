"""Scalar oracle of a convolution, written from the definition (PyTorch's ``Conv1d``/``Conv2d``/``AvgPool2d``,
NIR's ``Conv2d``/``SumPool2d``): plain loops over outputs and kernel taps on a zero-padded input; no numpy
vectorization, nothing shared with :mod:`neuromap.conv_geometry`.

    out[co, oy, ox] = sum over ci in group(co), ky, kx of
                      kernel[co, ci - g*Cin/groups, ky, kx] * x_padded[ci, oy*sy + ky*dy, ox*sx + kx*dx]
"""
from __future__ import annotations


def conv2d(x, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """``x``: nested lists [C][H][W]; ``kernel``: [Cout][Cin/groups][kh][kw]; returns [Cout][Hout][Wout]."""
    c_in, h, w = len(x), len(x[0]), len(x[0][0])
    c_out, cig, kh, kw = len(kernel), len(kernel[0]), len(kernel[0][0]), len(kernel[0][0][0])
    (sy, sx), (py, px), (dy, dx) = stride, padding, dilation
    hp, wp = h + 2 * py, w + 2 * px
    xp = [[[0 for _ in range(wp)] for _ in range(hp)] for _ in range(c_in)]
    for c in range(c_in):
        for y in range(h):
            for xx in range(w):
                xp[c][y + py][xx + px] = x[c][y][xx]
    h_out = (hp - dy * (kh - 1) - 1) // sy + 1
    w_out = (wp - dx * (kw - 1) - 1) // sx + 1
    cog = c_out // groups
    out = [[[0 for _ in range(w_out)] for _ in range(h_out)] for _ in range(c_out)]
    for co in range(c_out):
        g = co // cog
        for oy in range(h_out):
            for ox in range(w_out):
                acc = 0
                for j in range(cig):
                    ci = g * cig + j
                    for ky in range(kh):
                        for kx in range(kw):
                            acc += kernel[co][j][ky][kx] * xp[ci][oy * sy + ky * dy][ox * sx + kx * dx]
                out[co][oy][ox] = acc
    return out


def sum_pool2d(x, kernel_size, stride=None, padding=(0, 0)):
    """Sum over each window (zero padding), per channel: NIR ``SumPool2d``."""
    kh, kw = kernel_size
    sy, sx = stride or kernel_size
    py, px = padding
    c_in, h, w = len(x), len(x[0]), len(x[0][0])
    h_out = (h + 2 * py - kh) // sy + 1
    w_out = (w + 2 * px - kw) // sx + 1
    out = [[[0 for _ in range(w_out)] for _ in range(h_out)] for _ in range(c_in)]
    for c in range(c_in):
        for oy in range(h_out):
            for ox in range(w_out):
                acc = 0
                for ky in range(kh):
                    for kx in range(kw):
                        y, xx = oy * sy - py + ky, ox * sx - px + kx
                        if 0 <= y < h and 0 <= xx < w:
                            acc += x[c][y][xx]
                out[c][oy][ox] = acc
    return out


def flatten(t):
    """[C][H][W] -> one list, channel-major (NIR ``Flatten``, PyTorch ``flatten``)."""
    return [v for plane in t for row in plane for v in row]
