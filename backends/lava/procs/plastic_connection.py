"""neuromap's integer seed-rule learning engines as a Lava 0.10.0 connection process (``fixed_pt`` model).

Lava's ``Loihi2FLearningRule`` cannot express the seed rules (``pool_stdp``, ``homeostatic_stdp``,
``vogels_isp``, ``clopath``, any engine registered in :mod:`neuromap.learning_engines`), so
:class:`NeuromapPlasticSparse` is a custom connection whose model delivers exactly like Lava's
``Sparse``/``DelaySparse`` fixed_pt models and then advances the registered engine (its ``step``: the
engine's numba kernel, its one implementation): the learning arithmetic is shared, not re-derived (as
:mod:`backends.lava.procs.truenorth` shares ``emulator.truenorth``). So a Lava run of a seed rule checks the
plumbing (ports, delivery, the order of delivery and learning, v sent to the engine); the arithmetic is checked
against the independent scalar oracles (tests/oracles/seed_rules.py), by tests/learning/test_lava_seed_rules.py
in Lava and tests/learning/test_seed_rule_oracles.py on the emulator.

Ports: ``s_in`` (pre spikes, bool), ``a_out`` (int32 to the post LIF's ``a_in``), ``s_in_bap`` (the post
LIF's ``s_out``: post spikes of the step), ``v_in`` (the post neurons' v after the step, int32 24 bit,
from :class:`LIFWithV`/:class:`LIFRefractoryWithV`; received only by engines that read v, i.e. clopath) and
``v_soma_in`` (engines with ``READS_SOMA_V``, i.e. ``loihi3f_us``: the v of the dendrite posts' somas, from
``backends.lava.procs.compartments.SomaLIF``).

Per Lava time step t (emulator step t - 1), in ``run_spk``:

1. send ``a_buf[:, 0]`` (what the spikes of earlier steps deliver at t; sent before any receive, as
   Lava's connections do, so recurrent graphs cannot deadlock);
2. receive the pre spikes of t, the post spikes of t and (clopath) post v of t;
3. delivery: per (post, delay) the sum of this step's weights, shifted by ``weight_exp`` (left for
   >= 0, floor right otherwise), added to the delay buffer after rolling it by one step (Lava's
   ``PyDelaySparseModelBitAcc``; delay 0 = next step);
4. an embedded-core controller of the projection (``controller``, :mod:`neuromap.embedded`; Lava 0.10's CPU
   backend has no embedded cores, so this model runs the controller's program, the one implementation, at the
   point of the step where the emulator runs it): when ``(t - 1) % period == 0`` it reads the engine state and
   writes the parameters it declares;
5. learning: ``engine.step(cfg, state, weights, pre, post, t, v)`` (``cfg``: the engine's typed schema) updates
``weights`` in place;
   they deliver from step t + 1 on. This is the emulator's order (``emulator/plastic.py``).

``weights`` (Var, int32[S], 8 b + sign mantissas) holds the entries in the order given (the plan gives
image synapse order), so ``weights.get()`` is directly the projection's stored weights.
"""
from __future__ import annotations

import numpy as np

from backends.lava.compat import import_lava

import_lava()
from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import PyLifModelBitAcc  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402

from backends.lava.procs.lif_refractory import LIFRefractoryFixed, PyLifRefractoryModelFixed  # noqa: E402
from neuromap import learning_engines  # noqa: E402
from neuromap.errors import ImageError  # noqa: E402


class NeuromapPlasticSparse(AbstractProcess):
    """A plastic projection run by a neuromap rule engine (see the module docstring).

    ``shape``: (n_post, n_pre); ``rows``/``cols``: post/pre index of each synapse (int, S); ``weights``:
    stored int weights (S); ``delays``: Lava delays (image delay - 1, 0..63); ``weight_exp``: delivery
    shift; ``learning``/``learning_arrays``: the image projection's dict and arrays (image synapse order,
    the order of the entries)."""

    def __init__(self, *, shape, rows, cols, weights, delays, weight_exp: int, learning: dict,
                 learning_arrays: dict | None = None, name: str | None = None, controller=None):
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        weights, delays = np.asarray(weights, np.int32), np.asarray(delays, np.int64)
        n_post, n_pre = int(shape[0]), int(shape[1])
        where = f"plastic connection {name!r}"
        learning_engines.schema(learning, where)        # unknown engine or bad field: one-line ImageError
        if not rows.shape == cols.shape == weights.shape == delays.shape or rows.ndim != 1:
            raise ImageError(f"{where}: rows, cols, weights and delays need one entry per synapse")
        if rows.size == 0:
            raise ImageError(f"{where}: a plastic connection needs at least one synapse")
        if rows.min() < 0 or rows.max() >= n_post or cols.min() < 0 or cols.max() >= n_pre:
            raise ImageError(f"{where}: a synapse index lies outside shape {(n_post, n_pre)}")
        if delays.size and (delays.min() < 0 or delays.max() > 63):
            raise ImageError(f"{where}: Lava delays must be 0..63 (image delay 1..64), got {int(delays.max())}")
        super().__init__(shape=(n_post, n_pre), rows=rows, cols=cols, delays=delays, weight_exp=int(weight_exp),
                         learning=dict(learning), learning_arrays=dict(learning_arrays or {}), name=name,
                         controller=controller)
        self.s_in = InPort(shape=(n_pre,))
        self.s_in_bap = InPort(shape=(n_post,))
        self.v_in = InPort(shape=(n_post,))
        self.v_soma_in = InPort(shape=(n_post,))      # engines with READS_SOMA_V: the somas of the dendrite posts
        self.a_out = OutPort(shape=(n_post,))
        self.weights = Var(shape=(weights.size,), init=weights)


