"""Hypothesis strategies shared by several test files (import them from here; pytest fixtures cannot feed
``@given``). Random hardware images drawn from a seed: :func:`tests.helpers.images.random_image`."""
from __future__ import annotations

from hypothesis import strategies as st

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
