"""Dendrite compartments joined into their soma (``neurons.join_parent``) as two Lava 0.10.0 processes with
``fixed_pt`` models: a composition of Lava's ``LIF`` arithmetic, not a Lava process of its own.

Lava 0.10 has no multi-compartment neuron (Loihi 1's compartment joins were NxSDK's ``addDendrite(...,
joinOp=ADD)``; Lava's public processes are single compartments). The image's join (docs/image-format.md,
*Compartments*; the emulator's :mod:`emulator.compartments`) is built here from ``PyLifModelBitAcc``
(``AbstractPyLifModelFixed``, lava/proc/lif/models.py) with two changes:

* :class:`DendriteLIF`: Lava's ``LIF`` whose model never spikes (no threshold test, no reset) and sends its v
  after each step on ``v_out`` (int32, 24 bit);
* :class:`SomaLIF`: Lava's ``LIF`` whose model receives its dendrites' v of the same step on ``v_join_in`` and
  adds it inside the v update: ``v = clip(decay(v) + u + v_join + bias)`` (int32 adds, as Lava's own sum: the
  join is folded into ``effective_bias``, which Lava recomputes every step before ``subthr_dynamics``); it sends
  its v after the step on ``v_out`` (read by the Urbanczik-Senn connection, engine ``loihi3f_us``).

Neuron i of a ``DendriteLIF`` joins neuron i of its ``SomaLIF`` (``v_out`` -> ``v_join_in``, same shape). A port
carries its data within the step (the dendrite sends before the soma receives; nothing flows back), so the soma
sees the dendrite's v of the same step, which is the emulator's order.
"""
from __future__ import annotations

import numpy as np

from backends.lava.compat import import_lava

import_lava()
from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import PyLifModelBitAcc  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402


class DendriteLIF(LIF):
    """Lava ``LIF`` (same arguments; ``vth`` is ignored) that never spikes and sends v on ``v_out``."""

    def __init__(self, *, shape, **kwargs):
        super().__init__(shape=shape, **kwargs)
        self.v_out = OutPort(shape=shape)


class SomaLIF(LIF):
    """Lava ``LIF`` (same arguments) whose v update adds the v its dendrites send on ``v_join_in``."""

    def __init__(self, *, shape, **kwargs):
        super().__init__(shape=shape, **kwargs)
        self.v_join_in = InPort(shape=shape)
        self.v_out = OutPort(shape=shape)         # its v after the step (a rule reading the soma, loihi3f_us)


@implements(proc=DendriteLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyDendriteLifModelFixed(PyLifModelBitAcc):
    """``PyLifModelBitAcc`` without spikes, then v on ``v_out``."""

    implements_process = None     # set by @implements (Lava refuses a model inherited for another process)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def spiking_activation(self):
        return np.zeros(self.v.shape, bool)

    def run_spk(self):
        super().run_spk()
        self.v_out.send(self.v)


@implements(proc=SomaLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PySomaLifModelFixed(PyLifModelBitAcc):
    """``PyLifModelBitAcc`` with the dendrites' v of the step added inside the v update."""

    implements_process = None
    v_join_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.v_join = np.zeros(proc_params["shape"], np.int32)

    def scale_bias(self):
        super().scale_bias()
        self.effective_bias = self.effective_bias.astype(np.int32) + self.v_join   # int32: wraps as Lava's sum

    def run_spk(self):
        self.v_join = self.v_join_in.recv().astype(np.int32)
        super().run_spk()
        self.v_out.send(self.v)
