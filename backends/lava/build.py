"""A :class:`~backends.lava.plan.LavaPlan` -> live Lava 0.10.0 processes (``LIF``, ``Dense``/``Sparse``,
``DelayDense``/``DelaySparse``, ``io.source.RingBuffer`` inputs, ``io.sink.RingBuffer`` spike
recorders, ``Monitor`` for probed u/v).

Timing (Lava's ``LoihiProtocol``): emulator step ``t`` is Lava time step ``t + 1``. A spike sent at
step ``t`` by a LIF or by an input ``RingBuffer`` (column ``t`` of its data) reaches the target LIF
at step ``t + 1 + delay`` where ``delay`` is the Lava delay (image delay - 1).

Learning: a plastic connection is a ``LearningDense``/``LearningSparse``; its post LIF's ``s_out`` also
feeds the connection's ``s_in_bap`` (Lava 0.10.0's ``LearningLIF`` fixed_pt model never sends
``s_out_bap``, so a plain LIF's spikes are the back-propagating action potentials, as in Lava's STDP
tutorial). At Lava step t the connection sees the pre and post spikes sent at t and learns after
delivering with the weights of t - 1, which is the emulator's order (``emulator/plastic.py``).
Projections learning with a neuromap rule engine are ``NeuromapPlasticSparse`` (same wiring, plus the
post LIF's ``v_out`` into ``v_in`` for engines that read v: ``backends/lava/procs/plastic_connection.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.lava.compat import import_lava
from backends.lava.plan import (
    Connection,
    LavaPlan,
    input_raster,
    learning_rule_kwargs,
    message_bits,
    third_factor_raster,
    v_groups,
)
from neuromap.errors import ImageError


@dataclass
class LavaNetwork:
    """The processes of one plan, ready to run ``steps`` steps."""

    plan: LavaPlan
    steps: int
    raster: np.ndarray                    # (steps, I) int32 input events per step replayed
    lifs: list[Any]                       # per neuron group
    sources: list[Any]                    # per input group (None when it drives nothing)
    connections: list[Any]                # per plan connection
    spike_sinks: list[Any]                # per neuron group
    monitors: list[tuple[int, str, Any]] = field(default_factory=list)   # (group, "u"/"v", Monitor)
    ties: list[Any] = field(default_factory=list)          # empty Sparse joining components (see tie_groups)
    rewards: list[Any] = field(default_factory=list)       # third-factor sources of ThirdFactorLIF groups

    @property
    def root(self):
        """The process to ``run``: every process is reachable from it."""
        return self.lifs[0]


def lava_sign_mode(name: str):
    """Lava ``SignMode`` member of an image sign mode name."""
    import_lava()
    from lava.utils.weightutils import SignMode
    return SignMode[name.upper()]


def make_connection(c: Connection, message_bits: int = 0):
    """The Lava connection process of one plan connection (Dense/Sparse, with delays if any exceed 0).
    ``message_bits > 0``: graded spikes (``num_message_bits``), the payload (an input's events in the step)
    multiplies the weight: Lava 0.10 computes ``weights.dot(s_in)``, then the weight_exp shift."""
    import_lava()
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse
    from scipy.sparse import csr_matrix

    kw = dict(weight_exp=c.weight_exp, num_weight_bits=c.num_weight_bits, sign_mode=lava_sign_mode(c.sign_mode),
              name=c.name, **({"num_message_bits": message_bits} if message_bits else {}))
    if c.seed_rule:     # neuromap's integer rule engines: backends/lava/procs/plastic_connection.py
        # lazy: the procs modules import lava (an optional dependency)
        from backends.lava.procs.plastic_connection import NeuromapPlasticSparse
        return NeuromapPlasticSparse(shape=c.shape, rows=c.rows, cols=c.cols, weights=c.weights, delays=c.delays,
                                     weight_exp=c.weight_exp, learning=c.learning,
                                     learning_arrays=c.learning_arrays, name=c.name, controller=c.controller)
    if c.learning:
        return make_learning_connection(c, kw)
    if c.dense:
        w = c.dense_weights()
        if c.max_delay == 0:
            return Dense(weights=w, **kw)
        return DelayDense(weights=w, delays=c.dense_delays(), max_delay=c.max_delay, **kw)
    w = csr_matrix((c.weights, (c.rows, c.cols)), shape=c.shape, dtype=np.int32)
    if c.max_delay == 0:
        return Sparse(weights=w, **kw)
    d = csr_matrix((c.delays.astype(np.int64), (c.rows, c.cols)), shape=c.shape)  # Lava wants dtype int
    return DelaySparse(weights=w, delays=d, max_delay=c.max_delay, **kw)


def make_learning_connection(c: Connection, kw: dict):
    """``LearningDense`` (every pair connected) or ``LearningSparse`` with the image's rule as a
    ``Loihi2FLearningRule`` (STDPLoihi builds exactly this rule from its parameters)."""
    from lava.proc.dense.process import LearningDense
    from lava.proc.sparse.process import LearningSparse
    from scipy.sparse import csr_matrix

    rule = learning_rule(c)
    if c.dense:
        return LearningDense(weights=c.dense_weights(), learning_rule=rule, **kw)
    w = csr_matrix((c.weights, (c.rows, c.cols)), shape=c.shape, dtype=np.int32)
    return LearningSparse(weights=w, learning_rule=rule, **kw)


def learning_rule(c: Connection):
    """The Lava learning rule of plastic connection ``c``: ``Loihi2FLearningRule`` (engine ``loihi``) or
    ``Loihi3FLearningRule`` (engine ``loihi3f``: y traces from the post neuron)."""
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule, Loihi3FLearningRule
    cls = Loihi3FLearningRule if c.third_factor else Loihi2FLearningRule
    return cls(**learning_rule_kwargs(c.learning, c.name))


def tie_groups(plan: LavaPlan) -> list[int]:
    """Neuron groups that start a connected component of the connection graph, except group 0.

    Lava runs what is reachable from the process it starts; each of these groups gets an empty
    ``Sparse`` (no synapses: it adds exactly 0) into group 0, so one run covers the whole network.
    """
    G = len(plan.groups)
    parent = list(range(G + len(plan.inputs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in plan.connections:
        a, b = find(c.pre if c.pre_kind == "neuron" else G + c.pre), find(c.post)
        parent[max(a, b)] = min(a, b)
    return sorted({find(g) for g in range(G)} - {find(0)}) if G else []


def _lif_class(g, send_v: bool = False):
    """Lava ``LIF``, or neuromap's fixed_pt ``LIFRefractoryFixed`` for a group with refractory neurons;
    ``send_v``: the variant with a ``v_out`` port (post of a rule engine that reads v)."""
    if send_v:
        from backends.lava.procs import plastic_connection as pc  # lazy: imports lava (optional)
        return pc.LIFWithV if g.refractory is None else pc.LIFRefractoryWithV
    if g.refractory is None:
        from lava.proc.lif.process import LIF
        return LIF
    from backends.lava.procs.lif_refractory import LIFRefractoryFixed  # lazy: imports lava (optional)
    return LIFRefractoryFixed


def build_network(plan: LavaPlan, steps: int, stage=None) -> LavaNetwork:
    """Create every process of ``plan`` for a run of ``steps`` (>= 1) steps and connect them.
    ``stage`` (:class:`backends.lava.run.LavaStage`, optional): its ``now`` names the process being made."""
    import_lava()
    from lava.proc.conv.process import Conv
    from lava.proc.io.sink import RingBuffer as SpikeSink
    from lava.proc.io.source import RingBuffer as SpikeSource
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import Sparse
    from scipy.sparse import csr_matrix

    raster = input_raster(plan, steps)
    vpost = v_groups(plan)

    def doing(what: str) -> None:
        if stage is not None:
            stage.now = what
    doing(f"creating the LIF processes of {len(plan.groups)} neuron groups")
    third = {}                   # post group -> its three-factor connection (the neuron serves one)
    for c in plan.connections:
        if c.third_factor:
            if c.post in third:
                raise ImageError(f"plastic connection {c.name!r}: post group {plan.groups[c.post].name!r} already "
                                 f"receives a third factor ({third[c.post].name!r}); run on the emulator")
            third[c.post] = c
    rules = {k: learning_rule(c) for k, c in third.items()}

    somas = {g.join_to for g in plan.groups if g.join_to is not None}

    def lif(k, g):
        kw = dict(shape=(g.size,), du=g.du, dv=g.dv, vth=g.vth, bias_mant=g.bias_mant.astype(np.int32),
                  bias_exp=g.bias_exp.astype(np.int32), u=g.u_init.astype(np.int32), v=g.v_init.astype(np.int32),
                  name=g.name)
        if g.join_to is not None or k in somas:    # dendrite compartments and their soma
            if k in third:
                raise ImageError(f"neuron group {g.name!r}: a compartment of a joined neuron cannot also be the post "
                                 "of a host-written three-factor rule in Lava; run on the emulator")
            from backends.lava.procs import compartments  # lazy: imports lava (optional)
            return (compartments.DendriteLIF if g.join_to is not None else compartments.SomaLIF)(**kw)
        if k in third:           # the R-STDP post neuron (its y1 filter, the third factor)
            from backends.lava.procs.third_factor_lif import ThirdFactorLIF  # lazy: imports lava (optional)
            lr = third[k].learning
            return ThirdFactorLIF(**kw, learning_rule=rules[k], post_impulse=lr["post_impulse"],
                                  post_tau=lr["post_tau"])
        return _lif_class(g, k in vpost)(**kw, **({} if g.refractory is None else {"refractory": g.refractory}))
    lifs = [lif(k, g) for k, g in enumerate(plan.groups)]
    for g, proc in zip(plan.groups, lifs):   # a dendrite's v of the step into its soma's v update (join ADD)
        if g.join_to is not None:
            proc.v_out.connect(lifs[g.join_to].v_join_in)
    rewards = []
    for k, c in third.items():   # the host-written third factor, one value per neuron and step
        rew = SpikeSource(data=third_factor_raster(c, steps))
        rew.s_out.connect(lifs[k].a_third_factor_in)
        rewards.append(rew)
    used = {c.pre for c in plan.connections + plan.conv_connections if c.pre_kind == "input"}
    sources = [SpikeSource(data=np.ascontiguousarray(raster[:, g.inputs].T, dtype=np.int32))
               if k in used else None for k, g in enumerate(plan.inputs)]
    conns = []
    for c in plan.connections:
        doing(f"creating connection process {c.name!r}")
        proc = make_connection(c, message_bits(plan, c))   # inputs of several events per step: graded
        pre = lifs[c.pre] if c.pre_kind == "neuron" else sources[c.pre]
        pre.s_out.connect(proc.s_in)
        proc.a_out.connect(lifs[c.post].a_in)
        if c.third_factor:   # back-propagating spikes and the y traces from the ThirdFactorLIF
            post = lifs[c.post]
            post.s_out_bap.connect(proc.s_in_bap)
            for y in (1, 2, 3):
                getattr(post, f"s_out_y{y}").connect(getattr(proc, f"s_in_y{y}"))
        elif c.learning:   # the post neurons' spikes of the step are the back-propagating action potentials
            lifs[c.post].s_out.connect(proc.s_in_bap)
        if c.reads_v:   # clopath reads the post membrane v
            lifs[c.post].v_out.connect(proc.v_in)
        if c.reads_soma_v:   # loihi3f_us also reads the v of the dendrite posts' somas
            soma = plan.groups[c.post].join_to
            if soma is None:
                raise ImageError(f"plastic connection {c.name!r}: its rule reads the somas of dendrite compartments, "
                                 f"but group {plan.groups[c.post].name!r} holds no dendrites (recompile)")
            lifs[soma].v_out.connect(proc.v_soma_in)
        conns.append(proc)
    for c in plan.conv_connections:   # shared weights: lava.proc.conv on (W, H, C) views of the groups' spikes
        doing(f"creating conv process {c.name!r}")
        proc = Conv(weight=c.weight, input_shape=c.in_shape, padding=c.padding, stride=c.stride,
                    dilation=c.dilation, groups=c.groups, num_message_bits=message_bits(plan, c), name=c.name)
        pre = lifs[c.pre] if c.pre_kind == "neuron" else sources[c.pre]
        pre.s_out.reshape(c.chw).transpose([2, 1, 0]).connect(proc.s_in)
        proc.a_out.transpose([2, 1, 0]).reshape((c.n_post,)).connect(lifs[c.post].a_in)
        conns.append(proc)
    doing("creating spike recorders and monitors")
    sinks = []
    for g, lif in zip(plan.groups, lifs):
        sink = SpikeSink(shape=(g.size,), buffer=steps)
        lif.s_out.connect(sink.a_in)
        sinks.append(sink)
    monitors = []
    for var, ids in (("u", plan.probe_u), ("v", plan.probe_v)):
        for k, g in enumerate(plan.groups):
            if np.isin(g.neurons, ids).any():
                mon = Monitor()
                mon.probe(getattr(lifs[k], var), steps)
                monitors.append((k, var, mon))
    ties = []
    for g in tie_groups(plan):
        tie = Sparse(weights=csr_matrix((plan.groups[0].size, plan.groups[g].size), dtype=np.int32),
                     name=f"tie:{plan.groups[g].name}->{plan.groups[0].name}")
        lifs[g].s_out.connect(tie.s_in)
        tie.a_out.connect(lifs[0].a_in)
        ties.append(tie)
    return LavaNetwork(plan, steps, raster, lifs, sources, conns, sinks, monitors, ties, rewards)
