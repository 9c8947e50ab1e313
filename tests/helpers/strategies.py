"""Hypothesis strategies shared by several test files (import them from here; pytest fixtures cannot feed
``@given``). Random hardware images drawn from a seed: :func:`tests.helpers.images.random_image`."""
from __future__ import annotations

from hypothesis import assume, strategies as st

from neuromap.network import Network


def _range(draw, bounds):
    return draw(st.integers(*bounds))


@st.composite
def loihi_networks(draw, pops=(1, 3), size=(1, 30), vth=(0, 2000), bias_mant=(-4096, 4095), bias_exp=(0, 7),
                   refractory=None, poisson=(1, 20), rate=(0.0, 500.0), projections=(1, 5), p_min=0.1,
                   weight=(-300, 300), max_delay=(1, 20), weight_exp=(-8, 7), num_weight_bits=None) -> Network:
    """Random hardware-unit ``loihi_lif`` networks (seed 0..1000): ``pops`` populations of ``size`` neurons
    with du, dv over 0..4095 and ``vth``, ``bias_mant``, ``bias_exp``, ``refractory`` drawn from their
    (lo, hi) ranges (None: the model's default, not passed), one Poisson population ``poi`` of ``poisson``
    inputs at a ``rate`` (Hz), and ``projections`` fixed-probability projections (p in [p_min, 1]) between
    random pairs (self-recurrence included; ``poi`` only as a source) with uniform integer weights in
    ``weight``, delays uniform in 1..d with d drawn from ``max_delay``, and ``weight_exp`` and
    ``num_weight_bits`` (None: not passed) drawn from their ranges."""
    net = Network(seed=draw(st.integers(0, 1000)))
    for k in range(_range(draw, pops)):
        opt = {name: _range(draw, r) for name, r in (("bias_exp", bias_exp), ("refractory", refractory))
               if r is not None}
        net.add_population(f"p{k}", _range(draw, size), neuron="loihi_lif", du=draw(st.integers(0, 4095)),
                           dv=draw(st.integers(0, 4095)), vth=_range(draw, vth),
                           bias_mant=_range(draw, bias_mant), **opt)
    net.add_population("poi", _range(draw, poisson), neuron="poisson", rate=draw(st.floats(*rate)))
    names = [n for n in net.populations if n != "poi"]
    for _ in range(_range(draw, projections)):
        opt = {} if num_weight_bits is None else {"num_weight_bits": _range(draw, num_weight_bits)}
        net.connect(draw(st.sampled_from(names + ["poi"])), draw(st.sampled_from(names)),
                    connect={"rule": "fixed_probability", "p": draw(st.floats(p_min, 1))},
                    weight={"uniform_int": list(weight)}, delay={"uniform_int": [1, _range(draw, max_delay)]},
                    weight_exp=_range(draw, weight_exp), **opt)
    return net


@st.composite
def conv_geometries(draw, max_side: int = 7, max_channels: int = 4, one_d: bool | None = None) -> dict:
    """Random convolution hyper-parameters (connect-rule keys of ``rule: conv`` without the kernel): ``in_shape``
    [C, H, W] (or [C, L] for Conv1d), ``out_channels``, ``kernel_size`` (kh, kw), ``stride``, ``padding``,
    ``dilation`` pairs and ``groups`` dividing both channel counts; the dilated kernel fits the padded input."""
    one_d = draw(st.booleans()) if one_d is None else one_d
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, max(1, max_channels // groups)))
    c_out = groups * draw(st.integers(1, max(1, max_channels // groups)))
    h = 1 if one_d else draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    kh = 1 if one_d else draw(st.integers(1, 3))
    kw = draw(st.integers(1, 3))
    py = 0 if one_d else draw(st.integers(0, 2))
    px = draw(st.integers(0, 2))
    dy = 1 if one_d else draw(st.integers(1, 2))
    dx = draw(st.integers(1, 2))
    sy = 1 if one_d else draw(st.integers(1, 3))
    sx = draw(st.integers(1, 3))
    assume(h + 2 * py >= dy * (kh - 1) + 1 and w + 2 * px >= dx * (kw - 1) + 1)
    return {"in_shape": [c_in, w] if one_d else [c_in, h, w], "out_channels": c_out, "kernel_size": (kh, kw),
            "stride": (sy, sx), "padding": (py, px), "dilation": (dy, dx), "groups": groups, "one_d": one_d}


def conv_spec(geo: dict, kernel) -> dict:
    """The ``conv`` connect rule of a :func:`conv_geometries` draw with ``kernel`` (C_out, C_in/groups, kh, kw)."""
    if geo["one_d"]:
        return {"rule": "conv", "in_shape": geo["in_shape"], "kernel": kernel[:, :, 0, :],
                "stride": geo["stride"][1], "padding": geo["padding"][1], "dilation": geo["dilation"][1],
                "groups": geo["groups"]}
    return {"rule": "conv", "in_shape": geo["in_shape"], "kernel": kernel, "stride": list(geo["stride"]),
            "padding": list(geo["padding"]), "dilation": list(geo["dilation"]), "groups": geo["groups"]}


def conv_out_size(geo: dict) -> int:
    """Neurons of the convolution's output (C_out * H_out * W_out)."""
    c, h, w = (geo["in_shape"][0], 1, geo["in_shape"][1]) if geo["one_d"] else geo["in_shape"]
    (kh, kw), (sy, sx), (py, px), (dy, dx) = geo["kernel_size"], geo["stride"], geo["padding"], geo["dilation"]
    return geo["out_channels"] * ((h + 2 * py - dy * (kh - 1) - 1) // sy + 1) * ((w + 2 * px - dx * (kw - 1) - 1)
                                                                                 // sx + 1)
