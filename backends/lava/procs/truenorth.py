"""TrueNorth-style cores (``emulator.truenorth``) as Lava 0.10.0 processes, run on
``Loihi2SimCfg(select_tag="fixed_pt")``.

Lava has no process for the Cassidy et al. (2013) neuron, so :class:`TrueNorthCore` is a custom
process whose ``fixed_pt`` Python model advances its core each time step with the emulator's
integer step (:func:`emulator.truenorth.step_core_np`, same counter-based random draws), so the
arithmetic is shared, not re-derived. Wiring uses Lava's own processes:

* host input spikes: one ``io.source.RingBuffer`` per core straight into the core's ``a_in``
  (an axon is active at the tick its spike is injected);
* neuron -> (core, axon, delay ``d`` in 1..15): a ``DelaySparse`` of unit weights (excitatory,
  8 bit, so stored exactly) with Lava delay ``d - 1`` from the source core's ``s_out`` to the
  destination core's ``a_in`` (a spike at tick t is active at tick t + d);
* an axon is active when its summed input is > 0 (TrueNorth axons are binary).

Core ``c``'s configuration travels in the process parameters; V (signed 20 bit) is a Var, and
spikes are recorded with ``io.sink.RingBuffer``.
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

from emulator.truenorth import TNCore, TNResult, check_core, step_core_np  # noqa: E402
from neuromap.errors import ImageError  # noqa: E402


class TrueNorthCore(AbstractProcess):
    """One TrueNorth-style core: ``a_in`` (A,) axon input (active when > 0), ``s_out`` (N,) spikes,
    ``v`` (N,) membrane potential (signed 20 bit). ``core``: an :class:`emulator.truenorth.TNCore`;
    ``seed``/``cid``: the random-draw seed and core id (as in ``emulator.truenorth.run``)."""

    def __init__(self, *, core: TNCore, seed: int = 0, cid: int = 0, name: str | None = None):
        super().__init__(core=core, seed=int(seed), cid=int(cid), name=name)
        self.a_in = InPort(shape=(core.n_axons,))
        self.s_out = OutPort(shape=(core.n_neurons,))
        self.v = Var(shape=(core.n_neurons,), init=core.V0.astype(np.int32))


@implements(proc=TrueNorthCore, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTrueNorthCoreModelFixed(PyLoihiProcessModel):
    """Integer model: one tick of the core per Lava time step (tick = time_step - 1)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=20)

    def run_spk(self):
        active = self.a_in.recv() > 0
        core = self.proc_params["core"]
        V = self.v.astype(np.int64)
        spikes = step_core_np(core, V, active, self.proc_params["seed"], self.proc_params["cid"],
                              self.time_step - 1)
        self.v[:] = V
        self.s_out.send(spikes)


def with_one_axon(core: TNCore) -> TNCore:
    """``core`` with one unconnected axon (crossbar row of zeros, type 0) when it has none: Lava cannot
    allocate a zero-size port (its shared memory refuses size 0), and a row without crossbar bits adds
    nothing, so the core computes exactly as before. Cores with axons are returned unchanged."""
    if core.n_axons:
        return core
    import dataclasses
    return dataclasses.replace(core, crossbar=np.zeros((1, core.n_neurons), bool),
                               axon_type=np.zeros(1, core.axon_type.dtype))


def run_truenorth(cores: list[TNCore], n_ticks: int, inputs: np.ndarray | None = None, seed: int = 0,
                  record_v: bool = False) -> TNResult:
    """Run ``cores`` for ``n_ticks`` ticks in Lava; same arguments and result as ``emulator.truenorth.run``."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as SpikeSink
    from lava.proc.io.source import RingBuffer as SpikeSource
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    C = len(cores)
    for c in cores:
        check_core(c, C)
    if n_ticks < 1 or C == 0:
        raise ImageError("truenorth: need at least one core and one tick to run in Lava")
    cores = [with_one_axon(c) for c in cores]
    procs = [TrueNorthCore(core=c, seed=seed, cid=k, name=f"tn{k}") for k, c in enumerate(cores)]
    inp = np.zeros((0, 3), np.int64) if inputs is None or not len(inputs) else \
        np.asarray(inputs, np.int64).reshape(-1, 3)
    for k, (c, p) in enumerate(zip(cores, procs)):
        m = (inp[:, 1] == k) & (inp[:, 0] < n_ticks)
        if m.any():
            data = np.zeros((c.n_axons, n_ticks), np.int32)
            data[inp[m, 2], inp[m, 0]] = 1
            src = SpikeSource(data=data)
            src.s_out.connect(p.a_in)
        for d in range(C):                          # routes k -> d, one DelaySparse per (source, target) core
            j = np.flatnonzero(c.dest_core == d)
            if j.size == 0:
                continue
            shape = (cores[d].n_axons, c.n_neurons)
            w = csr_matrix((np.ones(j.size, np.int32), (c.dest_axon[j], j)), shape=shape)
            dl = csr_matrix(((c.delay[j].astype(np.int64) - 1), (c.dest_axon[j], j)), shape=shape)
            conn = DelaySparse(weights=w, delays=dl, max_delay=int(c.delay[j].max()) - 1, weight_exp=0,
                               num_weight_bits=8, sign_mode=SignMode.EXCITATORY, name=f"route{k}->{d}")
            p.s_out.connect(conn.s_in)
            conn.a_out.connect(procs[d].a_in)
    sinks, mons = [], []
    for k, (c, p) in enumerate(zip(cores, procs)):
        sink = SpikeSink(shape=(c.n_neurons,), buffer=n_ticks)
        p.s_out.connect(sink.a_in)
        sinks.append(sink)
        if record_v:
            mon = Monitor()
            mon.probe(p.v, n_ticks)
            mons.append(mon)
        if k:   # join every core to core 0 with an empty Sparse (adds 0) so one run covers all
            tie = Sparse(weights=csr_matrix((cores[0].n_axons, c.n_neurons), dtype=np.int32))
            p.s_out.connect(tie.s_in)
            tie.a_out.connect(procs[0].a_in)
    try:   # stop the runtime even when the run fails (Lava's worker processes would outlive the error)
        procs[0].run(condition=RunSteps(num_steps=n_ticks), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = [np.asarray(s.data.get()).T != 0 for s in sinks]
        v = [np.rint(np.asarray(m.get_data()[p.name]["v"])).astype(np.int32).reshape(n_ticks, -1)
             for m, p in zip(mons, procs)] if record_v else None
    finally:
        procs[0].stop()
    return TNResult(spikes=spikes, v=v)
