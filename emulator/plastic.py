"""The time loop of images with plastic projections: the static step, then every projection's learning.

Per emulator step t (0-based):

1. the static engine (numpy or numba, :mod:`emulator.engine_numpy` / :mod:`emulator.engine_numba`)
   runs one step: LIF update of every neuron, then delivery of this step's spikes through the
   current weights (``Program.syn_add``) into the delay ring buffer;
2. every plastic projection's learning engine (:data:`neuromap.learning_engines.ENGINES`) gets
   the step's pre and post spikes, the post neurons' v and ``t + 1`` (1-based, Lava's time step)
   and updates its stored weights (int32, 8 b + sign) in place;
3. the learned weights are written back into delivery for step t + 1 exactly as
   :func:`emulator.program.prepare` encodes a stored weight: ``w << weight_exp`` for
   ``weight_exp >= 0``, the raw weight (shifted after the per-(post, delay) sum) otherwise.
   Stored weights are not truncated again to ``num_weight_bits`` (Lava truncates only the
   initial weights, which the image already holds truncated).

This is Lava's order: a ``LearningDense`` at time step t delivers the pre spikes of t with the
weights learned up to t - 1, then learns. Each learning engine has one implementation, its numba kernel
(``step`` runs it on one projection); the numpy and numba emulator engines differ only in step 1. With the
numba engine, images whose engines all have a ``KERNEL`` run the fused loop (:mod:`emulator.plastic_numba`).
Weights are recorded every ``weight_every`` steps and after the last step, per plastic projection in image
synapse order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator import controllers, engine_numba, engine_numpy, plastic_numba
from emulator.inputs import InputSchedule
from emulator.program import prepare
from emulator.state import ChunkOut, State
from neuromap import learning_engines
from neuromap.conv_geometry import expand as expand_convs
from neuromap.errors import ImageError
from neuromap.image import Image


@dataclass
class PlasticProjection:
    """One plastic projection: its image index, synapse ids (image order), population-local pre/post
    index per synapse, source ids of the pre population, neuron ids of the post population, the
    engine and its state, and the stored weights (int32, updated in place by the engine)."""

    index: int
    syn: np.ndarray
    pre_src: np.ndarray
    post_ids: np.ndarray
    weight_exp: int
    engine: object
    cfg: object
    state: object
    weights: np.ndarray
    #: neuron ids whose v the engine reads (``post_ids``; engines with ``READS_SOMA_V``: the post neurons, then their
    #: ``neurons.join_parent``)
    v_ids: np.ndarray | None = None

    def delivery(self) -> np.ndarray:
        """The per-synapse value delivery adds (``Program.syn_add`` encoding, int32)."""
        return self.weights << self.weight_exp if self.weight_exp > 0 else self.weights.copy()

    def write_back(self, syn_add: np.ndarray) -> None:
        """Store :meth:`delivery` into ``syn_add`` (a slice when the projection's synapses are contiguous)."""
        s = self.syn
        if s.size and s[-1] - s[0] + 1 == s.size:
            dst = syn_add[s[0]:s[-1] + 1]
            if self.weight_exp > 0:
                np.left_shift(self.weights, self.weight_exp, out=dst, casting="unsafe")
            else:
                dst[:] = self.weights
        else:
            syn_add[s] = self.delivery()


def synapse_sources(image: Image) -> np.ndarray:
    """Source id of every synapse (int64[S]), through the one route entry that reaches its axon;
    -1 for synapses of axons no route reaches, -2 for axons several sources share."""
    rt, ax = image.routes, image.axons
    N, I, A = image.n_neurons, image.n_inputs, image.n_axons
    route_src = np.repeat(np.arange(N + I, dtype=np.int64), np.diff(rt["src_ptr"].astype(np.int64)))
    gax = image.cores["axon_ptr"].astype(np.int64)[rt["core"].astype(np.int64)] + rt["axon"].astype(np.int64)
    ax_src = np.full(A, -1, np.int64)
    ax_src[gax] = route_src
    ax_src[np.bincount(gax, minlength=A) > 1] = -2
    return np.repeat(ax_src, np.diff(ax["syn_ptr"].astype(np.int64)))


def plastic_projections(image: Image, syn_add: np.ndarray) -> list[PlasticProjection]:
    """Set up every projection with ``learning``; checks that ``syn_add`` encodes its weights."""
    out = []
    if not any(pm.learning for pm in image.projections):
        return out
    syn_proj = image.synapse_projections()
    src = synapse_sources(image)
    for k, pm in enumerate(image.projections):
        if not pm.learning:
            continue
        where = f"image projection {k} ({pm.name})"
        eng = learning_engines.engine(pm.learning, where)
        cfg = eng.Schema.from_dict(pm.learning, where)
        syn = np.flatnonzero(syn_proj == k)
        pre, post = image.population(pm.pre), image.population(pm.post)
        if post.kind != "neuron":
            raise ImageError(f"{where}: post population {pm.post!r} is not a neuron population")
        pre_src = image.source_ids(pre)
        s = src[syn]
        if np.any(s == -2):
            raise ImageError(f"{where}: a plastic axon is shared by several sources (learning needs one "
                             "source per axon; recompile)")
        pre_local = s - pre_src[0] if pre_src.size else s
        if syn.size and (np.any(s < 0) or pre_local.min() < 0 or pre_local.max() >= pre.size):
            raise ImageError(f"{where}: a plastic synapse is not reached from population {pm.pre!r} (recompile)")
        post_local = image.synapses["post"][syn].astype(np.int64) - post.start
        if syn.size and (post_local.min() < 0 or post_local.max() >= post.size):
            raise ImageError(f"{where}: a plastic synapse targets a neuron outside population {pm.post!r}")
        state = eng.make_state(cfg, pm.learning_arrays, pre.size, post.size, pre_local, post_local)
        pp = PlasticProjection(k, syn, pre_src, np.arange(post.start, post.start + post.size, dtype=np.int64),
                               int(pm.weight_exp), eng, cfg, state, image.synapses["weight"][syn].astype(np.int32))
        if getattr(eng, "READS_SOMA_V", False):
            par = image.neurons.get("join_parent")
            if par is None or np.any(par[pp.post_ids] < 0):
                raise ImageError(f"{where}: engine {eng.ENGINE} needs post neurons that are dendrite compartments "
                                 "(neurons.join_parent; recompile)")
            pp.v_ids = np.concatenate([pp.post_ids, par[pp.post_ids].astype(np.int64)])
        if not np.array_equal(syn_add[syn], pp.delivery()):
            raise ImageError(f"{where}: the emulator program encodes this projection's weights differently "
                             "from emulator.plastic (update PlasticProjection.delivery)")
        out.append(pp)
    return out


def learn_step(projs: list[PlasticProjection], spk: np.ndarray, t: int, v: np.ndarray, syn_add: np.ndarray) -> None:
    """Step ``t``'s learning of every projection of ``projs`` (``spk``: bool per source id, the step's spikes;
    ``v``: v after the step, indexed by neuron id) and the learned weights written into ``syn_add``."""
    for pp in projs:
        pp.engine.step(pp.cfg, pp.state, pp.weights, spk[pp.pre_src], spk[pp.post_ids], t + 1,
                       v[pp.post_ids if pp.v_ids is None else pp.v_ids])
        pp.write_back(syn_add)


def record_weights(projs: list[PlasticProjection], t: int, steps: int, weight_every: int | None, rec_steps: list,
                   rec: dict) -> None:
    """After step ``t``: the stored weights appended to ``rec`` when ``(t + 1) % weight_every == 0`` or ``t``
    is the last step."""
    if (weight_every is not None and (t + 1) % int(weight_every) == 0) or t == steps - 1:
        rec_steps.append(t)
        for pp in projs:
            rec[pp.index].append(pp.weights.astype(np.int16))


@dataclass
class PlasticRun:
    """What :func:`emulate_plastic` adds to a run: ``weight_steps`` (int64, emulator steps after which
    weights were recorded) and ``weights`` (image projection index -> (len(weight_steps), S_k) int16,
    image synapse order)."""

    weight_steps: np.ndarray
    weights: dict[int, np.ndarray]


def emulate_plastic(image: Image, steps: int, engine: str, probe: np.ndarray, weight_every: int | None = None):
    """Run ``steps`` steps with learning. Returns (spikes (k, 2), u, v, State, PlasticRun); the
    arrays have the layout of :class:`emulator.RawRun`."""
    if engine == "numba":
        run_chunk = engine_numba.run_chunk
    elif engine == "numpy":
        run_chunk = engine_numpy.run_chunk
    else:
        raise ImageError(f"unknown emulator engine {engine!r} (use numba or numpy)")
    if weight_every is not None and int(weight_every) < 1:
        raise ImageError(f"weight_every must be >= 1 steps, got {weight_every}")
    image = expand_convs(image)      # shared-weight convolutions as explicit synapses (image and program agree)
    p = prepare(image)
    projs = plastic_projections(image, p.syn_add)
    ctls = controllers.bind(image, projs)       # embedded-core controllers: between steps, on the per-step path
    if engine == "numba" and plastic_numba.supported(projs) and not ctls:   # numba kernels: one compiled loop
        *run, rec_steps, weights = plastic_numba.emulate_fused(image, p, projs, steps, probe, weight_every)
        return (*run, PlasticRun(rec_steps, weights))
    st = State.initial(p)
    sched = InputSchedule(p)
    width = p.n_neurons + p.n_inputs
    out = ChunkOut.empty(1, width, probe.size)
    spk = np.zeros(width, bool)
    one = np.zeros(2, np.int64)
    spikes, us, vs = [], np.zeros((steps, probe.size), np.int64), np.zeros((steps, probe.size), np.int64)
    rec_steps, rec = [], {pp.index: [] for pp in projs}
    chunk = max(1, min(steps, 4096))
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        in_ptr, in_ids = sched.chunk(t0, n)
        for k in range(n):
            t = t0 + k
            ids = in_ids[in_ptr[k]:in_ptr[k + 1]]
            one[1] = ids.size
            if p.n_neurons + ids.size > out.spikes.shape[0]:     # inputs with several events in this step
                out = ChunkOut.empty(1, p.n_neurons + ids.size, probe.size)
            out.n_spikes = 0
            run_chunk(p, st, t, 1, one, ids, probe, out)
            src = out.spk_src[:out.n_spikes]
            spikes.append(src.copy())
            us[t], vs[t] = out.trace_u[0], out.trace_v[0]
            spk[src] = True
            if ctls:
                controllers.run_due(ctls, t)
            learn_step(projs, spk, t, st.v, p.syn_add)
            spk[src] = False
            record_weights(projs, t, steps, weight_every, rec_steps, rec)
    counts = np.array([s.size for s in spikes], np.int64)
    ev = np.stack([np.repeat(np.arange(steps, dtype=np.int64), counts),
                   np.concatenate(spikes) if spikes else np.zeros(0, np.int64)], axis=1)
    weights = {k: np.stack(v) if v else np.zeros((0, pp.syn.size), np.int16)
               for (k, v), pp in zip(rec.items(), projs)}
    return ev, us, vs, st, PlasticRun(np.asarray(rec_steps, np.int64), weights)
