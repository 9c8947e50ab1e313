"""Bit-accurate emulator of the image's cores; imports the contract layer (:mod:`neuromap.image`,
:mod:`neuromap.core_kinds`) and foundation modules only.

:func:`emulate` runs an image for a number of steps on the emulator of its core kind (:data:`EMULATORS`):
``loihi_lif`` cores with the numpy engine or the numba-compiled engine (same integers; semantics in
``docs/emulator.md``), ``truenorth`` cores with :mod:`emulator.tn_image` (``docs/truenorth.md``).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np

from emulator import engine_numba, engine_numpy
from emulator.inputs import InputSchedule, PrefetchedInputs
from emulator.plastic import emulate_plastic
from emulator.program import Program, flatten, prepare, prepare_runs, split_runs
from emulator.raw_run import RawRun
from emulator.state import ChunkOut, State
from emulator.threads import THREADS_MIN_SYNAPSES, ThreadChooser, candidate_threads, free_cores  # noqa: F401
from emulator.tn_image import emulate_truenorth
from neuromap.core_kinds import image_core_kind, loihi_lif, truenorth
from neuromap.errors import ImageError
from neuromap.image import Image

ENGINES = ("numba", "numpy")

#: neuron-steps per chunk (the chunk length adapts to the network size; progress is reported per chunk)
_CHUNK_BUDGET = 1_000_000
#: spike rows (16 bytes each) reserved up front at most (2 GB of address space; untouched pages cost no memory);
#: a run that spikes more grows the array (:func:`_grown`)
_RESERVE_ROWS = 1 << 27
#: draw Poisson inputs a chunk ahead on a second thread (numba engine, static runs; :class:`PrefetchedInputs`)
PREFETCH = True


def _engine(name: str):
    if name == "numba":
        return engine_numba.run_chunk
    if name == "numpy":
        return engine_numpy.run_chunk
    raise ImageError(f"unknown emulator engine {name!r} (use one of {', '.join(ENGINES)})")


def emulate(image: Image | Program, steps: int, engine: str = "numba", probe: np.ndarray | None = None,
            progress=None, weight_every: int | None = None, threads: int | None = None,
            record_inputs: bool = True, link_counters: bool = True) -> RawRun:
    """Run ``steps`` steps from the initial state on the emulator of the image's core kind (:data:`EMULATORS`).
    ``probe``: global neuron ids to trace (default: the image's u/v probes). ``progress(done_steps, steps)`` is
    called after each chunk (neuromap.progress; ``loihi_lif`` cores). Images with plastic projections learn
    (:mod:`emulator.plastic`); weights are recorded every ``weight_every`` steps and after the last. ``threads``:
    delivery/update threads of the numba engine on static images (1 = the calling thread only; None = chosen per
    chunk by measurement, :mod:`emulator.threads`); results do not depend on it. A :class:`Program` (a prepared
    ``loihi_lif`` image) runs on the ``loihi_lif`` emulator. ``record_inputs=False``: ``RawRun.spikes`` holds the
    neurons' spikes only (the input events, which the image's seed and spike list determine, are left out; on
    large Poisson-driven networks they are most of the rows: 16 bytes each); the static ``loihi_lif`` run then
    keeps only a chunk's input rows at a time. Traffic counters count every spike either way.
    ``link_counters=False``: no per-link counters (``RawRun.link_spikes`` is an empty (0, 0) array): the
    (C+1) x C table is C**2 int64 (7 GB for the 29 544 cores of the microcircuit at scale 0.5), which the numba
    engine's static run then never allocates."""
    if isinstance(image, Program):
        return emulate_loihi_lif(image, steps, engine, probe, progress, weight_every, threads, record_inputs,
                                 link_counters)
    kind = image_core_kind(image).name
    run = EMULATORS.get(kind)
    if run is None:
        raise ImageError(f"the emulator cannot run core kind {kind!r} (it runs {', '.join(EMULATORS)})")
    if run is emulate_loihi_lif:
        return run(image, steps, engine, probe, progress, weight_every, threads, record_inputs, link_counters)
    return _trimmed(run(image, steps, engine, probe, progress, weight_every, threads), image.n_neurons,
                    record_inputs, link_counters)