@implements(proc=NeuromapPlasticSparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuromapPlasticSparseModelFixed(PyLoihiProcessModel):
    """Integer model: Lava ``DelaySparse`` fixed_pt delivery, then one step of the emulator's rule engine."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
    s_in_bap: PyInPort = LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    v_soma_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=16)
    weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = proc_params
        self.learning = p["learning"]
        self.rows, self.cols, self.delays = p["rows"], p["cols"], p["delays"]
        n_post, n_pre = p["shape"]
        self.n_post = n_post
        where = f"plastic connection {p.get('name')!r}"
        self.engine = learning_engines.engine(self.learning, where)
        self.cfg = self.engine.Schema.from_dict(self.learning, where)
        self.state = self.engine.make_state(self.cfg, p["learning_arrays"], n_pre, n_post, self.cols, self.rows)
        D = int(self.delays.max()) + 1 if self.delays.size else 1
        self.a_buf = np.zeros((n_post, D), np.int64)
        self.slot = self.delays * n_post + self.rows           # flat (delay, post) slot of each synapse
        self.weight_exp = int(p["weight_exp"])
        self.read_v = bool(self.engine.READS_V)
        self.read_soma_v = bool(getattr(self.engine, "READS_SOMA_V", False))
        self.controller = p.get("controller")        # neuromap.embedded.ControllerMap or None
        if self.controller is not None:
            self.ctl_state = self.controller.module.make_state(self.controller, n_post)

    def run_spk(self):
        self.a_out.send(self.a_buf[:, 0].astype(np.int32))
        pre = self.s_in.recv().astype(bool)
        post = self.s_in_bap.recv().astype(bool)
        v = self.v_in.recv().astype(np.int64) if self.read_v else None
        if self.read_soma_v:      # [v of the dendrite posts, v of their somas] (emulator.plastic's order)
            v = np.concatenate([v, self.v_soma_in.recv().astype(np.int64)])
        w = self.weights                                        # the engine updates it in place
        n_post, D = self.a_buf.shape
        hit = pre[self.cols]
        acc = np.zeros(n_post * D, np.int64)
        if hit.any():
            np.add.at(acc, self.slot[hit], w[hit].astype(np.int64))
        acc = acc.reshape(D, n_post).T
        e = self.weight_exp
        acc = np.left_shift(acc, e) if e > 0 else np.right_shift(acc, -e)
        self.a_buf[:, 0] = 0
        self.a_buf = np.roll(self.a_buf, -1, axis=1)
        self.a_buf += acc
        if self.controller is not None and self.controller.due(self.time_step - 1):   # before the learning
            self.controller.decide_into(self.ctl_state, self.state)
        self.engine.step(self.cfg, self.state, w, pre, post, self.time_step, v)


class _SendsV:
    """Process mixin: a ``v_out`` OutPort (int32, 24 bit) of the LIF's shape."""

    def __init__(self, *, shape, **kwargs):
        super().__init__(shape=shape, **kwargs)
        self.v_out = OutPort(shape=shape)


class LIFWithV(_SendsV, LIF):
    """Lava ``LIF`` (same arguments, fixed_pt ``PyLifModelBitAcc`` arithmetic) that also sends its v after
    each step on ``v_out`` (int32, 24 bit), for rule engines that read the post membrane (clopath)."""


class LIFRefractoryWithV(_SendsV, LIFRefractoryFixed):
    """:class:`~backends.lava.procs.lif_refractory.LIFRefractoryFixed` that also sends v on ``v_out``."""


class _SendsVModel:
    """Model mixin: the LIF model's step, then v (after reset) on ``v_out``."""

    implements_process = None     # set by @implements (Lava refuses a model inherited for another process)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self):
        super().run_spk()
        self.v_out.send(self.v)


@implements(proc=LIFWithV, protocol=LoihiProtocol)   # CPU and the fixed_pt tags are inherited
class PyLifWithVModelFixed(_SendsVModel, PyLifModelBitAcc):
    """``PyLifModelBitAcc``, then v on ``v_out``."""


@implements(proc=LIFRefractoryWithV, protocol=LoihiProtocol)
class PyLifRefractoryWithVModelFixed(_SendsVModel, PyLifRefractoryModelFixed):
    """``PyLifRefractoryModelFixed``, then v on ``v_out``."""
