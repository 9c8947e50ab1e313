"""The post neuron of Lava 0.10.0's three-factor learning (R-STDP) as a process with a ``fixed_pt`` model.

Lava 0.10 ships ``LearningLIF`` (lava/proc/lif/process.py) with the learning ports (``a_third_factor_in``,
``s_out_bap``, ``s_out_y1..3``) but its fixed-point model sends none of them; the bit-accurate R-STDP neuron
Lava itself tests against (``RSTDPLIFBitAcc`` in Lava's tests/lava/proc/dense/test_stdp_sim.py, the model of
its three-factor tutorial) is defined in its test suite. :class:`ThirdFactorLIF` is that neuron, written from
its documented behaviour, per time step t in ``run_spk``:

1. ``y1 = floor(y1 * exp(-1/post_tau) + post_impulse * s[t-1])`` (float64, numpy; ``s[t-1]`` the spikes the
   neuron sent in the previous step, 0 at the first);
2. the LIF update of ``PyLifModelBitAcc`` (``AbstractPyLifModelFixed.run_spk``: ``a_in``, u/v decay, bias,
   ``v > vth << 6``, reset, ``s_out``);
3. ``y2 = a_third_factor_in`` (the third factor of step t), ``y3`` unchanged (0);
4. send the step's spikes on ``s_out_bap`` and y1, y2, y3 on ``s_out_y1..3`` (to a ``LearningDense`` with a
   ``Loihi3FLearningRule``, e.g. ``RewardModulatedSTDP``).

``post_impulse``/``post_tau`` are process arguments here (Lava's test model reads them from its
``RewardModulatedSTDP``: ``post_trace_kernel_magnitude``, ``post_trace_decay_tau``). The emulator's engine
``loihi3f`` (:mod:`neuromap.learning_engines.loihi3f`) computes the same y1 and y2; tests/learning compares the
two and reproduces Lava's own known values.
"""
from __future__ import annotations

import numpy as np

from backends.lava.compat import import_lava

import_lava()
from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.neuron import LearningNeuronModelFixed  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import LearningLIF  # noqa: E402


class ThirdFactorLIF(LearningLIF):
    """``LearningLIF`` (same arguments, ``learning_rule`` a ``Loihi3FLearningRule``) plus the post trace y1's
    ``post_impulse`` (per spike) and ``post_tau`` (steps, > 0)."""

    def __init__(self, *, shape, post_impulse: float, post_tau: float, **kwargs):
        super().__init__(shape=shape, post_impulse=float(post_impulse), post_tau=float(post_tau), **kwargs)


@implements(proc=ThirdFactorLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyThirdFactorLIFModelFixed(LearningNeuronModelFixed, AbstractPyLifModelFixed):
    """Bit-accurate LIF that sends its back-propagating spikes, its post trace y1 and the third factor y2."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.effective_vth = 0
        self.s_out_buff = np.zeros(proc_params["shape"])
        self.post_impulse = proc_params["post_impulse"]
        self.post_decay = np.exp(-1 / np.float64(proc_params["post_tau"]))

    def scale_threshold(self):
        """``vth << 6`` as ``PyLifModelBitAcc.scale_threshold``."""
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self):
        return self.v > self.effective_vth

    def run_spk(self) -> None:
        self.y1 = np.floor(self.y1 * self.post_decay + self.post_impulse * self.s_out_buff)
        super().run_spk()
        self.y2 = self.a_third_factor_in.recv()
        self.s_out_bap.send(self.s_out_buff)
        self.s_out_y1.send(self.y1)
        self.s_out_y2.send(self.y2)
        self.s_out_y3.send(self.y3)
