"""Bit-accurate emulator of Loihi-style (``loihi_lif``) cores; imports :mod:`neuromap.image` only.

:func:`emulate` runs an image for a number of steps with the numpy engine or the
numba-compiled engine (same integers); semantics in ``docs/emulator.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from neuromap.errors import ImageError
from neuromap.image import Image

from emulator.inputs import InputSchedule
from emulator.program import Program, pack, prepare, split_posts, unpack
from emulator.state import ChunkOut, State

ENGINES = ("numba", "numpy")

#: neuron-steps per chunk (the chunk length adapts to the network size; progress is reported per chunk)
_CHUNK_BUDGET = 1_000_000
#: synapses from which the numba engine runs on several threads by default (``threads=None``): below, a
#: step's work is too small for the 1-3 us per parallel region and the serial merge (docs/emulator.md)
THREADS_MIN_SYNAPSES = 2_000_000
#: spike rows (16 bytes each) reserved up front; a run that spikes more grows the array in place
_RESERVE_ROWS = 1 << 25


@dataclass
class RawRun:
    """Everything one emulation produced, in global indices.

    spikes: (k, 2) int64 rows (step, source id), sorted by step then source
    (source ids: neurons 0..N-1, then inputs N..N+I-1). probe: global neuron ids
    whose u/v are traced; u, v: (steps, len(probe)) int64 after each step (v after reset).
    core_spikes (C,), link_spikes (C+1, C): traffic counters (row C = host).
    final_u, final_v: (N,) int64 state of every neuron after the last step. Plastic images
    (``emulator.plastic``): weight_steps (steps after which weights were recorded) and weights
    (projection index -> (len(weight_steps), S_k) int16 stored weights, image synapse order).
    """

    steps: int
    spikes: np.ndarray
    probe: np.ndarray
    u: np.ndarray
    v: np.ndarray
    core_spikes: np.ndarray
    link_spikes: np.ndarray
    final_u: np.ndarray | None = None
    final_v: np.ndarray | None = None
    weight_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    weights: dict = field(default_factory=dict)


def _engine(name: str):
    if name == "numba":
        from emulator import engine_numba
        return engine_numba.run_chunk
    if name == "numpy":
        from emulator import engine_numpy
        return engine_numpy.run_chunk
    raise ImageError(f"unknown emulator engine {name!r} (use one of {', '.join(ENGINES)})")


def emulate(image: Image | Program, steps: int, engine: str = "numba", probe: np.ndarray | None = None,
            progress=None, weight_every: int | None = None, threads: int | None = None) -> RawRun:
    """Run ``steps`` steps from the initial state. ``probe``: global neuron ids to trace (default: the
    image's u/v probes). ``progress(done_steps, steps)`` is called after each chunk (neuromap.progress).
    Images with plastic projections learn (:mod:`emulator.plastic`); weights are recorded every
    ``weight_every`` steps and after the last. ``threads``: delivery/update threads of the numba engine on
    static images (1 = the calling thread only; None = :func:`default_threads`); results do not depend on it."""
    if isinstance(image, Image) and "truenorth" in image.core_kinds:   # TrueNorth cores: emulator/tn_image.py
        from emulator.tn_image import emulate_truenorth
        return emulate_truenorth(image, steps, engine, probe)
    run_chunk = _engine(engine)
    if isinstance(image, Image) and any(pm.learning for pm in image.projections):
        from emulator.plastic import emulate_plastic
        pr = np.ascontiguousarray(_image_probe(image) if probe is None else probe, dtype=np.int64)
        if int(steps) < 0:
            raise ImageError(f"steps must be >= 0, got {steps}")
        sp, us, vs, st, pl = emulate_plastic(image, int(steps), engine, pr, weight_every)
        return RawRun(int(steps), sp, pr, us, vs, st.core_spikes, st.link_spikes,
                      weight_steps=pl.weight_steps, weights=pl.weights, final_u=st.u.copy(), final_v=st.v.copy())
    p = image if isinstance(image, Program) else prepare(image)
    if engine == "numba" and p.syn_packed is None:
        p = pack(p) or p                  # 4 instead of 6 bytes read per synaptic event, when packable
    elif engine == "numpy":
        p = unpack(p)
    if threads is not None and int(threads) < 1:
        raise ImageError(f"threads must be >= 1, got {threads}")
    if engine == "numba":
        n_threads = default_threads(p) if threads is None else int(threads)
        if n_threads == 1:
            p = replace(p, post_bounds=None, syn_split=None)
        elif p.post_bounds is None or p.post_bounds.shape[0] != n_threads + 1:   # else: split already
            p = split_posts(p, n_threads)
    if probe is None:
        probe = _image_probe(image) if isinstance(image, Image) else np.zeros(0, np.int64)
    probe = np.ascontiguousarray(probe, dtype=np.int64)
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    st = State.initial(p)
    sched = InputSchedule(p)
    width = p.n_neurons + p.n_inputs
    chunk = max(1, min(steps, _CHUNK_BUDGET // max(1, width)))
    # one spike array for the whole run, written in place by the engine (no per-chunk copies); reserved
    # for the worst case (every source every step) up to _RESERVE_ROWS: untouched pages cost no memory
    out = ChunkOut(np.empty((min(steps * width, _RESERVE_ROWS), 2), np.int64),
                   np.zeros((steps, probe.size), np.int64), np.zeros((steps, probe.size), np.int64))
    us, vs = out.trace_u, out.trace_v
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        in_ptr, in_ids = sched.chunk(t0, n)
        need = out.n_spikes + n * p.n_neurons + in_ids.size   # an input with several events per step: each
        if need > out.spikes.shape[0]:   # grow in place (realloc: the kernel holds no view between chunks)
            out.spikes.resize((max(need, 2 * out.spikes.shape[0]), 2), refcheck=False)
        out.trace_u, out.trace_v = us[t0:t0 + n], vs[t0:t0 + n]
        run_chunk(p, st, t0, n, in_ptr, in_ids, probe, out)
        if progress is not None:
            progress(t0 + n, steps)
    sp = out.spikes   # already sorted: per step, fired neurons ascending, then inputs ascending
    sp.resize((out.n_spikes, 2), refcheck=False)   # trim the reservation (realloc, no copy)
    return RawRun(steps, sp, probe, us, vs, st.core_spikes, st.link_spikes, st.u.copy(), st.v.copy())


def default_threads(p: Program) -> int:
    """Threads the numba engine uses when not told: numba's thread count (``NUMBA_NUM_THREADS``, default the
    CPU count) for programs of at least :data:`THREADS_MIN_SYNAPSES` synapses when numba can use its OpenMP or
    TBB threading layer, else 1 (its fallback ``workqueue`` layer costs ~100 us per parallel region)."""
    import numba
    if not _fast_threading_layer():
        return 1
    if p.post_bounds is not None:        # already split (:func:`emulator.program.split_posts`)
        return p.post_bounds.shape[0] - 1
    n_syn = p.syn_ptr[-1] if p.syn_ptr.size else 0
    return int(numba.config.NUMBA_NUM_THREADS) if n_syn >= THREADS_MIN_SYNAPSES else 1


def _fast_threading_layer() -> bool:
    """numba's OpenMP (needs the system libgomp) or TBB layer loads and the user did not pick workqueue."""
    import numba
    if numba.config.THREADING_LAYER == "workqueue":
        return False
    for mod in ("omppool", "tbbpool"):
        try:
            __import__(f"numba.np.ufunc.{mod}")
            return True
        except ImportError:
            continue
    return False


def _image_probe(image: Image) -> np.ndarray:
    ids = []
    for pr in image.probes:
        if {"u", "v"} & set(pr.variables):
            pop = image.population(pr.population)
            local = np.arange(pop.size) if pr.neurons is None else pr.neurons
            ids.append(pop.start + np.asarray(local, dtype=np.int64))
    return np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
