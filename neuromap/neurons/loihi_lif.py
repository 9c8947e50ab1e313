"""``loihi_lif``: Lava's ``LIF`` in hardware units, run bit-accurately as ``PyLifModelBitAcc`` (Lava 0.10.0).

Parameter names and ranges are Lava's (lava/proc/lif/process.py, lava/proc/lif/models.py):
du, dv unsigned 12 bit, vth unsigned 17 bit (effective threshold ``vth << 6``),
bias = ``bias_mant << bias_exp`` with a signed 13-bit mantissa and a 3-bit exponent,
u and v initial values inside the 24-bit state range. Per step (docs/emulator.md)::

    u <- u * (4096 - (du + 1)) / 4096 (toward 0) + (input << 6)     24-bit wrap
    v <- v * (4096 - dv) / 4096 (toward 0) + u + bias                 clipped to +-(2**23 - 1)
    v > vth << 6  ->  spike, v <- 0
    join = "soma" (neuromap extension, Loihi's multi-compartment join ADD): these are dendrite compartments;
    neuron i never spikes and its v of the step is added to the v update of neuron i of population "soma".
    refractory R > 0 (neuromap extension, Lava ``LIFRefractory`` semantics in fixed point):
    for the R steps after a spike v is not updated (stays 0) and cannot spike; u integrates.

Synaptic weights onto this model are integers (``weight_exp``, ``num_weight_bits``,
``sign_mode`` on the projection); signs are in the weights, so the only receptor is ``exc``.
"""
from __future__ import annotations

from neuromap.params import Param

_UV = 2 ** 23 - 1

PARAMS = {
    "du": Param(0, kind="int", lo=0, hi=4095, per_neuron=True, unit="hw",
                doc="current decay, 12 bit: u *= (4096-(du+1))/4096 (per neuron: one Lava LIF per distinct du/dv/vth)"),
    "dv": Param(0, kind="int", lo=0, hi=4095, per_neuron=True, unit="hw",
                doc="voltage decay, 12 bit: v *= (4096-dv)/4096"),
    "vth": Param(10, kind="int", lo=0, hi=131071, per_neuron=True, unit="hw",
                 doc="threshold mantissa, 17 bit; spike when v > vth << 6"),
    "bias_mant": Param(0, kind="int", lo=-4096, hi=4095, per_neuron=True, unit="hw",
                       doc="bias mantissa, signed 13 bit"),
    "bias_exp": Param(0, kind="int", lo=0, hi=7, per_neuron=True, unit="hw", doc="bias exponent, 3 bit"),
    "refractory": Param(0, kind="int", lo=0, hi=255, per_neuron=True, unit="steps",
                        doc="steps after a spike during which v is held at 0 (8 bit; the target's refractory_max "
                            "caps it)"),
    "u": Param(0, kind="int", lo=-_UV, hi=_UV, per_neuron=True, unit="hw", doc="initial current u (24 bit)"),
    "v": Param(0, kind="int", lo=-_UV, hi=_UV, per_neuron=True, unit="hw", doc="initial voltage v (24 bit)"),
    "join": Param("", kind="str",
                  doc="dendrite compartments: the name of a loihi_lif population of the same size whose neuron i this "
                      "population's neuron i joins (ADD: its v of the step is added to the soma's v update; a "
                      "dendrite never spikes; docs/image-format.md, *Compartments*); empty = ordinary neurons"),
}
STATE = ("u", "v")
TARGETS = {"exc": (0, 1.0)}
N_CHANNELS = 1