def emulate_loihi_lif(image: Image | Program, steps: int, engine: str = "numba", probe: np.ndarray | None = None,
                      progress=None, weight_every: int | None = None, threads: int | None = None,
                      record_inputs: bool = True, link_counters: bool = True) -> RawRun:
    """:func:`emulate` for ``loihi_lif`` cores (static images on the chunked engines, plastic ones on
    :mod:`emulator.plastic`). Images with dendrite compartments (``neurons.join_parent``,
    :mod:`emulator.compartments`) run on the numpy engine's loop under either engine name, on one thread."""
    _engine(engine)
    joined = (image.join_parent if isinstance(image, Program) else loihi_lif.join_parents(image)) is not None
    if joined:
        engine, threads = "numpy", None
    run_chunk = _engine(engine)
    if isinstance(image, Image) and any(pm.learning for pm in image.projections):
        pr = np.ascontiguousarray(_image_probe(image) if probe is None else probe, dtype=np.int64)
        if int(steps) < 0:
            raise ImageError(f"steps must be >= 0, got {steps}")
        sp, us, vs, st, pl = emulate_plastic(image, int(steps), engine, pr, weight_every)
        out = RawRun(int(steps), sp, pr, us, vs, st.core_spikes, st.link_spikes, weight_steps=pl.weight_steps,
                     weights=pl.weights, final_u=st.u.astype(np.int64), final_v=st.v.astype(np.int64))
        return _trimmed(out, image.n_neurons, record_inputs, link_counters)
    if threads is not None and int(threads) < 1:
        raise ImageError(f"threads must be >= 1, got {threads}")
    if isinstance(image, Program):
        p = image
    else:                                 # the numba engine reads the delivery runs only (no image-order copies)
        p = prepare_runs(image) if engine == "numba" else prepare(image)
    progs = {1: p}                        # thread count -> program prepared for it
    chooser, fixed = None, 1
    if engine == "numba":
        if p.run_ptr is None:
            p = flatten(p)
        progs = {1: replace(p, post_bounds=None, run_split=None)}
        many = default_threads(p) if threads is None else int(threads)
        if many > 1 and p.post_bounds is not None and p.post_bounds.shape[0] == many + 1:
            progs[many] = p
        elif many > 1 and threads is not None:
            progs[many] = split_runs(p, many)
        fixed = many
    if probe is None:
        probe = _image_probe(image) if isinstance(image, Image) else np.zeros(0, np.int64)
    probe = np.ascontiguousarray(probe, dtype=np.int64)
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    st = State.initial(p, link_spikes=link_counters or engine != "numba")   # numba: from tables at the end
    sched = InputSchedule(p)
    width = p.n_neurons + p.n_inputs
    chunk = max(1, min(steps, _CHUNK_BUDGET // max(1, width)))
    if engine == "numba" and threads is None:     # default: chosen per chunk within a loss budget
        chooser = ThreadChooser(fixed, steps, chunk, synapses=_n_synapses(p))
    now = [1]                                     # thread count of the chunk about to run
    if engine == "numba" and p.poisson_ids.size and steps > chunk and PREFETCH:
        # Poisson inputs drawn a chunk ahead on a second thread while the time loop runs, only while that loop
        # runs on one thread and a core is free (never competing with the loop's own threads)
        sched = PrefetchedInputs(sched, chunk, steps, background=lambda t0: now[0] == 1 and free_cores() >= 2)
    # one spike array for the whole run, written in place by the engine (no per-chunk copies); reserved
    # for the worst case (every source every step) up to _RESERVE_ROWS: untouched pages cost no memory
    out = ChunkOut(_reserve(min(steps * width, _RESERVE_ROWS)),
                   np.zeros((steps, probe.size), np.int64), np.zeros((steps, probe.size), np.int64))
    us, vs = out.trace_u, out.trace_v
    try:
        _loop(p, progs, st, sched, chooser, fixed, chunk, steps, probe, out, us, vs, run_chunk, progress, now,
              record_inputs)
    finally:
        if isinstance(sched, PrefetchedInputs):
            sched.close()
    if engine == "numba" and link_counters:
        engine_numba.fold_link_spikes(p, st)
    sp = out.spikes   # already sorted: per step, fired neurons ascending, then inputs ascending
    sp.resize((out.n_spikes, 2), refcheck=False)   # trim the reservation (realloc, no copy)
    links = st.link_spikes if link_counters else np.zeros((0, 0), np.int64)
    return RawRun(steps, sp, probe, us, vs, st.core_spikes, links, st.u.astype(np.int64),
                  st.v.astype(np.int64),
                  thread_chunks=np.asarray(chooser.history if chooser is not None else [], np.int64))


def _loop(p, progs, st, sched, chooser, fixed, chunk, steps, probe, out, us, vs, run_chunk, progress, now,
          record_inputs=True) -> None:
    """The chunks of :func:`emulate_loihi_lif`'s static run; without ``record_inputs`` each chunk's rows are
    compacted to its neurons' spikes right after it ran (the next chunk writes over its input rows)."""
    t0 = 0
    while t0 < steps:
        n_threads, n = chooser.next(steps - t0) if chooser is not None else (fixed, min(chunk, steps - t0))
        if n_threads not in progs:        # the default's first try of T threads: counted against its budget
            t_prep = time.perf_counter()
            progs[n_threads] = split_runs(p, n_threads)
            chooser.prepared(time.perf_counter() - t_prep)
        now[0] = n_threads
        in_ptr, in_ids = sched.chunk(t0, n)
        need = out.n_spikes + n * p.n_neurons + in_ids.size   # an input with several events per step: each
        if need > out.spikes.shape[0]:
            out.spikes = _grown(out.spikes, out.n_spikes, max(need, 2 * out.spikes.shape[0]))
        out.trace_u, out.trace_v = us[t0:t0 + n], vs[t0:t0 + n]
        t_start = time.perf_counter()
        first = out.n_spikes
        run_chunk(progs[n_threads], st, t0, n, in_ptr, in_ids, probe, out)
        if chooser is not None:
            chooser.record(n_threads, n, time.perf_counter() - t_start)
        if not record_inputs:
            out.n_spikes = first + _keep_neurons(out.spikes[first:out.n_spikes], p.n_neurons)
        if progress is not None:
            progress(t0 + n, steps)
        t0 += n


def _keep_neurons(rows: np.ndarray, n_neurons: int) -> int:
    """Moves the rows of ``rows`` (step, source) whose source is a neuron (< ``n_neurons``) to its front, in
    order; returns how many. One chunk's rows: a boolean mask and a gather of them (no copy of the run's rows)."""
    keep = rows[:, 1] < n_neurons
    k = int(np.count_nonzero(keep))
    if k < rows.shape[0]:
        rows[:k] = rows[keep]
    return k


def _trimmed(run: RawRun, n_neurons: int, record_inputs: bool, link_counters: bool) -> RawRun:
    """``run`` without its input rows (:func:`emulate`'s ``record_inputs=False``) and without link counters
    (``link_counters=False``), for the paths that compute them anyway."""
    if not record_inputs:
        run = replace(run, spikes=np.ascontiguousarray(run.spikes[run.spikes[:, 1] < n_neurons]))
    return run if link_counters else replace(run, link_spikes=np.zeros((0, 0), np.int64))


def _reserve(rows: int) -> np.ndarray:
    """An uninitialized (rows, 2) int64 spike array; half as many rows (down to 1 << 20) where the address space
    for ``rows`` cannot be had (a strict overcommit policy)."""
    while True:
        try:
            return np.empty((rows, 2), np.int64)
        except MemoryError:
            if rows <= 1 << 20:
                raise
            rows //= 2


def _grown(spikes: np.ndarray, used: int, rows: int) -> np.ndarray:
    """A (rows, 2) spike array holding ``spikes[:used]``. Not ``ndarray.resize``: it zero-fills the whole new
    capacity, and first writes to fresh pages are what a spiking run's output costs (on the 10 M-synapse bench
    image, 94 k spikes per step, the zero-fill of three doublings took 1.5 ms per step, a third of the run)."""
    out = np.empty((rows, 2), np.int64)
    out[:used] = spikes[:used]
    return out


def _emulate_truenorth(image: Image, steps: int, engine: str = "numba", probe: np.ndarray | None = None,
                       progress=None, weight_every: int | None = None, threads: int | None = None) -> RawRun:
    """:func:`emulate` for ``truenorth`` cores (:func:`emulator.tn_image.emulate_truenorth`; no learning, one
    thread, no progress callback)."""
    return emulate_truenorth(image, steps, engine, probe)


#: core kind name (:data:`neuromap.core_kinds.CORE_KINDS`) -> its emulator
#: ``(image, steps, engine, probe, progress, weight_every, threads) -> RawRun``
EMULATORS: dict[str, Callable[..., RawRun]] = {loihi_lif.NAME: emulate_loihi_lif, truenorth.NAME: _emulate_truenorth}


def default_threads(p: Program) -> int:
    """The thread count a default run (``threads=None``) measures against one thread
    (:func:`emulator.threads.candidate_threads`: numba's thread count for programs of at least
    :data:`THREADS_MIN_SYNAPSES` synapses with numba's OpenMP or TBB layer, else 1); a program already split
    (:func:`emulator.program.split_runs`) keeps its count. :class:`emulator.threads.ThreadChooser` then
    picks per chunk by measurement."""
    if p.post_bounds is not None:
        return p.post_bounds.shape[0] - 1
    return candidate_threads(_n_synapses(p))


def _n_synapses(p: Program) -> int:
    return int(p.run_syn[-1] if p.run_syn is not None else (p.syn_ptr[-1] if p.syn_ptr.size else 0))


def _image_probe(image: Image) -> np.ndarray:
    ids = []
    for pr in image.probes:
        if {"u", "v"} & set(pr.variables):
            pop = image.population(pr.population)
            local = np.arange(pop.size) if pr.neurons is None else pr.neurons
            ids.append(pop.start + np.asarray(local, dtype=np.int64))
    return np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
