"""The plastic time loop compiled whole: many steps per numba call, learning inside the loop.

Same integers and order as :func:`emulator.plastic.emulate_plastic` with per step t (0-based):
the LIF update and delivery of :func:`emulator.engine_numba._run` (its inline helpers ``step_sources``
and ``deliver``: refractory periods, per-axon delays and dendrite slots included), then every plastic projection's
engine kernel with ``t + 1``, then the learned weights written into ``syn_add`` (``w << weight_exp``,
or the raw weight when ``weight_exp < 0``; stored into the int16 field like numpy's cast), then the
weights recorded when ``(t + 1) % weight_every == 0`` or at the last step.

Supported: images whose plastic projections all use registered engines with a numba kernel
(``KERNEL``, a :class:`neuromap.learning_engines.packing.Kernel`: built in ``homeostatic_stdp`` incl. nn_stdp,
``vogels_isp``, ``pool_stdp``, ``clopath``), any mix of them; each engine's projections are flattened into one
group. A kernel that reads v (``Kernel.reads_v``) gets the post neurons' v after the step's LIF update, gathered
like the spikes. Anything else (``loihi``) runs on the per-step path of :mod:`emulator.plastic`.

The loop is assembled from the registry: :func:`loop_source` writes the source of a ``run`` function with
one block per kernel engine (its group's arrays unpacked once per call into locals, then one call of its
``step_fields`` per step); :func:`fused_loop` writes that source to a file named by the hash of the source
and of the engines' and the static engine's source files (:func:`loop_dir`), imports it and returns ``run``,
an ``@njit(cache=True)`` function: numba's on-disk cache then works as for any module, and an edit of an
engine gives a new file (no stale cache). ``run`` takes five structured arguments: the program and state
arrays (:data:`NET`), the chunk's inputs and outputs (:data:`IO`), and per engine its group, link and
weight record.

Inputs: the per-chunk schedule of :class:`emulator.inputs.InputSchedule` (explicit spikes and the
Poisson stream, ids sorted within a step).
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np

from emulator import engine_numba
from emulator.inputs import InputSchedule
from emulator.state import State
from neuromap import learning_engines
from neuromap.learning_engines import packing

#: spike-buffer entries per chunk (chunk length = this // (neurons + inputs), at most 4096 steps)
_BUF = 1 << 21
#: the program and state values the loop reads (``net`` argument), in order
NET = ("N", "D", "decay_u", "decay_v", "bias", "vth", "arith", "ref_period", "ref_until", "neuron_core", "src_ptr",
       "route_axon", "route_core", "src_core", "syn_ptr", "axon_delay", "axon_slotted", "syn_post", "syn_delay",
       "syn_add", "syn_slot", "slot_post", "slot_delay", "slot_shift", "u", "v", "ring", "slot_acc", "core_spikes",
       "link_spikes")
#: the chunk's inputs and outputs (``io`` argument)
IO = ("in_ptr", "in_ids", "probe", "spk_step", "spk_src", "trace_u", "trace_v", "spk")


def kernel_engines() -> list:
    """The registered engine modules with a numba kernel, in registration order (the loop's group order)."""
    return [m for m in learning_engines.ENGINES.values() if getattr(m, "KERNEL", None) is not None]


def supported(projs) -> bool:
    """True when the fused loop can run every plastic projection of ``projs`` (emulator.plastic)."""
    return bool(projs) and all(getattr(pp.engine, "KERNEL", None) is not None for pp in projs)


def _link(projs) -> tuple:
    """Where a group meets the network: per projection pre sources and post neurons (concatenated), image
    synapse ids and weight exponents per synapse, bool buffers for the gathered spikes, the write-back
    run ``[start, exp]`` when the synapse ids are one contiguous run ``start ..`` with one exponent >= 0
    (``[-1, 0]`` otherwise), and an int64 buffer for the gathered post v."""
    pre_src = np.concatenate([pp.pre_src for pp in projs]).astype(np.int64)
    post_ids = np.concatenate([pp.post_ids for pp in projs]).astype(np.int64)
    syn = np.concatenate([pp.syn for pp in projs]).astype(np.int64)
    wexp = np.concatenate([np.full(pp.syn.size, pp.weight_exp, np.int64) for pp in projs])
    run = np.array([-1, 0], np.int64)
    if syn.size and np.array_equal(syn, np.arange(syn[0], syn[0] + syn.size)) and wexp.min() == wexp.max() >= 0:
        run[:] = syn[0], wexp[0]
    return (pre_src, post_ids, syn, wexp, np.zeros(pre_src.size, np.bool_), np.zeros(post_ids.size, np.bool_), run,
            np.zeros(post_ids.size, np.int64))


@numba.njit(inline="always")
def _gather(pre_src, post_ids, spk, pre_b, post_b):
    for i in range(pre_src.shape[0]):
        pre_b[i] = spk[pre_src[i]]
    for i in range(post_ids.shape[0]):
        post_b[i] = spk[post_ids[i]]


@numba.njit(inline="always")
def _gather_v(post_ids, v, post_v):
    for i in range(post_ids.shape[0]):
        post_v[i] = v[post_ids[i]]


@numba.njit(inline="always")
def _write_back(syn, wexp, run, weights, syn_add):
    if run[0] >= 0:                                      # one contiguous run: a loop that vectorizes
        s0, e = np.uint64(run[0]), run[1]
        for q in range(np.uint64(syn.shape[0])):
            syn_add[s0 + q] = np.int64(weights[q]) << e
        return
    for q in range(syn.shape[0]):
        w = np.int64(weights[q])
        syn_add[syn[q]] = w << wexp[q] if wexp[q] >= 0 else w


@numba.njit(inline="always")
def _record(rec, r, weights):
    for q in range(weights.shape[0]):
        rec[r, q] = weights[q]


_TEMPLATE = """\
# generated by emulator.plastic_numba.loop_source for the engines {names}; do not edit
import numba
import numpy as np

from emulator.engine_numba import deliver, step_sources
from emulator.plastic_numba import _gather, _gather_v, _record, _write_back
{imports}


@numba.njit(cache=True, nogil=True)
def run(t0, n_steps, last_step, rec_every, net, io, groups, links, recs):
    \"\"\"``n_steps`` steps from ``t0``; returns (spikes written, weight records written). Tuples are unpacked
    once here: numba reference-counts (atomically) every array taken out of a tuple.\"\"\"
    ({net},) = net
    ({io},) = io
    ({gs},) = groups
    ({ls},) = links
    ({rs},) = recs
{unpack}
    fired = np.empty(N + in_ids.shape[0], np.int64)                 # a step's spikes: neurons, then inputs
    touched = np.empty(slot_post.shape[0], np.int64)
    marked = np.zeros(slot_post.shape[0], np.bool_)
    row_off = np.empty(D, np.int64)
    n_spk = 0
    n_rec = 0
    for k in range(n_steps):
        t = t0 + k
        nf = step_sources(k, t, N, D, row_off, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                          neuron_core, core_spikes, probe, trace_u, trace_v, in_ptr, in_ids, fired)
        for f in range(nf):
            spk[fired[f]] = True
        n_spk = deliver(t, fired, nf, row_off, ring, src_ptr, route_axon, route_core, src_core, syn_ptr,  # weights
                        axon_delay, axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post,  # up to t-1
                        slot_delay, slot_shift, slot_acc, touched, marked, link_spikes, spk_step, spk_src, n_spk)
{learn}
        for f in range(nf):
            spk[fired[f]] = False
        if (rec_every > 0 and (t + 1) % rec_every == 0) or t == last_step:
{record}
            n_rec += 1
    return n_spk, n_rec
"""


def loop_source(engines) -> str:
    """Source of the fused loop's module for engine modules ``engines`` (each with a ``KERNEL``)."""
    imports, unpack, learn, record = [], [], [], []
    for i, m in enumerate(engines):
        kern = m.KERNEL
        g = [f"g{i}_{j}" for j in range(kern.n_fields)]
        imports.append(f"from {m.__name__} import KERNEL as _K{i}")
        imports.append(f"kernel_{i} = _K{i}.step_fields")
        unpack.append(f"    ({', '.join(g)},) = g{i}")
        unpack.append(f"    l{i}_pre, l{i}_post, l{i}_syn, l{i}_exp, l{i}_preb, l{i}_postb, l{i}_run, l{i}_v = l{i}")
        unpack.append(f"    has_{i} = g{i}_{kern.projections}.shape[0] > 0        # {m.ENGINE}: projections")
        w = g[kern.weights]
        learn += [f"        if has_{i}:                                            # {m.ENGINE}",
                  f"            _gather(l{i}_pre, l{i}_post, spk, l{i}_preb, l{i}_postb)"]
        if kern.reads_v:
            learn += [f"            _gather_v(l{i}_post, v, l{i}_v)",
                      f"            kernel_{i}(t + 1, {', '.join(g)}, l{i}_preb, l{i}_postb, l{i}_v)"]
        else:
            learn += [f"            kernel_{i}(t + 1, {', '.join(g)}, l{i}_preb, l{i}_postb)"]
        learn += [f"            _write_back(l{i}_syn, l{i}_exp, l{i}_run, {w}, syn_add)"]
        record.append(f"            _record(r{i}, n_rec, {w})")
    n = len(engines)
    return _TEMPLATE.format(names=", ".join(m.ENGINE for m in engines), imports="\n".join(imports),
                            net=", ".join(NET), io=", ".join(IO), gs=", ".join(f"g{i}" for i in range(n)),
                            ls=", ".join(f"l{i}" for i in range(n)), rs=", ".join(f"r{i}" for i in range(n)),
                            unpack="\n".join(unpack), learn="\n".join(learn) or "        pass",
                            record="\n".join(record) or "            pass")


def loop_dir() -> Path:
    """Where generated loops are written: ``$NEUROMAP_FUSED_DIR``, else ``emulator/_fused`` when writable
    (next to numba's caches of the package), else ``~/.cache/neuromap/fused``."""
    env = os.environ.get("NEUROMAP_FUSED_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent / "_fused"
    try:
        here.mkdir(exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    return Path.home() / ".cache" / "neuromap" / "fused"


_LOOPS: dict[tuple, object] = {}


def fused_loop(engines):
    """The compiled ``run`` of the loop for ``engines`` (see the module docstring); one per process and set."""
    key = tuple(m.__name__ for m in engines)
    if key in _LOOPS:
        return _LOOPS[key]
    src = loop_source(engines)
    h = hashlib.sha256(src.encode())
    for mod in (*engines, packing, engine_numba, sys.modules[__name__]):   # an edited kernel or helper: a new file
        h.update(Path(inspect.getfile(mod)).read_bytes())
    name = f"fused_{h.hexdigest()[:16]}"
    d = loop_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.py"
    if not path.exists() or path.read_text() != src:            # same content: keep the file (and numba's cache)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(src)
        os.replace(tmp, path)
    modname = f"neuromap_fused_loop_{name}"
    module = sys.modules.get(modname)
    if module is None:           # in sys.modules before numba sees it: its cache finds the module by name
        spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        spec.loader.exec_module(module)
    _LOOPS[key] = module.run
    return module.run


def emulate_fused(image, p, projs, steps: int, probe: np.ndarray, weight_every: int | None):
    """:func:`emulator.plastic.emulate_plastic` for ``supported(projs)`` images (``p``: the prepared
    program; ``projs``: its plastic projections). Returns (spikes, u, v, State, weight steps, weights), the
    last two the fields of :class:`emulator.plastic.PlasticRun`."""
    engines = kernel_engines()
    run = fused_loop(engines)
    groups = []
    for mod in engines:
        mine = [pp for pp in projs if pp.engine is mod]
        kern = mod.KERNEL
        states = [pp.state for pp in mine]
        g = kern.pack(states, [pp.weights for pp in mine])
        empty = [_empty_pp()] if not mine else mine
        groups.append((mine, kern, states, g, _link(empty)))
    st = State.initial(p)
    width = p.n_neurons + p.n_inputs
    chunk = max(1, min(steps, 4096, _BUF // max(width, 1)))
    sched = InputSchedule(p)
    spk = np.zeros(width, np.bool_)
    spk_step, spk_src = np.empty(0, np.int64), np.empty(0, np.int64)
    us, vs = np.zeros((steps, probe.size), np.int64), np.zeros((steps, probe.size), np.int64)
    every = int(weight_every) if weight_every is not None else 0
    ev, rec_steps, rec = [], [], {pp.index: [] for pp in projs}
    probe = np.ascontiguousarray(probe, np.int64)
    ring = st.ring.reshape(-1)
    net = (p.n_neurons, p.ring_len, p.decay_u, p.decay_v, p.bias, p.vth, p.arith, p.ref_period, st.ref_until,
           p.neuron_core, p.src_ptr, p.route_axon, p.route_core, p.src_core, p.syn_ptr, p.axon_delay, p.axon_slotted,
           p.syn_post, p.syn_delay, p.syn_add, p.syn_slot, p.slot_post, p.slot_delay, p.slot_shift, st.u, st.v, ring,
           st.slot_acc, st.core_spikes, st.link_spikes)
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        in_ptr, in_ids = sched.chunk(t0, n)
        need = n * p.n_neurons + in_ids.size
        if need > spk_step.size:
            spk_step, spk_src = np.empty(need, np.int64), np.empty(need, np.int64)
        ts = np.arange(t0, t0 + n)
        r_steps = ts[((ts + 1) % every == 0 if every else False) | (ts == steps - 1)].tolist()
        recs = [np.zeros((len(r_steps), grp[3][grp[1].weights].size), np.int16) for grp in groups]
        n_spk, n_rec = run(t0, n, steps - 1, every, net, (in_ptr, in_ids, probe, spk_step, spk_src, us[t0:t0 + n],
                                                        vs[t0:t0 + n], spk),
                           tuple(grp[3] for grp in groups), tuple(grp[4] for grp in groups), tuple(recs))
        assert n_rec == len(r_steps)
        ev.append(np.stack([spk_step[:n_spk], spk_src[:n_spk]], axis=1))
        rec_steps += r_steps
        for (mine, kern, _, g, _), r in zip(groups, recs):
            off = g[kern.syn_off]
            for j, pp in enumerate(mine):
                rec[pp.index] += list(r[:, off[j]:off[j + 1]])
    for mine, kern, states, g, _ in groups:
        if mine:
            kern.unpack(g, states, [pp.weights for pp in mine])
    spikes = np.concatenate(ev) if ev else np.zeros((0, 2), np.int64)
    weights = {k: np.stack(v) if v else np.zeros((0, pp.syn.size), np.int16) for (k, v), pp in zip(rec.items(), projs)}
    return spikes, us, vs, st, np.asarray(rec_steps, np.int64), weights


class _EmptyProjection:
    """Stands in for an engine with no projections (the loop's link arrays are then empty)."""

    pre_src = post_ids = syn = np.zeros(0, np.int64)
    weight_exp = 0


def _empty_pp():
    return _EmptyProjection()
