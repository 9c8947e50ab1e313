"""Loihi LIF with a refractory period as a Lava 0.10.0 process with a ``fixed_pt`` model.

Lava's ``LIFRefractory`` (lava/proc/lif/process.py) has only a floating-point model
(``PyLifRefractoryModelFloat``). :class:`LIFRefractoryFixed` applies that model's refractory
rule to the bit-accurate arithmetic of ``PyLifModelBitAcc`` (``AbstractPyLifModelFixed``,
lava/proc/lif/models.py), which is what the emulator does for ``neurons.refractory``
(docs/emulator.md, step 4):

* ``u`` integrates every step (``subthr_dynamics``);
* a neuron with ``refractory_end >= time_step`` keeps its previous ``v`` and cannot spike;
* a neuron that spikes at ``time_step`` gets ``v = 0`` and ``refractory_end = time_step + R``,
  so it is held for the R following steps (R = 0: exactly ``PyLifModelBitAcc``).

``refractory`` is per neuron (unsigned 8 bit in the image).
"""
from __future__ import annotations

import numpy as np

from backends.lava.compat import import_lava

import_lava()
from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402


class LIFRefractoryFixed(LIF):
    """Lava ``LIF`` (same arguments) plus ``refractory`` (int or per-neuron array, steps)."""

    def __init__(self, *, shape, refractory=0, **kwargs):
        super().__init__(shape=shape, **kwargs)
        self.refractory = Var(shape=shape, init=np.broadcast_to(np.asarray(refractory, np.int32), shape).copy())
        self.refractory_end = Var(shape=shape, init=0)


@implements(proc=LIFRefractoryFixed, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLifRefractoryModelFixed(AbstractPyLifModelFixed):
    """``PyLifModelBitAcc`` arithmetic with Lava ``LIFRefractory``'s refractory rule."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    refractory: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    refractory_end: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.effective_vth = 0

    def scale_threshold(self):
        """``vth << 6`` as ``PyLifModelBitAcc.scale_threshold``."""
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self):
        return self.v > self.effective_vth

    def run_spk(self):
        a_in_data = self.a_in.recv()
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        held = self.refractory_end >= self.time_step
        v_before = self.v.copy()
        self.subthr_dynamics(activation_in=a_in_data)
        self.v[held] = v_before[held]
        s = self.spiking_activation() & ~held
        self.refractory_end[s] = self.time_step + self.refractory[s]
        self.reset_voltage(spike_vector=s)
        self.s_out_buff = s
        self.s_out.send(s)
