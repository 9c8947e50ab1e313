"""The ``loihi_lif`` emulator sharded over ranks (MPI): each rank owns a contiguous set of chips, emulates their
cores and exchanges spikes with the other ranks; results are the same integers as one process
(docs/scale-out.md).

A rank runs the ordinary engine (:func:`emulator.engine_numba.run_chunk` or the numpy one) on the *local
program* of its shard: its neurons (renumbered ``0..n-1`` in global id order), every input, and the axons of
its cores that the engine may deliver at once: static, ``weight_exp >= 0`` projections reached from its own
neurons or from an input. Every other synapse of its cores (reached from another rank's neuron, slotted
``weight_exp < 0`` ones whose per-step sums must see every source of the step, plastic ones, whose weights
learn between deliveries) is in its *deferred program*, whose sources are the global sources the rank needs
(``dsrc``: those reaching its deferred axons, plus the populations of plastic projections): after each
exchange the rank delivers the received spikes through it, step by step, into the same ring buffer, and its
plastic projections learn there (a synapse lives on its post neuron's core, so learning needs nothing from
another rank but its sources' spikes). Delivery into ``ring[(t + d) % D]`` is only read
at step ``t + d``, so spikes may be exchanged once every ``M`` steps, ``M`` = the smallest delay of any
deferred synapse of any rank (NEST's ``min_delay``): a spike of step ``t`` in the interval ``t0 .. t0+M-1``
is delivered before step ``t0 + M``, which is no later than ``t + d``. Integer ring sums wrap (int32) and do
not depend on the order, and every dendrite slot sees all its spikes of a step at once, so the ring holds the
one-process integers.

The exchange is targeted (:func:`exchange_plan`): at set-up every rank asks each other rank for the neurons
of its deferred sources that rank owns; per interval a rank sends each rank only the spikes it asked for
(one point-to-point message per interval of int32 positions in the asker's list, with per-step counts; no
collective in the loop, so a rank waits only for the ranks whose neurons it needs). Inputs (explicit times and
the documented Poisson streams, docs/image-format.md *Inputs*) are generated on the ranks that need them
(:func:`input_owners`): with per-input streams (``poisson_stream`` ``per_input_v2``) a rank draws only the
inputs reaching its cores or its deferred sources (an input reaching several ranks is drawn by each, the same
events), and nothing of the others; an image of the one sequential stream is replayed whole by every rank.
Every rank records its own neurons' spikes and the events of the inputs it records (int32 global ids, counts
per step; each input is recorded by one rank, the lowest that draws it, rank 0 for inputs no rank needs); at
the end rank 0 gathers the records once (``Gatherv``) and merges them into the one-process order (per step
neurons ascending, then inputs in order): no rank sorts or sees every spike during the run. Core counters are
summed, per-link counters are summed (each rank counts the route entries into its own cores), u/v traces, final
state and learned weights are gathered to rank 0. With per-rank results (``emulate_shard(..., gather=False)``,
the default of ``neuromap run`` under MPI) nothing is gathered: every rank returns its own part
(:data:`PART_KEYS`), ``backends.emulator.parts`` writes it, and :func:`merge_parts` is the same merge on read.

The transport is an object with ``rank``, ``size`` and the few collectives below (:class:`SerialComm` for one
process, :func:`mpi_comm` for mpi4py's ``COMM_WORLD``).
"""
from __future__ import annotations

import dataclasses
import mmap
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

import emulator
from emulator import engine_numba, engine_numpy
from emulator.engine_numba import carry, deliver, deliver_runs, notes_due, ring_rows, room
from emulator.inputs import PER_INPUT, InputSchedule
from emulator.plastic import PlasticProjection, learn_step, record_weights
from emulator.program import Program, _slots, concat_ranges, prepare
from emulator.raw_run import RawRun
from emulator.state import ChunkOut, State
from neuromap import learning_engines
from neuromap.core_kinds import loihi_lif
from neuromap.counting_sort import group_by_lookup, stable_order
from neuromap.errors import ImageError
from neuromap.image import READABLE_VERSIONS, Image, image_from_manifest, load_image, read_shards
from neuromap.image_files import read_manifest, recover

#: neuron-steps per interval when no deferred synapse bounds it (progress and exchange granularity)
_CHUNK_BUDGET = 1_000_000
#: spike records (int32 global ids, 4 bytes each) a rank reserves up front (virtual memory until written)
_RESERVE_RECORDS = 1 << 28


# ------------------------------------------------------------------------------------------------ transport
class SerialComm:
    """The transport of one process (rank 0 of 1): every collective returns its own contribution."""

    rank, size = 0, 1

    def allgather(self, obj):
        return [obj]

    def alltoall(self, objs: list) -> list:
        """``objs[r]`` goes to rank r; returns what every rank sent this one (pickled; setup only)."""
        return list(objs)

    def exchange(self, sends: dict, sources) -> list:
        """Point to point: send ``sends[d]`` (int32) to rank d without waiting for it (messages to one rank arrive
        in order), then receive one message from each rank of ``sources``, in that order. One rank has no
        peers."""
        if sends or len(sources):
            raise ValueError("one rank has no peers")
        return []

    def flush(self) -> None:
        """Wait until every message this rank sent was received (before the gathers of the finish)."""

    def gather_array(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        """Rank 0: the other ranks' int32 arrays concatenated in rank order into ``out`` (int32, sized by the
        counts of an earlier :meth:`gather`; its own is not copied); others None (their ``out`` is None)."""
        return np.zeros(0, np.int32) if out is None else out

    def gather(self, obj):
        return [obj]

    def gather_int64(self, a: np.ndarray) -> list | None:
        """Rank 0: every rank's int64 array (its own not copied), in rank order; others None."""
        return [a]

    def allreduce_min(self, x: int) -> int:
        return x

    def abort(self, code: int) -> None:
        raise SystemExit(code)


class MpiComm:
    """mpi4py's communicator behind the :class:`SerialComm` interface (buffers, not pickles, for arrays)."""

    #: sends a rank may have in flight before it waits for the oldest (how far it may run ahead of a receiver)
    WINDOW = 256

    def __init__(self, comm):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._pending: deque = deque()          # (request, buffer) of sends not known to be complete

    def exchange(self, sends: dict, sources) -> list:
        from mpi4py import MPI  # lazy: optional dependency

        for d, a in sends.items():
            a = np.ascontiguousarray(a, np.int32)
            self._pending.append((self.comm.Isend([a, MPI.INT32_T], dest=int(d), tag=_SPIKES), a))
        while self._pending and (len(self._pending) > self.WINDOW or self._pending[0][0].Test()):
            self._pending.popleft()[0].Wait()
        out = []
        st = MPI.Status()
        for r in sources:
            self.comm.Probe(source=int(r), tag=_SPIKES, status=st)
            buf = np.empty(st.Get_count(MPI.INT32_T), np.int32)
            self.comm.Recv([buf, MPI.INT32_T], source=int(r), tag=_SPIKES)
            out.append(buf)
        return out

    def flush(self) -> None:
        from mpi4py import MPI  # lazy: optional dependency

        MPI.Request.Waitall([r for r, _ in self._pending])
        self._pending.clear()

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def alltoall(self, objs: list) -> list:
        return self.comm.alltoall(objs)

    def _gatherv(self, a: np.ndarray, dtype, out=None) -> tuple:
        """Rank 0 receives the other ranks' arrays (``dtype``) concatenated in rank order into ``out`` (a populated
        buffer when None) and returns (out, per-rank counts with its own as 0); others send and get (None, None)."""
        from mpi4py import MPI  # lazy: optional dependency

        kind = MPI.INT32_T if np.dtype(dtype) == np.int32 else MPI.INT64_T
        a = np.ascontiguousarray(a, dtype)
        counts = self.comm.gather(a.size, root=0)
        if self.rank != 0:
            self.comm.Gatherv([a, kind], None, root=0)
            return None, None
        recv = np.array(counts, np.int64)
        recv[0] = 0                                    # rank 0 keeps its own
        if out is None:
            out = prefaulted((int(recv.sum()),), dtype)     # a buffer, not pickles: no page-by-page faults
        if out.size != int(recv.sum()):
            raise ValueError(f"gather: rank 0's buffer holds {out.size} values, the other ranks send {int(recv.sum())}")
        self.comm.Gatherv([a[:0], kind], [out, (recv, _offsets(recv)), kind], root=0)
        return out, recv

    def gather_array(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        if self.rank == 0 and out is None:
            raise ValueError("gather_array: rank 0 needs the receive buffer")
        return self._gatherv(a, np.int32, out)[0]

    def gather(self, obj):
        return self.comm.gather(obj, root=0)

    def gather_int64(self, a: np.ndarray) -> list | None:
        out, recv = self._gatherv(a, np.int64)
        if out is None:
            return None
        return [np.ascontiguousarray(a, np.int64)] + (np.split(out, np.cumsum(recv[1:])[:-1]) if self.size > 1
                                                      else [])

    def allreduce_min(self, x: int) -> int:
        from mpi4py import MPI  # lazy: optional dependency

        return self.comm.allreduce(x, op=MPI.MIN)

    def abort(self, code: int) -> None:
        self.comm.Abort(code)


#: the MPI tag of the spike messages between ranks (:meth:`MpiComm.exchange`)
_SPIKES = 17


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Exclusive prefix sums (displacements) of ``counts``."""
    d = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=d[1:])
    return d


def mpi_comm() -> MpiComm:
    """``MPI.COMM_WORLD`` (mpi4py, the ``mpi`` extra: ``pip install 'neuromap[mpi]'``)."""
    try:
        from mpi4py import MPI  # lazy: optional dependency
    except ImportError:
        raise ImageError("MPI runs need mpi4py and an MPI library: pip install 'neuromap[mpi]' "
                         "(make install does)") from None
    return MpiComm(MPI.COMM_WORLD)


# ------------------------------------------------------------------------------------------------ sharding
def split_units(weights: np.ndarray, ranks: int) -> np.ndarray:
    """The rank of each unit (contiguous runs, in order) for ``ranks`` ranks balanced by ``weights``: a unit goes
    to the rank in whose share its weight's middle falls."""
    w = np.asarray(weights, np.float64)
    mid = np.cumsum(w) - w / 2
    return np.minimum((mid * ranks / max(float(w.sum()), 1e-300)).astype(np.int64), max(1, int(ranks)) - 1)


#: per-step cost model of a rank (ns per neuron, ns per synapse), fitted to the per-rank loop costs (compute +
#: deferred) of ``bench.mpi_scaling`` on ``fanout100_100k`` (docs/scale-out.md, *Sharding*): a neuron costs its
#: LIF update and the recording of its spikes, a synapse its share of the deliveries
COST_NEURON_NS = 0.33
COST_SYNAPSE_NS = 0.136


def unit_cost(neurons, synapses) -> np.ndarray:
    """The modelled per-step cost (ns) of units (chips, cores) with these neuron and synapse counts."""
    return COST_NEURON_NS * np.asarray(neurons, np.float64) + COST_SYNAPSE_NS * np.asarray(synapses, np.float64)


def partition(image: Image, ranks: int) -> np.ndarray:
    """The rank of every core (int64[C]): ranks own contiguous runs of chips (``cores.chip``; of cores when the
    image has fewer chips than ranks or no chip array), balanced by the modelled per-step cost
    (:func:`unit_cost`: per neuron and per synapse). Some ranks own nothing when there are fewer units than
    ranks."""
    C = image.n_cores
    ranks = max(1, int(ranks))
    unit = image.cores["chip"].astype(np.int64) if "chip" in image.cores else np.arange(C, dtype=np.int64)
    if np.unique(unit).size < ranks:
        unit = np.arange(C, dtype=np.int64)
    axon_core = np.repeat(np.arange(C), np.diff(image.cores["axon_ptr"].astype(np.int64)))
    syn_per_axon = np.diff(image.axons["syn_ptr"].astype(np.int64))
    w = unit_cost(np.bincount(image.neurons["core"], minlength=C),
                  np.bincount(axon_core, weights=syn_per_axon, minlength=C))
    units, inv = np.unique(unit, return_inverse=True)
    return split_units(np.bincount(inv, weights=w, minlength=units.size), ranks)[inv]


@dataclass
class Shard:
    """What one rank reads of an image: its neurons, the axons (and their synapses) of its cores with the
    source of each axon (every axon is named by exactly one route entry), and what every rank reads (inputs,
    the cores' kinds, every neuron's core: a link counter's row is the source's core)."""

    image: Image                  # metadata (projections, populations, probes, seed, arithmetic ...) + inputs
    cores: np.ndarray             # bool[C]: cores of this rank
    nid: np.ndarray               # int64: global ids of its neurons, ascending
    neurons: dict                 # the neuron fields of nid
    neuron_core: np.ndarray       # int64[N]: core of every neuron of the image
    axon_core: np.ndarray         # int32, per axon of its cores (global axon order): its core
    axon_proj: np.ndarray         # int32
    axon_src: np.ndarray          # global source id reaching the axon
    syn_ptr: np.ndarray           # over the axons above
    syn_id: np.ndarray            # global synapse id of each synapse below
    synapses: dict                # post (global), weight, delay
    max_delay: int = 1            # largest synaptic delay of the whole image
    extra: dict = field(default_factory=dict)


def shard_of(image: Image, cores: np.ndarray) -> Shard:
    """The :class:`Shard` of the cores ``cores`` (bool[C]) cut out of a whole image in memory."""
    cores = np.asarray(cores, bool)
    nc = image.neurons["core"].astype(np.int64)
    nid = np.flatnonzero(cores[nc]).astype(np.int64)
    rt, ax_ptr = image.routes, image.cores["axon_ptr"].astype(np.int64)
    n_src = image.n_neurons + image.n_inputs
    route_src = np.repeat(np.arange(n_src, dtype=np.int64), np.diff(rt["src_ptr"].astype(np.int64)))
    rc = rt["core"].astype(np.int64)
    keep = cores[rc]
    if np.any(rt["delay"][keep] != 0):
        raise ImageError("routes.delay must be 0 on loihi_lif cores (their delays are synaptic; recompile)")
    gax = ax_ptr[rc[keep]] + rt["axon"].astype(np.int64)[keep]
    order = stable_order([(gax, image.n_axons)], gax.size)
    gax, src = gax[order], route_src[keep][order]
    sp = image.axons["syn_ptr"].astype(np.int64)
    syn_id, owner = concat_ranges(sp[gax], sp[gax + 1])
    syn_ptr = np.zeros(gax.size + 1, np.int64)
    np.cumsum(np.diff(sp)[gax], out=syn_ptr[1:])
    del owner
    return Shard(image=image, cores=cores, nid=nid, neurons={k: v[nid] for k, v in image.neurons.items()},
                 neuron_core=nc, axon_core=rc[keep][order].astype(np.int32),
                 axon_proj=image.axons["proj"][gax].astype(np.int32),
                 axon_src=src, syn_ptr=syn_ptr, syn_id=syn_id.astype(np.int64),
                 synapses={k: v[syn_id] for k, v in image.synapses.items()}, max_delay=image.max_delay())


def _sub_program(sh: Shard, keep: np.ndarray, sub_src: np.ndarray, n_inputs: int, inputs: dict,
                 ring_len: int, local_of: np.ndarray) -> tuple[Program, np.ndarray]:
    """:func:`emulator.program.prepare` of the image made of the shard's neurons, ``n_inputs`` inputs
    (``inputs``) and the shard's axons ``keep`` (bool over its axons), each reached from source ``sub_src``
    (sub-image source ids: local neurons ``0..n-1``, then inputs; ``local_of``: global neuron id -> local).
    Returns the program and the shard-local
    index of every synapse it holds (its synapse order)."""
    img, C, n = sh.image, sh.image.n_cores, sh.nid.size
    ax = np.flatnonzero(keep)
    core = sh.axon_core[ax]
    per_core = np.bincount(core, minlength=C)
    axon_ptr = np.zeros(C + 1, np.int64)
    np.cumsum(per_core, out=axon_ptr[1:])
    local_axon = np.arange(ax.size, dtype=np.int64) - axon_ptr[core]      # axons are sorted by core
    syn, _ = concat_ranges(sh.syn_ptr[ax], sh.syn_ptr[ax + 1])
    syn_ptr = np.zeros(ax.size + 1, np.int64)
    np.cumsum(np.diff(sh.syn_ptr)[ax], out=syn_ptr[1:])
    post = local_of[sh.synapses["post"][syn]]
    order, src_ptr = _axons_by_source(ax, sub_src, n + n_inputs)
    sub = dataclasses.replace(
        img, neurons=sh.neurons, cores={"kind": img.cores["kind"], "axon_ptr": axon_ptr},
        axons={"proj": sh.axon_proj[ax].astype(np.int32), "syn_ptr": syn_ptr},
        synapses={"post": post.astype(np.int32), "weight": sh.synapses["weight"][syn],
                  "delay": sh.synapses["delay"][syn]},
        routes={"src_ptr": src_ptr, "core": core[order].astype(np.int32),
                "axon": local_axon[order].astype(np.int32), "delay": np.zeros(ax.size, np.uint8)},
        inputs=inputs, convs=[])
    return dataclasses.replace(prepare(sub), ring_len=ring_len), syn


@dataclass
class RankPrograms:
    """A rank's two programs (module docstring) and how their indices map to the image's."""

    local: Program                # engine program: local neurons, every input, axons delivered at once
    deferred: Program             # sources n + j for deferred source j (dsrc[j]): the synapses delivered after
                                  # each exchange
    nid: np.ndarray               # global id of each local neuron
    deferred_syn: np.ndarray      # global synapse id of each deferred synapse (deferred synapse order)
    min_delay: int                # smallest delay of a deferred synapse (large if none)
    dsrc: np.ndarray              # int64, ascending: global source ids the rank needs each step (deferred sources)
    dsrc_core: np.ndarray         # int64: core of each deferred source (C = host)


def plastic_sources(img: Image) -> np.ndarray:
    """Global source ids of every plastic projection's pre and post populations (their learning engines see
    the spikes of whole populations, so a rank with plastic projections receives all of them)."""
    ids = [np.zeros(0, np.int64)]
    for pm in img.projections:
        if pm.learning:
            post = img.population(pm.post)
            ids += [np.asarray(img.source_ids(img.population(pm.pre)), np.int64),
                    np.arange(post.start, post.start + post.size, dtype=np.int64)]
    return np.unique(np.concatenate(ids))


def rank_programs(sh: Shard, runs: bool = False) -> RankPrograms:
    """The local and deferred programs of a shard (module docstring). The deferred program's sources are only
    the global sources the rank needs (``dsrc``: those reaching its deferred axons, and the plastic
    projections' populations), so its per-source arrays scale with what the rank receives, not with N.

    ``runs`` (static images on the numba engine): both programs hold only their delivery runs, built straight
    from the shard's synapse arrays (:func:`_runs_program`), without the image-order synapse arrays of
    :func:`emulator.program.prepare` (which the numpy engine and the plastic loops read); ``deferred_syn`` is
    then empty."""
    img = sh.image
    N, I, C, n = int(sh.neuron_core.size), img.n_inputs, img.n_cores, sh.nid.size
    exps = np.array([p.weight_exp for p in img.projections] or [0], np.int64)
    plastic = np.array([bool(p.learning) for p in img.projections] or [False])
    src = sh.axon_src
    owned = np.zeros(N + I, bool)
    owned[sh.nid] = True
    owned[N:] = True                                 # inputs: every rank replays them
    local_src = owned[src]
    is_neuron = src < N
    now = local_src & (exps[sh.axon_proj] >= 0) & ~plastic[sh.axon_proj]
    D = sh.max_delay + 1
    local_of = np.full(N, -1, np.int64)
    local_of[sh.nid] = np.arange(n, dtype=np.int64)
    sh = _local_joins(sh, local_of)
    sub_src = np.where(is_neuron, local_of[np.minimum(src, N - 1)], n + src - N)
    syn = _shard_synapses(sh, local_of, exps) if runs else None
    local, _ = (_runs_program(sh, now, sub_src, I, img.inputs, D, syn, slotted=False) if runs
                else _sub_program(sh, now, sub_src, I, img.inputs, D, local_of))
    need = np.zeros(N + I, bool)                    # the deferred sources (a set-up temporary, 1 byte a source)
    need[src[~now]] = True
    if plastic.any():
        need[plastic_sources(img)] = True
    dsrc = np.flatnonzero(need)
    none = {"spike_step": np.zeros(0, np.int64), "spike_index": np.zeros(0, np.int32),
            "poisson_p": np.full(dsrc.size, np.nan)}
    didx = (np.cumsum(need, dtype=np.int64) - 1)[src]   # deferred source index of each axon's source
    del need
    if runs:
        deferred, dsyn = _runs_program(sh, ~now, n + didx, dsrc.size, none, D, syn, slotted=True)
        md = int(deferred.run_delay.min()) if deferred.run_delay.size else 1 << 40
    else:
        deferred, dsyn = _sub_program(sh, ~now, n + didx, dsrc.size, none, D, local_of)
        md = int(deferred.syn_delay.min()) if deferred.syn_delay.size else 1 << 40
    dsrc_core = np.where(dsrc < N, sh.neuron_core[np.minimum(dsrc, max(N - 1, 0))] if N else C, C).astype(np.int64)
    return RankPrograms(local, deferred, sh.nid, sh.syn_id[dsyn], md, dsrc, dsrc_core)


def _local_joins(sh: Shard, local_of: np.ndarray) -> Shard:
    """The shard with ``neurons.join_parent`` in local ids: a join is core-local (the image verifier checks it)
    and a rank owns whole cores, so a dendrite's soma is on its rank."""
    jp = sh.neurons.get("join_parent")
    if jp is None or not np.any(jp >= 0):
        return sh
    d = np.flatnonzero(jp >= 0)
    loc = np.full(jp.shape[0], -1, np.int64)
    loc[d] = local_of[jp[d].astype(np.int64)]
    if np.any(loc[d] < 0):
        raise ImageError(f"image neurons.join_parent: compartment {int(sh.nid[d[loc[d] < 0][0]])} joins a neuron of "
                         "another core (a join needs one core; recompile)")
    return dataclasses.replace(sh, neurons={**sh.neurons, "join_parent": loc.astype(np.int32)})


def delivery_runs(p: Program) -> Program:
    """``p`` with its delivery runs (the arrays of :func:`emulator.program.flatten`, read by the same kernels)
    built directly, one source at a time (:func:`_runs_of_sources`): a source's synapses over its route entries,
    sorted by (delay, shift, post) and cut into runs whose posts span < 2**16 neurons. No per-synapse temporary
    beyond the packed result (``flatten`` sorts the whole program at once: ~60 bytes a synapse of temporaries,
    0.9 s for a rank's 5 M synapses, most of it fresh memory); a run may be cut at other posts than ``flatten``
    cuts it, which changes no sum (ring adds and dendrite-slot remainders are order-free integers)."""
    return _with_runs(p, p.src_ptr, p.route_axon, p.syn_ptr, p.syn_post, p.syn_delay, p.syn_add, p.syn_slot,
                      p.slot_shift)


def _with_runs(p: Program, src_ptr, route_axon, syn_ptr, syn_post, syn_delay, syn_add, syn_slot,
               slot_shift) -> Program:
    """``p`` with the delivery runs (:func:`_runs_of_sources`) of the sources ``src_ptr`` whose route entries
    reach the axons ``route_axon`` of the synapse arrays ``syn_*`` (``syn_ptr`` over those axons)."""
    src_ptr, g, syn_ptr = (np.ascontiguousarray(a, np.int64) for a in (src_ptr, route_axon, syn_ptr))
    start = _source_starts(src_ptr, g, syn_ptr)                  # first run synapse of every source
    run_src, run_first, run_delay, run_shift, run_base, packed, slot, notes = _runs_of_sources(
        src_ptr, g, syn_ptr, syn_post, syn_delay, syn_add, syn_slot, slot_shift, start)
    run_ptr = _run_ptr(run_src, src_ptr.size - 1)
    return dataclasses.replace(p, run_ptr=run_ptr, run_syn=np.append(run_first, start[-1]).astype(np.int64),
                               run_delay=run_delay, run_shift=run_shift, run_post_base=run_base, run_packed=packed,
                               run_slot=slot, src_notes=notes, post_bounds=None, run_split=None)


@numba.njit(cache=True, nogil=True)
def _source_starts(src_ptr, route_axon, syn_ptr):
    """Exclusive prefix sums over sources of the synapses their route entries reach (n_src + 1 entries)."""
    n_src = src_ptr.shape[0] - 1
    start = np.empty(n_src + 1, np.int64)
    w = 0
    for s in range(n_src):
        start[s] = w
        for r in range(src_ptr[s], src_ptr[s + 1]):
            a = route_axon[r]
            w += syn_ptr[a + 1] - syn_ptr[a]
    start[n_src] = w
    return start


@numba.njit(cache=True, nogil=True)
def _run_ptr(run_src, n_src):
    """Source s's runs ``run_ptr[s] .. run_ptr[s+1]-1`` of runs listed by ascending source ``run_src``."""
    ptr = np.zeros(n_src + 1, np.int64)
    for j in range(run_src.shape[0]):
        ptr[run_src[j] + 1] += 1
    for s in range(n_src):
        ptr[s + 1] += ptr[s]
    return ptr


@dataclass
class _ShardSynapses:
    """The shard's synapses as both programs' delivery runs read them (:func:`_shard_synapses`)."""

    post: np.ndarray              # int32: local post neuron
    add: np.ndarray               # int16: weight << weight_exp (direct) or the raw weight (slotted)
    slot: np.ndarray              # int32 dendrite slot, -1 on direct synapses; empty when no synapse is slotted
    slot_post: np.ndarray         # per slot (distinct (projection, local post, delay) of slotted synapses)
    slot_delay: np.ndarray
    slot_shift: np.ndarray        # right shift (= -weight_exp)


def _shard_synapses(sh: Shard, local_of: np.ndarray, exps: np.ndarray) -> _ShardSynapses:
    """Per shard synapse its local post, the weight the ring adds and its dendrite slot (as
    :func:`emulator.program.prepare` computes them for an image, slots numbered by their distinct
    (projection, post, delay)): 6 bytes a synapse, read by both programs' runs."""
    post, add = _post_and_add(sh.syn_ptr, sh.axon_proj, exps, sh.synapses["post"], sh.synapses["weight"], local_of)
    slotted_axon = np.flatnonzero(exps[sh.axon_proj] < 0)
    if not slotted_axon.size:
        z = np.zeros(0, np.int64)
        return _ShardSynapses(post, add, np.zeros(0, np.int32), z, z, z)
    idx, owner = concat_ranges(sh.syn_ptr[slotted_axon], sh.syn_ptr[slotted_axon + 1])
    uniq, inv = _slots(sh.axon_proj[slotted_axon][owner], post[idx], sh.synapses["delay"][idx], local_of.size)
    slot = np.full(post.size, -1, np.int32)
    slot[idx] = inv
    return _ShardSynapses(post, add, slot, uniq[:, 1].astype(np.int64), uniq[:, 2].astype(np.int64),
                          -exps[uniq[:, 0]])


@numba.njit(cache=True, nogil=True)
def _post_and_add(syn_ptr, axon_proj, exps, post_global, weight, local_of):
    """:func:`_shard_synapses`' per-synapse pass: local post (int32) and added weight (int16: ``weight <<
    weight_exp`` for ``weight_exp >= 0``, the raw weight for slotted synapses; in [-2**15, 2**15), the image
    verifier's bound)."""
    S = post_global.shape[0]
    post = np.empty(S, np.int32)
    add = np.empty(S, np.int16)
    for a in range(syn_ptr.shape[0] - 1):
        e = exps[axon_proj[a]]
        sh = e if e > 0 else 0
        for k in range(syn_ptr[a], syn_ptr[a + 1]):
            post[k] = local_of[post_global[k]]
            add[k] = np.int16(np.int64(weight[k]) << sh)
    return post, add


def _axons_by_source(ax: np.ndarray, sub_src: np.ndarray, n_sources: int) -> tuple[np.ndarray, np.ndarray]:
    """The axons ``ax`` stably grouped by their program source ``sub_src[ax]`` (``order``: positions in ``ax``)
    and each source's start in that order (``src_ptr``, n_sources + 1): a program's route table."""
    order = np.empty(ax.size, np.int64)
    src_ptr = group_by_lookup(np.ascontiguousarray(ax, np.int64), np.ascontiguousarray(sub_src, np.int64),
                              int(n_sources), order)
    return order, src_ptr


def _runs_program(sh: Shard, keep: np.ndarray, sub_src: np.ndarray, n_inputs: int, inputs: dict, ring_len: int,
                  syn: _ShardSynapses, slotted: bool) -> tuple[Program, np.ndarray]:
    """The program of :func:`_sub_program` (same neurons, inputs, sources and synapses) holding only its delivery
    runs, built from the shard's synapse arrays by :func:`_with_runs`: no image-order synapse or axon arrays
    (empty), no copy of the shard's synapses. ``slotted``: the axons ``keep`` may hold slotted synapses (the
    deferred program); the local program holds none. Returns the program and an empty synapse index."""
    img, C, n = sh.image, sh.image.n_cores, sh.nid.size
    ax = np.flatnonzero(keep)
    order, src_ptr = _axons_by_source(ax, sub_src, n + n_inputs)
    z32, z64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    bare = dataclasses.replace(       # the neurons and inputs of the program, no synapse: prepare's constants
        img, neurons=sh.neurons, cores={"kind": img.cores["kind"], "axon_ptr": np.zeros(C + 1, np.int64)},
        axons={"proj": z32, "syn_ptr": np.zeros(1, np.int64)},
        synapses={"post": z32, "weight": sh.synapses["weight"][:0], "delay": np.zeros(0, np.uint8)},
        routes={"src_ptr": np.zeros(n + n_inputs + 1, np.int64), "core": z32, "axon": z32,
                "delay": np.zeros(0, np.uint8)}, inputs=inputs, convs=[])
    slot = syn.slot if slotted else z32
    p = dataclasses.replace(
        prepare(bare), ring_len=ring_len, src_ptr=src_ptr, route_axon=z64,
        route_core=sh.axon_core[ax][order].astype(np.int64), syn_ptr=np.zeros(1, np.int64), axon_delay=z64,
        axon_slotted=np.zeros(0, bool), syn_post=z32, syn_delay=np.zeros(0, np.uint8), syn_add=np.zeros(0, np.int16),
        syn_slot=z32, slot_post=syn.slot_post if slotted else z64, slot_delay=syn.slot_delay if slotted else z64,
        slot_shift=syn.slot_shift if slotted else z64)
    p = _with_runs(p, src_ptr, ax[order], sh.syn_ptr, syn.post, sh.synapses["delay"], syn.add, slot, p.slot_shift)
    if not slotted and p.run_shift.size and p.run_shift.max() > 0:
        raise ValueError("a slotted synapse in the local program")          # rank_programs keeps them deferred
    return p, z64


@numba.njit(cache=True, nogil=True)
def _runs_of_sources(src_ptr, route_axon, syn_ptr, syn_post, syn_delay, syn_add, syn_slot, slot_shift, start,
                     pack_keys=True):
    """:func:`delivery_runs`' kernel: per source s its synapses (written from ``start[s]`` on), keyed
    (delay * 16 + shift, post) and sorted (with their index in one int64 when it fits and ``pack_keys``, else
    by argsort); a run starts at a new (delay, shift) or where the post lies 2**16 or more above the run's
    first. Returns the runs (source, first synapse, delay, shift, post base),
    the packed synapses (``add << 16 | post offset``), their slots and the slotted synapses per source."""
    n_src = src_ptr.shape[0] - 1
    S = start[n_src]
    slotted = syn_slot.shape[0] > 0
    pb = 1                                       # bits of a post id, of a synapse's index within its source
    while (1 << pb) <= max(syn_post.max() if syn_post.shape[0] else 0, 1):
        pb += 1
    packed = np.empty(S, np.int32)
    slot_out = np.empty(S if slotted else 0, np.int32)
    notes = np.zeros(n_src, np.int64)
    widest = 0
    for s in range(n_src):
        widest = max(widest, start[s + 1] - start[s])
    jb = 1
    while (1 << jb) < widest:
        jb += 1
    one_key = pack_keys and 12 + pb + jb <= 62   # (delay, shift, post, index) in one int64: sort, not argsort
    idx = np.empty(widest, np.int64)
    key = np.empty(widest, np.int64)
    cap = 1024 + 2 * n_src
    r_src = np.empty(cap, np.int64)
    r_first = np.empty(cap, np.int64)
    r_ds = np.empty(cap, np.int64)
    r_base = np.empty(cap, np.int64)
    G = 0
    for s in range(n_src):
        w = 0
        for r in range(src_ptr[s], src_ptr[s + 1]):
            a = route_axon[r]
            for k in range(syn_ptr[a], syn_ptr[a + 1]):
                sh = 0
                if slotted and syn_slot[k] >= 0:
                    sh = slot_shift[syn_slot[k]]
                idx[w] = k
                if one_key:
                    key[w] = ((((np.int64(syn_delay[k]) * 16 + sh) << pb) | np.int64(syn_post[k])) << jb) | w
                else:
                    key[w] = ((np.int64(syn_delay[k]) * 16 + sh) << 32) | np.int64(syn_post[k])
                w += 1
        if w == 0:
            continue
        if one_key:
            key[:w].sort()
        else:
            order = np.argsort(key[:w])
        out = start[s]
        prev = -1
        base = 0
        for j in range(w):
            if one_key:
                kk = key[j]
                k = idx[kk & ((1 << jb) - 1)]
                ds = kk >> (jb + pb)
                post = (kk >> jb) & ((1 << pb) - 1)
            else:
                kk = key[order[j]]
                k = idx[order[j]]
                ds = kk >> 32
                post = kk & 0xFFFFFFFF
            if ds != prev or post - base >= 65536:
                if G == cap:
                    cap *= 2
                    r_src = _grown(r_src, cap)
                    r_first = _grown(r_first, cap)
                    r_ds = _grown(r_ds, cap)
                    r_base = _grown(r_base, cap)
                r_src[G] = s
                r_first[G] = out + j
                r_ds[G] = ds
                r_base[G] = post
                G += 1
                prev = ds
                base = post
            packed[out + j] = np.int32((np.int64(syn_add[k]) << 16) | (post - base))
            if slotted:
                slot_out[out + j] = syn_slot[k]
            if ds & 15:
                notes[s] += 1
    return (r_src[:G].copy(), r_first[:G].copy(), r_ds[:G] >> 4, r_ds[:G] & 15, r_base[:G].copy(), packed, slot_out,
            notes)


@numba.njit(cache=True, nogil=True)
def _grown(a, n):
    b = np.empty(n, a.dtype)
    b[:a.shape[0]] = a
    return b


# ------------------------------------------------------------------------------------------------ delivery
@numba.njit(cache=True, nogil=True)
def _deliver_deferred_runs(t0, n_steps, ptr, fired, D, N, ring, run_ptr, run_syn, run_delay, run_shift, run_post_base,
                           run_packed, run_slot, src_notes, slot_acc, slot_mark):
    """The exchanged spikes of steps ``t0 .. t0+n_steps-1`` (step k: ``fired[ptr[k]:ptr[k+1]]``, deferred
    source ids) through the deferred program's delivery runs into the ring (:func:`emulator.engine_numba.deliver_runs`),
    the dendrite slots' carries settled per step (:func:`emulator.engine_numba.carry`)."""
    notes = np.empty((256, 2), np.int64)
    row_off = np.empty(D, np.int64)
    for k in range(n_steps):
        ring_rows(t0 + k, D, N, row_off)
        if run_slot.shape[0]:
            notes = room(notes, notes_due(fired, ptr[k], ptr[k + 1], src_notes))
        nn, ncol = deliver_runs(fired, ptr[k], ptr[k + 1], row_off, ring, run_ptr, run_syn, run_delay, run_shift,
                                run_post_base, run_packed, run_slot, slot_mark, notes)
        carry(notes, nn, ncol, ring, slot_acc, slot_mark)


@numba.njit(cache=True, nogil=True)
def _deliver_deferred_walk(t, fired, D, N, ring, src_ptr, route_axon, route_core, src_core, syn_ptr, axon_delay,
                           axon_slotted, syn_post, syn_delay, syn_add, syn_slot, slot_post, slot_delay, slot_shift,
                           slot_acc, scratch_links):
    """The exchanged spikes ``fired`` of step ``t`` through the deferred program's route entries (image-order
    weights, which learning rewrites; :func:`emulator.engine_numba.deliver`)."""
    touched = np.empty(slot_post.shape[0], np.int64)
    marked = np.zeros(slot_post.shape[0], np.bool_)
    row_off = np.empty(D, np.int64)
    ring_rows(t, D, N, row_off)
    nf = fired.shape[0]
    rec = np.empty(nf, np.int64)
    deliver(t, fired, nf, row_off, ring, src_ptr, route_axon, route_core, src_core, syn_ptr, axon_delay, axon_slotted,
            syn_post, syn_delay, syn_add, syn_slot, slot_post, slot_delay, slot_shift, slot_acc, touched, marked,
            scratch_links, rec, rec, 0)


def input_owners(sh: Shard, rp: RankPrograms, comm) -> tuple[np.ndarray | None, np.ndarray]:
    """(keep, record) of this rank: the inputs it draws (bool over the inputs; None: every input, as an image of
    the sequential Poisson stream needs) and the inputs whose events it records (uint8). Per-input streams:
    a rank draws the inputs reaching its axons or its deferred sources (plastic projections' populations
    included) and records those no lower rank draws; rank 0 also draws and records the inputs no rank needs.
    One ``allgather`` of a bit per input at set-up, nothing in the loop. Sequential: rank 0 records all."""
    img, N = sh.image, int(sh.neuron_core.size)
    I = img.n_inputs
    if img.poisson_stream != PER_INPUT:
        return None, np.full(I, comm.rank == 0, np.uint8)
    need = np.zeros(I, bool)
    need[sh.axon_src[sh.axon_src >= N] - N] = True
    need[rp.dsrc[rp.dsrc >= N] - N] = True
    first = np.full(I, comm.size, np.int64)               # the lowest rank that needs each input
    for r, bits in reversed(list(enumerate(comm.allgather(np.packbits(need))))):
        first[np.unpackbits(bits, count=I).astype(bool)] = r
    first[first == comm.size] = 0
    rec = first == comm.rank
    return need | rec, rec.astype(np.uint8)


@numba.njit(cache=True, nogil=True)
def _record_own(spikes, n_rows, n, nid, N, rec_gid, n_rec, rec_cnt, rec_inputs, in_gid, n_in, in_cnt):
    """A chunk's engine spike rows (step, local source) into this rank's record: its neurons' spikes as global
    ids (``rec_gid`` from ``n_rec`` on, ``rec_cnt[step]`` counted; per step ascending, as the engine emits
    them) and the events of the inputs it records (``rec_inputs[input]``) as global ids ``N + input``
    (``in_gid``, ``in_cnt``; per step in input order). The caller made room. Returns the new (n_rec, n_in)."""
    for i in range(n_rows):
        t = spikes[i, 0]
        s = spikes[i, 1]
        if s < n:
            rec_gid[n_rec] = nid[s]
            n_rec += 1
            rec_cnt[t] += 1
        elif rec_inputs[s - n]:
            in_gid[n_in] = N + s - n
            n_in += 1
            in_cnt[t] += 1
    return n_rec, n_in


@numba.njit(cache=True, nogil=True)
def _pack(spikes, n_rows, n, t0, k_n, send_ptr, send_dest, send_pos, active):
    """The send buffer of an interval of ``k_n`` steps from ``t0``: for every destination rank d with
    ``active[d]`` (it needs some of this rank's neurons) one int32 run: ``k_n`` per-step counts, then the
    spikes' positions in d's list of needed neurons (local neuron s goes to ``send_dest[e]`` at position
    ``send_pos[e]`` for e in ``send_ptr[s]:send_ptr[s+1]``). Returns (buffer, per-destination counts)."""
    K = active.shape[0]
    counts = np.zeros(K, np.int64)
    for d in range(K):
        if active[d]:
            counts[d] = k_n
    for i in range(n_rows):
        s = spikes[i, 1]
        if s < n:
            for e in range(send_ptr[s], send_ptr[s + 1]):
                counts[send_dest[e]] += 1
    displ = np.zeros(K, np.int64)
    for d in range(1, K):
        displ[d] = displ[d - 1] + counts[d - 1]
    buf = np.zeros(displ[K - 1] + counts[K - 1], np.int32)
    cur = displ + k_n
    for i in range(n_rows):
        s = spikes[i, 1]
        if s < n:
            k = spikes[i, 0] - t0
            for e in range(send_ptr[s], send_ptr[s + 1]):
                d = send_dest[e]
                buf[displ[d] + k] += 1
                buf[cur[d]] = send_pos[e]
                cur[d] += 1
    return buf, counts


@numba.njit(cache=True, nogil=True)
def _fired_of_interval(recv, rcounts, k_n, me, recv_map, map_off, spikes, n_rows, n, t0, own_map, dsrc_spikes):
    """The deferred sources that fired in each step of the interval: from every other rank r its run of
    ``recv`` (:func:`_pack`'s layout; position q -> deferred source ``recv_map[map_off[r] + q]``), and this
    rank's own engine rows (local source s -> ``own_map[s]``, -1 if not a deferred source). Returns
    (fired: deferred program source ids ``n + j``, ptr over steps); counts each into ``dsrc_spikes[j]``. The
    order within a step is not the one-process order: ring sums and dendrite slots do not depend on it."""
    K = rcounts.shape[0]
    displ = np.zeros(K, np.int64)
    for r in range(1, K):
        displ[r] = displ[r - 1] + rcounts[r - 1]
    total = n_rows
    for r in range(K):
        if r != me and rcounts[r] > 0:
            total += rcounts[r] - k_n
    fired = np.empty(total, np.int64)
    ptr = np.zeros(k_n + 1, np.int64)
    cur = displ + k_n
    w = 0
    i = 0
    for k in range(k_n):
        ptr[k] = w
        for r in range(K):
            if r == me or rcounts[r] == 0:
                continue
            base = map_off[r]
            for _ in range(recv[displ[r] + k]):
                x = recv_map[base + recv[cur[r]]]
                cur[r] += 1
                fired[w] = n + x
                dsrc_spikes[x] += 1
                w += 1
        while i < n_rows and spikes[i, 0] - t0 == k:
            x = own_map[spikes[i, 1]]
            if x >= 0:
                fired[w] = n + x
                dsrc_spikes[x] += 1
                w += 1
            i += 1
    ptr[k_n] = w
    return fired[:w], ptr


@numba.njit(inline="always")
def _merge_step(t, own, rest, cur, end, out, w):
    """Step t's records of every rank (rank r's run ``cur[r] .. end[r]-1``: of ``own`` for rank 0, of ``rest`` for
    the others; ascending ids, a source in one rank's run only) merged into ``out`` from row ``w`` on, ascending.
    The rank with the smallest head copies its run of ids below the next rank's head at once. Returns the new w."""
    K = cur.shape[0]
    while True:
        best = -1
        bv = 0
        nxt = -1                      # the second smallest head (-1: none)
        for r in range(K):
            if cur[r] < end[r]:
                v = own[cur[r]] if r == 0 else rest[cur[r]]
                if best < 0 or v < bv:
                    if best >= 0:
                        nxt = bv
                    best = r
                    bv = v
                elif nxt < 0 or v < nxt:
                    nxt = v
        if best < 0:
            return w
        src = own if best == 0 else rest
        i = cur[best]
        e = end[best]
        if nxt < 0:
            nxt = 1 << 62
        while i < e and src[i] < nxt:
            out[w, 0] = t
            out[w, 1] = src[i]
            w += 1
            i += 1
        cur[best] = i


@numba.njit(cache=True, nogil=True)
def _merge_records(steps, cnt, own, rest, starts, in_cnt, in_own, in_rest, in_starts, out):
    """Rank 0, once at the end: every rank's record (rank r: ``cnt[r, t]`` spikes of step t, ascending global
    ids; rank 0's in ``own`` from 0 on, rank r's in ``rest`` from ``starts[r]`` on) and input events (the same
    layout: ``in_cnt``, ``in_own``, ``in_rest``, ``in_starts``; each input recorded by one rank, its several events
    of a step in a row) merged into ``out`` (step, source) rows in the one-process order: per step neurons
    ascending, then the inputs in order (:func:`_merge_step`; ranks own contiguous chips, so their ids mostly
    come in long runs: about one comparison per spike)."""
    K = cnt.shape[0]
    cur = starts.copy()
    cur[0] = 0
    end = starts.copy()
    in_cur = in_starts.copy()
    in_cur[0] = 0
    in_end = in_starts.copy()
    w = 0
    for t in range(steps):
        for r in range(K):
            end[r] = cur[r] + cnt[r, t]
            in_end[r] = in_cur[r] + in_cnt[r, t]
        w = _merge_step(t, own, rest, cur, end, out, w)
        w = _merge_step(t, in_own, in_rest, in_cur, in_end, out, w)
    return w


# ------------------------------------------------------------------------------------------------ the run
@dataclass
class ShardStats:
    """Per-rank costs of a sharded run (seconds, bytes): what bench/mpi_scaling.py reports."""

    rank: int
    neurons: int
    synapses: int
    deferred_synapses: int
    interval: int
    intervals: int = 0
    compute_s: float = 0.0        # engine chunks (LIF update + local delivery)
    deferred_s: float = 0.0       # delivery of exchanged spikes (+ learning)
    exchange_s: float = 0.0       # packing, sending, receiving (waiting for the ranks this one needs included)
    setup_s: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0
    program_bytes: int = 0
    finish_s: float = 0.0         # after the loop: counters, gathers to rank 0, the merge of the spike records
    peak_rss_loop_mb: float = 0.0  # the process's peak RSS at the end of the loop (before the gathers)
    phases: dict = field(default_factory=dict)   # seconds per named part of the set-up and the finish


def _mark(phases: dict, name: str, since: float) -> float:
    """Add the time from ``since`` to now to ``phases[name]``; returns now (the next phase's start)."""
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - since
    return now


def _peak_rss_mb() -> float:
    """The process's peak resident set so far (MB; 0 where the ``resource`` module is missing)."""
    try:
        import resource  # lazy: Unix only
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _nbytes(p: Program) -> int:
    return sum(v.nbytes for v in vars(p).values() if isinstance(v, np.ndarray))


def _plastic(sh: Shard, rp: RankPrograms) -> list[PlasticProjection]:
    """The plastic projections' synapses of this rank (deferred program order), each with its engine state
    (every projection, also those without a synapse here: every rank records weights at the same steps)."""
    img, pd = sh.image, rp.deferred
    plastic = [k for k, pm in enumerate(img.projections) if pm.learning]
    if not plastic:
        return []
    route_src = np.repeat(np.arange(pd.src_ptr.size - 1, dtype=np.int64), np.diff(pd.src_ptr))
    axon_src = np.empty(pd.syn_ptr.size - 1, np.int64)
    axon_src[pd.route_axon] = rp.dsrc[route_src - rp.nid.size]   # global source of each deferred axon
    syn_src = np.repeat(axon_src, np.diff(pd.syn_ptr))
    shard_syn = np.searchsorted(sh.syn_id, rp.deferred_syn)   # shard synapse index (syn_id ascends)
    dproj = sh.axon_proj[np.searchsorted(sh.syn_ptr, shard_syn, side="right") - 1]
    return [_plastic_projection(sh, rp, k, np.flatnonzero(dproj == k), syn_src, shard_syn) for k in plastic]


def _plastic_projection(sh: Shard, rp: RankPrograms, k: int, syn: np.ndarray, syn_src: np.ndarray,
                        shard_syn: np.ndarray) -> PlasticProjection:
    """Projection ``k``'s deferred synapses ``syn`` as one :class:`emulator.plastic.PlasticProjection`."""
    img = sh.image
    pm = img.projections[k]
    where = f"image projection {k} ({pm.name})"
    eng = learning_engines.engine(pm.learning, where)
    cfg = eng.Schema.from_dict(pm.learning, where)
    pre, post = img.population(pm.pre), img.population(pm.post)
    first_src = pre.start if pre.kind == "neuron" else sh.neuron_core.size + pre.start
    gid = rp.deferred_syn[syn]
    arrays = dict(pm.learning_arrays)
    if arrays and getattr(eng, "TAGS", None):                 # per-synapse arrays (loihi tags): this rank's
        if img.n_synapses == 0:
            raise ImageError(f"{where}: per-synapse learning arrays need the whole image in sharded runs "
                             "(recompile without tags, or run on one process)")
        arrays = {a: np.asarray(v)[np.searchsorted(np.flatnonzero(img.synapse_projections() == k), gid)]
                  for a, v in arrays.items()}
    state = eng.make_state(cfg, arrays, pre.size, post.size, syn_src[syn] - first_src,
                           sh.synapses["post"][shard_syn[syn]].astype(np.int64) - post.start)
    pp = PlasticProjection(k, syn, img.source_ids(pre), np.arange(post.start, post.start + post.size, dtype=np.int64),
                           int(pm.weight_exp), eng, cfg, state, sh.synapses["weight"][shard_syn[syn]].astype(np.int32))
    if getattr(eng, "READS_SOMA_V", False):
        pp.v_ids = _soma_v_ids(sh, pp.post_ids, f"{where}: engine {eng.ENGINE}")
    if not np.array_equal(rp.deferred.syn_add[syn], pp.delivery()):
        raise ImageError(f"{where}: the deferred program encodes this projection's weights differently "
                         "from emulator.plastic (update PlasticProjection.delivery)")
    return pp


def _soma_v_ids(sh: Shard, post_ids: np.ndarray, what: str) -> np.ndarray:
    """``PlasticProjection.v_ids`` of an engine reading its posts' somas' v (``READS_SOMA_V``): the posts, then
    their ``neurons.join_parent``, as one process passes them. A join is core-local, so the soma of a post of this
    rank is on this rank; the posts of other ranks have no synapse here and stand for themselves (their v is not
    written on this rank, and the engine's per-post values of them reach no weight)."""
    jp = sh.neurons.get("join_parent")
    pos = np.minimum(np.searchsorted(sh.nid, post_ids), max(sh.nid.size - 1, 0))
    mine = sh.nid[pos] == post_ids if sh.nid.size else np.zeros(post_ids.size, bool)
    par = post_ids.copy()
    if jp is not None:
        par[mine] = jp[pos[mine]]
    if jp is None or np.any(par[mine] < 0):
        raise ImageError(f"{what} needs post neurons that are dendrite compartments "
                         "(neurons.join_parent; recompile)")
    return np.concatenate([post_ids, par.astype(np.int64)])


@dataclass
class ExchangePlan:
    """Who sends which neuron spikes to whom (set up once, :func:`exchange_plan`)."""

    send_ptr: np.ndarray          # over local neurons: their entries in send_dest/send_pos
    send_dest: np.ndarray         # rank that needs the neuron
    send_pos: np.ndarray          # its position in that rank's list of the neurons it needs from this one
    active: np.ndarray            # bool[K]: ranks that need some of this rank's neurons
    send_to: np.ndarray           # those ranks (ascending): they get one message per interval
    recv_from: np.ndarray         # ranks this one needs neurons of (ascending): one message per interval each
    recv_map: np.ndarray          # from rank r, position q -> deferred source recv_map[map_off[r] + q]
    map_off: np.ndarray
    own_map: np.ndarray           # local source (neuron 0..n-1, then inputs) -> deferred source, -1 if none


def exchange_plan(sh: Shard, rp: RankPrograms, comm) -> ExchangePlan:
    """Every rank asks each other rank for the neurons among its deferred sources that rank owns (one
    ``alltoall`` of sorted id lists); a rank then sends a neuron's spikes only to the ranks that asked."""
    N, C, n, K, me = sh.neuron_core.size, sh.image.n_cores, rp.nid.size, comm.size, comm.rank
    core_rank = np.full(C, -1, np.int64)
    for r, cs in enumerate(comm.allgather(np.flatnonzero(sh.cores))):
        core_rank[cs] = r
    nd = rp.dsrc[rp.dsrc < N]
    owner = core_rank[sh.neuron_core[nd]]
    need_from = [nd[owner == r] if r != me else np.zeros(0, np.int64) for r in range(K)]
    wanted = comm.alltoall(need_from)
    loc = [np.searchsorted(rp.nid, np.asarray(w, np.int64)) for w in wanted]
    for w, lo in zip(wanted, loc):
        if w.size and (lo.max() >= n or not np.array_equal(rp.nid[lo], w)):
            raise ImageError("sharded run: a rank asked for spikes of a neuron this rank does not own "
                             "(ranks disagree on the partition; the same image on every rank?)")
    lo = np.concatenate(loc + [np.zeros(0, np.int64)])
    dest = np.concatenate([np.full(x.size, d, np.int64) for d, x in enumerate(loc)] + [np.zeros(0, np.int64)])
    pos = np.concatenate([np.arange(x.size, dtype=np.int64) for x in loc] + [np.zeros(0, np.int64)])
    order = np.argsort(lo, kind="stable")
    send_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(lo, minlength=n), out=send_ptr[1:])
    active = np.array([x.size > 0 and d != me for d, x in enumerate(loc)], bool)
    recv_map = np.concatenate([np.searchsorted(rp.dsrc, x) for x in need_from] + [np.zeros(0, np.int64)])
    map_off = _offsets(np.array([x.size for x in need_from], np.int64))
    own = np.concatenate([rp.nid, N + np.arange(sh.image.n_inputs, dtype=np.int64)])
    j = np.minimum(np.searchsorted(rp.dsrc, own), max(rp.dsrc.size - 1, 0))
    own_map = np.where(rp.dsrc.size > 0, np.where(rp.dsrc[j] == own, j, -1), -1) if rp.dsrc.size \
        else np.full(own.size, -1, np.int64)
    recv_from = np.array([r for r in range(K) if r != me and need_from[r].size], np.int64)
    return ExchangePlan(send_ptr, dest[order], pos[order], active, np.flatnonzero(active).astype(np.int64), recv_from,
                        recv_map.astype(np.int64), map_off, own_map.astype(np.int64))


@numba.njit(cache=True, nogil=True)
def _link_pairs(C, ptr_a, core_a, src_core_a, spikes_a, ptr_b, core_b, src_core_b, spikes_b):
    """:func:`_link_entries` of two programs (a, b): the spiking sources of both grouped by their core (a
    counting sort over the C + 1 source cores), each group's route entries summed into a dense row of C
    columns, its touched columns emitted in order: ascending distinct keys ``src_core * C + route_core``, no
    per-route-entry temporary."""
    na, nb = spikes_a.shape[0], spikes_b.shape[0]
    first = np.zeros(C + 2, np.int64)
    n_routes = 0
    for s in range(na):
        if spikes_a[s]:
            first[src_core_a[s] + 1] += 1
            n_routes += ptr_a[s + 1] - ptr_a[s]
    for s in range(nb):
        if spikes_b[s]:
            first[src_core_b[s] + 1] += 1
            n_routes += ptr_b[s + 1] - ptr_b[s]
    for c in range(C + 1):
        first[c + 1] += first[c]
    order = np.empty(first[C + 1], np.int64)         # source s of a as s, of b as na + s
    fill = first.copy()
    for s in range(na):
        if spikes_a[s]:
            order[fill[src_core_a[s]]] = s
            fill[src_core_a[s]] += 1
    for s in range(nb):
        if spikes_b[s]:
            order[fill[src_core_b[s]]] = na + s
            fill[src_core_b[s]] += 1
    row = np.zeros(C, np.int64)
    touched = np.empty(C, np.int64)
    cap = min(n_routes, (C + 1) * C) + 1
    keys = np.empty(cap, np.int64)
    vals = np.empty(cap, np.int64)
    w = 0
    for c in range(C + 1):
        nt = 0
        for i in range(first[c], first[c + 1]):
            x = order[i]
            if x < na:
                lo, hi, n_spk = ptr_a[x], ptr_a[x + 1], spikes_a[x]
            else:
                lo, hi, n_spk = ptr_b[x - na], ptr_b[x - na + 1], spikes_b[x - na]
            for r in range(lo, hi):
                col = core_a[r] if x < na else core_b[r]
                if row[col] == 0:
                    touched[nt] = col
                    nt += 1
                row[col] += n_spk
        cols = np.sort(touched[:nt])
        for j in range(nt):
            keys[w] = c * C + cols[j]
            vals[w] = row[cols[j]]
            row[cols[j]] = 0
            w += 1
    return keys[:w].copy(), vals[:w].copy()


def _link_entries(C: int, a: tuple, b: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The per-link counters of a rank (``link_spikes[src core, route core]``: spikes per source times its route
    entries, :func:`emulator.engine_numba.add_link_spikes`) of its two programs ``a``, ``b`` (each ``(src_ptr,
    route_core, src_core, src_spikes)``) as sparse (flat index into the (C+1, C) counters, count) pairs,
    ascending: a rank's are only the columns of its own cores, and rank 0 adds them into the one array."""
    arrs = [np.ascontiguousarray(x, np.int64) for x in (*a, *b)]
    return _link_pairs(C, *arrs)


def prefaulted(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array (the merged spike rows, the others' records: every byte of which the finish
    writes) whose pages the kernel maps at once (``MAP_POPULATE``, Linux): faulting in a 1.6 GB array page by
    page on first write cost 6-10 s on this machine's VM, populating it 1-3 s (docs/scale-out.md). Small
    arrays, and systems without ``MAP_POPULATE``: ``np.empty``."""
    flag = getattr(mmap, "MAP_POPULATE", 0)
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes < (64 << 20) or not flag:
        return np.empty(shape, dtype)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | flag)
    return np.frombuffer(buf, dtype).reshape(shape)            # the array keeps the mapping alive


def _rank_links(img: Image, pl: Program, pd: Program, rp: RankPrograms, st: State, dsrc_spikes: np.ndarray) -> tuple:
    """This rank's per-link counters as sparse (flat index, count) pairs (:func:`_link_entries`): the route
    entries into its cores of every source that spiked (its own and inputs through the local program, the
    deferred sources through the deferred program)."""
    n = rp.nid.size
    dsrc_core = np.concatenate([np.zeros(n, np.int64), rp.dsrc_core])
    dsrc_spikes = np.concatenate([np.zeros(n, np.int64), dsrc_spikes])
    if pl.run_ptr is not None:     # delivery runs: link counters from the per-source counts, sparse
        return _link_entries(img.n_cores, (pl.src_ptr, pl.route_core, pl.src_core, st.src_spikes),
                             (pd.src_ptr, pd.route_core, dsrc_core, dsrc_spikes))
    # the route walk counted into the state's (C+1, C) counters
    engine_numba.add_link_spikes(pd.src_ptr, pd.route_core, dsrc_core, dsrc_spikes, st.link_spikes)
    keys = np.flatnonzero(st.link_spikes)
    return keys, st.link_spikes.reshape(-1)[keys]


def _grow(a: np.ndarray, need: int) -> np.ndarray:
    if a.shape[0] >= need:
        return a
    b = np.empty((max(need, 2 * a.shape[0]),) + a.shape[1:], a.dtype)
    b[:a.shape[0]] = a
    return b


def emulate_shard(sh: Shard, steps: int, comm, engine: str = "numba", probe: np.ndarray | None = None,
                  progress=None, weight_every: int | None = None, gather: bool = True
                  ) -> tuple[RawRun | dict | None, ShardStats]:
    """This rank's part of a sharded run of ``steps`` steps (module docstring). ``probe``: global neuron ids to
    trace (default: the image's u/v probes). Returns the :class:`RawRun` of the whole network on rank 0 (the
    one-process integers; None on the other ranks) and this rank's :class:`ShardStats`. With ``gather=False``
    nothing is gathered: every rank returns its own part (:data:`PART_KEYS`; :func:`merge_parts` of every rank's
    part is the :class:`RawRun` the gathered run returns), which ``backends.emulator.parts`` writes per rank."""
    t_setup = time.perf_counter()
    img = sh.image
    if any(k != loihi_lif.NAME for k in img.core_kinds):
        raise ImageError(f"sharded runs emulate loihi_lif cores only (image has {img.core_kinds})")
    if engine not in ("numba", "numpy"):
        raise ImageError(f"unknown emulator engine {engine!r} (use numba or numpy)")
    if "join_parent" in sh.neurons and np.any(sh.neurons["join_parent"] >= 0):
        engine = "numpy"          # dendrite compartments: the numpy loop's joined update, as one process does
    if img.convs:
        raise ImageError("sharded runs do not expand shared-weight convolution sections (image conv) yet: "
                         "run this image on one process")
    if img.controllers:
        raise ImageError("sharded runs do not run embedded-core controllers (image controllers) yet: run this image "
                         "on one process")
    if weight_every is not None and int(weight_every) < 1:
        raise ImageError(f"weight_every must be >= 1 steps, got {weight_every}")
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    N, I = sh.neuron_core.size, img.n_inputs
    if N + I >= 2 ** 31:
        raise ImageError(f"sharded runs record source ids as int32: the image has {N + I} sources (>= 2**31)")
    phases: dict = {}
    tp = _mark(phases, "setup.checks", t_setup)
    static_runs = engine == "numba" and not any(pm.learning for pm in img.projections)
    rp = rank_programs(sh, runs=static_runs)
    tp = _mark(phases, "setup.programs", tp)
    projs = _plastic(sh, rp)
    for pp in projs:
        hook = getattr(pp.engine, "use_engine", None)
        if hook is not None:
            hook(pp.state, engine)
    n = rp.nid.size
    pl = rp.local
    pd = rp.deferred
    if engine == "numba" and pl.run_ptr is None:
        pl = delivery_runs(pl)
        pl = dataclasses.replace(pl, syn_post=pl.syn_post[:0], syn_delay=pl.syn_delay[:0], syn_add=pl.syn_add[:0],
                                 syn_slot=pl.syn_slot[:0])
    tp = _mark(phases, "setup.local_runs", tp)
    run_chunk = engine_numba.run_chunk if engine == "numba" else engine_numpy.run_chunk
    if not projs and pd.run_ptr is None:     # static: delivery runs; the image-order synapse arrays are not read
        pd = delivery_runs(pd)
        pd = dataclasses.replace(pd, syn_post=pd.syn_post[:0], syn_delay=pd.syn_delay[:0], syn_add=pd.syn_add[:0],
                                 syn_slot=pd.syn_slot[:0])
    tp = _mark(phases, "setup.deferred_runs", tp)
    M = comm.allreduce_min(rp.min_delay)
    plan = exchange_plan(sh, rp, comm)
    tp = _mark(phases, "setup.plan", tp)
    interval = max(1, min(M, max(1, _CHUNK_BUDGET // max(1, N + I)), max(steps, 1)))
    if probe is None:
        probe = emulator._image_probe(img)
    probe = np.ascontiguousarray(probe, np.int64)
    mine = np.isin(probe, rp.nid)
    v_read = [pp.post_ids if pp.v_ids is None else pp.v_ids for pp in projs]     # neurons whose v learning reads
    post_local = np.unique(np.concatenate([np.searchsorted(rp.nid, ids[np.isin(ids, rp.nid)]) for ids in v_read])
                           ) if projs else np.zeros(0, np.int64)
    lprobe = np.unique(np.concatenate([np.searchsorted(rp.nid, probe[mine]), post_local])).astype(np.int64)
    col_user = np.searchsorted(lprobe, np.searchsorted(rp.nid, probe[mine]))
    col_post = np.searchsorted(lprobe, post_local)
    st = State.initial(pl)
    keep, rec_inputs = input_owners(sh, rp, comm)
    sched = InputSchedule(pl, keep)
    stats = ShardStats(comm.rank, n, int(sh.syn_id.size), int(pd.run_syn[-1] if pd.run_ptr is not None
                                                                else pd.syn_ptr[-1]), interval,
                       program_bytes=_nbytes(pl) + _nbytes(pd), phases=phases)
    us = np.zeros((steps, lprobe.size), np.int64)
    vs = np.zeros((steps, lprobe.size), np.int64)
    out = ChunkOut(np.empty((max(1, interval * (n + 1)), 2), np.int64), us[:0], vs[:0])
    dsrc_spikes = np.zeros(rp.dsrc.size, np.int64)      # spikes per deferred source (link counters)
    slot_acc = np.zeros(pd.slot_post.size, np.int64)
    slot_mark = np.zeros(pd.slot_post.size, np.uint8)
    scratch_links = np.zeros((img.n_cores + 1, img.n_cores), np.int64) if projs else None
    ring = st.ring.reshape(-1)
    # this rank's neuron spikes (global ids, per step ascending): reserved for every neuron every step up to
    # _RESERVE_RECORDS (untouched pages cost no memory), grown by copying beyond
    rec_gid = np.empty(max(1 << 16, min(steps * n, _RESERVE_RECORDS)), np.int32)
    rec_cnt = np.zeros(steps, np.int64)
    in_gid = np.empty(1 << 12, np.int32)                         # the events of the inputs it records
    in_cnt = np.zeros(steps, np.int64)
    n_rec = n_in = 0
    spk = np.zeros(N + I, bool) if projs else None
    v_all = np.zeros(N, np.int64) if projs else None
    rec_steps, rec_w = [], {pp.index: [] for pp in projs}
    _pack(out.spikes, 0, n, 0, 1, plan.send_ptr, plan.send_dest, plan.send_pos, plan.active)  # compiled/loaded
    _mark(phases, "setup.state", tp)
    stats.setup_s = time.perf_counter() - t_setup                # in set-up, also by one rank (neuromap.warmup)
    t0 = 0
    while t0 < steps:
        k_n = min(interval, steps - t0)
        c0 = time.perf_counter()
        in_ptr, in_ids = sched.chunk(t0, k_n)
        need = k_n * n + in_ids.size
        if need > out.spikes.shape[0]:
            out.spikes = np.empty((max(need, 2 * out.spikes.shape[0]), 2), np.int64)
        out.n_spikes = 0
        out.trace_u, out.trace_v = us[t0:t0 + k_n], vs[t0:t0 + k_n]
        run_chunk(pl, st, t0, k_n, in_ptr, in_ids, lprobe, out)
        rows = out.n_spikes
        rec_gid = _grow(rec_gid, n_rec + rows)
        in_gid = _grow(in_gid, n_in + in_ids.size)
        n_rec, n_in = _record_own(out.spikes, rows, n, rp.nid, N, rec_gid, n_rec, rec_cnt, rec_inputs, in_gid,
                                  n_in, in_cnt)
        c1 = time.perf_counter()
        if comm.size > 1:
            buf, counts = _pack(out.spikes, rows, n, t0, k_n, plan.send_ptr, plan.send_dest, plan.send_pos,
                                plan.active)
            off = _offsets(counts)
            got = comm.exchange({int(d): buf[off[d]:off[d] + counts[d]] for d in plan.send_to}, plan.recv_from)
            recv = np.concatenate(got) if got else np.zeros(0, np.int32)
            rcounts = np.zeros(comm.size, np.int64)
            rcounts[plan.recv_from] = [g.size for g in got]
            stats.bytes_sent += int(counts.sum()) * 4
            stats.bytes_received += int(rcounts.sum()) * 4
        else:
            recv, rcounts = np.zeros(0, np.int32), np.zeros(1, np.int64)
        c2 = time.perf_counter()
        if rp.dsrc.size or projs:     # else no spike reaches a deferred synapse (rank 0 of fanout100_100k)
            fired, ptr = _fired_of_interval(recv, rcounts, k_n, comm.rank, plan.recv_map, plan.map_off, out.spikes,
                                            rows, n, t0, plan.own_map, dsrc_spikes)
            if not projs:
                _deliver_deferred_runs(t0, k_n, ptr, fired, pd.ring_len, n, ring, pd.run_ptr, pd.run_syn,
                                       pd.run_delay, pd.run_shift, pd.run_post_base, pd.run_packed, pd.run_slot,
                                       pd.src_notes, slot_acc, slot_mark)
            else:
                for k in range(k_n):
                    t = t0 + k
                    f = fired[ptr[k]:ptr[k + 1]]
                    _deliver_deferred_walk(t, f, pd.ring_len, n, ring, pd.src_ptr, pd.route_axon, pd.route_core,
                                           pd.src_core, pd.syn_ptr, pd.axon_delay, pd.axon_slotted, pd.syn_post,
                                           pd.syn_delay, pd.syn_add, pd.syn_slot, pd.slot_post, pd.slot_delay,
                                           pd.slot_shift, slot_acc, scratch_links)
                    s = rp.dsrc[f - n]
                    spk[s] = True
                    v_all[rp.nid[post_local]] = vs[t, col_post]
                    learn_step(projs, spk, t, v_all, pd.syn_add)
                    spk[s] = False
                    record_weights(projs, t, steps, weight_every, rec_steps, rec_w)
        c3 = time.perf_counter()
        stats.compute_s += c1 - c0
        stats.exchange_s += c2 - c1
        stats.deferred_s += c3 - c2
        stats.intervals += 1
        t0 += k_n
        if progress is not None and comm.rank == 0:
            progress(t0, steps)
    t_finish = time.perf_counter()
    stats.peak_rss_loop_mb = _peak_rss_mb()
    del out
    if not gather:          # per-rank results: this rank's part, no collective (docs/scale-out.md, *Results*)
        link = _rank_links(img, pl, pd, rp, st, dsrc_spikes)
        tp = _mark(phases, "finish.links", t_finish)
        comm.flush()
        tp = _mark(phases, "finish.flush", tp)
        part = _rank_part(rp, mine, us[:, col_user], vs[:, col_user], st, projs, rec_w, rec_steps, rec_cnt)
        part.update({"rec_gid": rec_gid[:n_rec], "in_gid": in_gid[:n_in], "in_cnt": in_cnt,
                     "link_spikes": (np.asarray(link[0], np.int64), np.asarray(link[1], np.int64))})
        _mark(phases, "finish.part", tp)
        stats.finish_s = time.perf_counter() - t_finish
        return part, stats
    # The finish's order lets rank 0 wait as little as possible: it counts its links while the others end their
    # loops, learns every rank's record count as soon as they end (a small gather they do not wait on) and
    # maps the merged rows (and the receive buffer of the others' records) while they count their links.
    tp = t_finish
    if comm.rank == 0:
        link = _rank_links(img, pl, pd, rp, st, dsrc_spikes)
        tp = _mark(phases, "finish.links", tp)
    comm.flush()
    tp = _mark(phases, "finish.flush", tp)
    n_recs = comm.gather((n_rec, n_in))
    tp = _mark(phases, "finish.gather_counts", tp)
    if comm.rank == 0:
        n_recs, n_ins = np.array(n_recs, np.int64).T
        spikes = prefaulted((int(n_recs.sum() + n_ins.sum()), 2), np.int64)
        rest = prefaulted((int(n_recs[1:].sum()),), np.int32)
        in_rest = np.empty(int(n_ins[1:].sum()), np.int32)
        tp = _mark(phases, "finish.alloc", tp)
    else:
        link = _rank_links(img, pl, pd, rp, st, dsrc_spikes)
        tp = _mark(phases, "finish.links", tp)
        spikes = rest = in_rest = None
    st.link_spikes = None
    del ring
    st.ring = None                                     # the state's largest array, not needed any more
    part = _rank_part(rp, mine, us[:, col_user], vs[:, col_user], st, projs, rec_w, rec_steps, rec_cnt)
    part["in_cnt"] = in_cnt
    del us, vs
    parts = comm.gather(part)
    keys, counts = comm.gather_int64(link[0]), comm.gather_int64(link[1])   # ~2 M pairs a rank: buffers
    tp = _mark(phases, "finish.gather_parts", tp)
    rest = comm.gather_array(rec_gid[:n_rec], rest)
    in_rest = comm.gather_array(in_gid[:n_in], in_rest)
    tp = _mark(phases, "finish.gather_spikes", tp)
    if comm.rank != 0:
        stats.finish_s = time.perf_counter() - t_finish
        return None, stats
    for p, k, c in zip(parts, keys, counts):
        p["link_spikes"] = (k, c)
    cnt = np.stack([p["rec_cnt"] for p in parts]) if steps else np.zeros((len(parts), 0), np.int64)
    in_cnt = np.stack([p["in_cnt"] for p in parts]) if steps else np.zeros((len(parts), 0), np.int64)
    _merge_records(steps, cnt, rec_gid[:n_rec], rest, _offsets(np.concatenate([[0], n_recs[1:]])), in_cnt,
                   in_gid[:n_in], in_rest, _offsets(np.concatenate([[0], n_ins[1:]])), spikes)
    tp = _mark(phases, "finish.merge", tp)
    del rec_gid, rest
    raw = _assemble(img.n_cores, plastic_projections(img), N, steps, probe, parts, spikes)
    _mark(phases, "finish.assemble", tp)
    stats.finish_s = time.perf_counter() - t_finish
    return raw, stats


#: what a rank's part of a run holds (:func:`emulate_shard` with ``gather=False``): its neurons (``nid``, global
#: ids ascending), its columns of the probe (``probe_cols``) with their traces (``u``, ``v``), its neurons'
#: final state, its per-core counters (``core_spikes``, (C,), every rank's summed), its per-link counters as
#: (flat index, count) pairs (``link_spikes``; ranks count disjoint columns), its plastic synapses' recorded
#: weights (``weights``: projection -> (image synapse ids, (k, S) int16)) after the steps ``rec_steps``, its
#: neurons' spikes (``rec_gid``: int32 global ids, ascending within a step, ``rec_cnt[t]`` of step t) and the
#: the events of the inputs it records (``in_gid``, ``in_cnt``: each input recorded by one rank, :func:`input_owners`;
#: rank 0 records all of a sequential stream's)
PART_KEYS = ("nid", "probe_cols", "u", "v", "final_u", "final_v", "core_spikes", "link_spikes", "weights",
             "rec_steps", "rec_cnt", "rec_gid", "in_gid", "in_cnt")


def _rank_part(rp: RankPrograms, mine: np.ndarray, u: np.ndarray, v: np.ndarray, st: State, projs: list,
               rec_w: dict, rec_steps: list, rec_cnt: np.ndarray) -> dict:
    """This rank's part of the results, without its spike records and link counters (:data:`PART_KEYS`)."""
    return {"nid": rp.nid, "probe_cols": np.flatnonzero(mine), "u": u, "v": v,
            "final_u": st.u.copy(), "final_v": st.v.copy(), "core_spikes": st.core_spikes,
            "weights": {pp.index: (rp.deferred_syn[pp.syn], np.stack(rec_w[pp.index]) if rec_w[pp.index]
                                   else np.zeros((0, pp.syn.size), np.int16)) for pp in projs},
            "rec_steps": np.asarray(rec_steps, np.int64), "rec_cnt": rec_cnt}


def plastic_projections(img: Image) -> list[int]:
    """The indices of the image's projections that learn (the keys of :attr:`RawRun.weights`)."""
    return [k for k, pm in enumerate(img.projections) if pm.learning]


def merge_parts(parts: list, steps: int, n_neurons: int, n_cores: int, plastic: list[int],
                probe: np.ndarray) -> RawRun:
    """Every rank's part (:data:`PART_KEYS`, in rank order; from :func:`emulate_shard` with ``gather=False`` or
    read back from the per-rank result files) as the :class:`RawRun` of the whole network: the one-process
    integers, spikes in the one-process order (:func:`_merge_records`)."""
    gids = [np.asarray(p["rec_gid"], np.int32) for p in parts]
    counts = np.array([g.size for g in gids], np.int64)
    cat = np.concatenate(gids) if gids else np.zeros(0, np.int32)
    ins = [np.asarray(p["in_gid"], np.int32) for p in parts]
    in_counts = np.array([g.size for g in ins], np.int64)
    in_gid = np.concatenate(ins) if ins else np.zeros(0, np.int32)
    in_cnt = np.stack([np.asarray(p["in_cnt"], np.int64) for p in parts]) if steps else np.zeros((len(parts), 0),
                                                                                                np.int64)
    cnt = np.stack([np.asarray(p["rec_cnt"], np.int64) for p in parts]) if steps else np.zeros((len(parts), 0),
                                                                                              np.int64)
    spikes = prefaulted((cat.size + in_gid.size, 2), np.int64)
    _merge_records(steps, cnt, cat, cat, _offsets(counts), in_cnt, in_gid, in_gid, _offsets(in_counts), spikes)
    return _assemble(n_cores, plastic, n_neurons, steps, probe, parts, spikes)


@numba.njit(cache=True, nogil=True)
def spike_bits(gid, cnt, nid):
    """A rank's spike records (``gid``: global ids ascending within each step, ``cnt[t]`` of step t; every id in
    ``nid``, the rank's neurons ascending) as a (steps, ceil(n / 8)) uint8 bitmap: bit ``j & 7`` of byte
    ``j >> 3`` of row t is neuron ``nid[j]``'s spike at step t (a dense rank's records in n / 8 bytes a step
    instead of 4 bytes a spike). Returns (bitmap, -1) or (partial bitmap, the first record not in ``nid``)."""
    n = nid.shape[0]
    out = np.zeros((cnt.shape[0], (n + 7) // 8), np.uint8)
    k = 0
    for t in range(cnt.shape[0]):
        j = 0
        for _ in range(cnt[t]):
            g = gid[k]
            while j < n and nid[j] < g:
                j += 1
            if j == n or nid[j] != g:
                return out, k
            out[t, j >> 3] |= np.uint8(1 << (j & 7))
            j += 1
            k += 1
    return out, -1


@numba.njit(cache=True, nogil=True)
def spike_ids(bits, nid):
    """The records of a :func:`spike_bits` bitmap: (global ids int32, ascending within each step; count per
    step int64)."""
    steps, nb = bits.shape
    cnt = np.zeros(steps, np.int64)
    for t in range(steps):
        c = 0
        for b in range(nb):
            x = bits[t, b]
            while x:
                x &= x - np.uint8(1)
                c += 1
        cnt[t] = c
    gid = np.empty(cnt.sum(), np.int32)
    k = 0
    n = nid.shape[0]
    for t in range(steps):
        for b in range(nb):
            x = bits[t, b]
            if x == 0:
                continue
            for i in range(8):
                j = (b << 3) + i
                if (x >> i) & 1 and j < n:
                    gid[k] = nid[j]
                    k += 1
    return gid[:k], cnt


def _assemble(n_cores: int, plastic: list[int], N: int, steps: int, probe: np.ndarray, parts: list,
              spikes: np.ndarray) -> RawRun:
    """Rank 0 (or the reader of per-rank results): the ranks' parts as one :class:`RawRun` in global indices."""
    u = np.zeros((steps, probe.size), np.int64)
    v = np.zeros((steps, probe.size), np.int64)
    fu, fv = np.zeros(N, np.int64), np.zeros(N, np.int64)
    core = np.zeros(n_cores, np.int64)
    link = np.zeros((n_cores + 1, n_cores), np.int64)
    pieces: dict[int, list] = {}
    rec_steps = np.zeros(0, np.int64)
    for p in parts:
        u[:, p["probe_cols"]] = p["u"]
        v[:, p["probe_cols"]] = p["v"]
        fu[p["nid"]], fv[p["nid"]] = p["final_u"], p["final_v"]
        core += p["core_spikes"]
        keys, counts = p["link_spikes"]
        link.reshape(-1)[keys] += counts          # a rank counts only the route entries into its own cores
        for k, (gid, w) in p["weights"].items():
            pieces.setdefault(k, []).append((gid, w))
        if p["rec_steps"].size:
            rec_steps = p["rec_steps"]
    weights = {}
    for k in plastic:
        got = pieces.get(k, [])
        gid = np.concatenate([g for g, _ in got]) if got else np.zeros(0, np.int64)
        order = np.argsort(gid, kind="stable")
        n_rec = rec_steps.size
        ws = [w if w.shape[0] == n_rec else np.zeros((n_rec, w.shape[1]), np.int16) for _, w in got]
        weights[k] = (np.concatenate(ws, axis=1)[:, order] if ws else np.zeros((n_rec, 0), np.int16))
    return RawRun(steps, spikes, probe, u, v, core, link, fu, fv,
                  weight_steps=rec_steps if plastic else np.zeros(0, np.int64),
                  weights=weights if plastic else {})


# ------------------------------------------------------------------------------------------------ one rank
#: environment variables an MPI launcher sets in every rank: MPICH's Hydra (PMI_SIZE), Open MPI, PMIx
_WORLD_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_by_mpi() -> bool:
    """True in a process that an MPI launcher (``mpiexec``) started: ``neuromap run`` then runs sharded."""
    return any(v in os.environ for v in _WORLD_SIZE_VARS)


def load_shard(path, rank: int, size: int) -> Shard:
    """Rank ``rank``'s :class:`Shard` of the image directory ``path`` (of ``size`` ranks). A format version 2
    image with at least ``size`` shards: ranks own contiguous runs of its shards (chips) balanced by the
    manifest's synapse and neuron counts, and a rank reads (memory-maps) only ``common.bin`` and its shards,
    each checked against its sha256 in the manifest, then their rows for structure (:func:`_check_shard`).
    Otherwise (version 1, or fewer shards than ranks) the whole image is loaded and checked
    (:func:`neuromap.image.load_image`) and cut by :func:`partition`."""
    path = Path(path)
    recover(path)
    m = read_manifest(path, READABLE_VERSIONS)
    if m["format_version"] < 2 or len(m["shards"]) < size:
        img = load_image(path)
        return shard_of(img, partition(img, size) == rank)
    cost = unit_cost([e["arrays"].get("neurons.id", {"shape": [0]})["shape"][0] for e in m["shards"]],
                     [e["arrays"].get("synapses.post", {"shape": [0]})["shape"][0] for e in m["shards"]])
    which = [int(i) for i in np.flatnonzero(split_units(cost, size) == rank)]
    common, shards = read_shards(path, m, which)
    missing = [k for k in ("cores.kind", "cores.axon_ptr", "neurons.core", "routes.src_ptr", "inputs.spike_step",
                           "inputs.spike_index", "inputs.poisson_p") if k not in common]
    if missing:
        raise ImageError(f"{path}: common.bin has no array {missing[0]!r} (image edited; recompile)")
    meta = image_from_manifest(m, {**{k: np.asarray(v) for k, v in common.items()},
                                   "synapses.post": np.zeros(0, np.int32), "axons.proj": np.zeros(0, np.int32),
                                   "axons.syn_ptr": np.zeros(1, np.int64)}, path)
    cores = np.zeros(meta.n_cores, bool)
    for i in which:
        c = np.asarray(m["shards"][i]["cores"], np.int64)
        if c.size and (c.min() < 0 or c.max() >= meta.n_cores):
            raise ImageError(f"{path}: manifest shards[{i}].cores names a core the image does not have (recompile)")
        cores[c] = True
    return _check_shard(path, _shard_from_bundles(meta, cores, shards, m["arrays"]))


def _check_shard(path: Path, sh: Shard) -> Shard:
    """The structure of a shard read from bundles (each passed its checksum): its neurons are exactly those on
    its cores, every axon of its cores is named by exactly one of its route entries (delay 0), every synapse
    targets a neuron of its axon's core with a delay of 1..64, projections and synapse ranges exist. Neuron
    constants and stored weights were checked when the image was written (``Image.verify``) and are checked by
    :func:`neuromap.image.load_image`; their checksums here."""
    def bad(what: str) -> ImageError:
        return ImageError(f"{path}: shard of cores {np.flatnonzero(sh.cores)[:3].tolist()}...: {what} "
                          "(image edited; recompile)")

    N, nc, n_proj = sh.neuron_core.size, sh.neuron_core, len(sh.image.projections)
    if nc.size and (nc.min() < 0 or nc.max() >= sh.image.n_cores):
        raise bad("neurons.core names a core the image does not have")
    if np.any(np.diff(sh.nid) <= 0) or (sh.nid.size and (sh.nid[0] < 0 or sh.nid[-1] >= N)) \
            or not np.all(sh.cores[nc[sh.nid]]) or sh.nid.size != int(np.count_nonzero(sh.cores[nc])):
        raise bad("neurons.id are not the neurons of its cores")
    gax, rg = sh.extra["axon_global"], sh.extra["route_axon_global"]
    if not np.array_equal(gax, rg) or np.any(sh.extra["route_delay"] != 0) or not np.all(sh.cores[sh.axon_core]):
        raise bad("its route entries do not name each axon of its cores once (with delay 0)")
    proj = sh.axon_proj
    if proj.size != gax.size or (proj.size and (proj.min() < 0 or proj.max() >= n_proj)):
        raise bad("axons.proj")
    if np.any(sh.axon_src < 0) or np.any(sh.axon_src >= N + sh.image.n_inputs):
        raise bad("routes.index")
    post = sh.synapses["post"]
    if post.size != sh.syn_id.size or any(a.size != post.size for a in sh.synapses.values()):
        raise bad("synapse arrays of different lengths")
    if post.size:
        if _posts_off_their_axon_core(sh.syn_ptr, post, sh.axon_core, nc) >= 0:
            raise bad("synapses.post: a synapse targets a neuron on another core than its axon")
        d = sh.synapses["delay"]
        if d.min() < 1 or d.max() > 64:
            raise bad("synapses.delay outside 1..64")
        sh.max_delay = int(d.max())
    sh.extra = {}                                 # the global axon ids were for this check only (16 bytes an axon)
    return sh


def _shard_from_bundles(meta: Image, cores: np.ndarray, shards: list[dict], table: dict) -> Shard:
    """A :class:`Shard` of the rows of the bundles ``shards`` (format version 2, memory-mapped)."""
    cat = lambda k: np.concatenate([np.asarray(sh[k]) for sh in shards]) if shards else np.zeros(0)  # noqa: E731
    for k in list(table):
        g = k.split(".")[0]
        if g in ("neurons", "axons", "synapses", "routes") and k not in ("neurons.core", "routes.src_ptr",
                                                                         "axons.syn_ptr"):
            for sh in shards:
                if k not in sh or sh[k].dtype.str != table[k]["dtype"]:
                    raise ImageError(f"a shard's array {k!r} is missing or not {table[k]['dtype']} (image edited; "
                                     "recompile)")
    nid = cat("neurons.id").astype(np.int64)
    order = np.argsort(nid, kind="stable")
    neurons = {k.split(".", 1)[1]: cat(k)[order] for k in table
               if k.startswith("neurons.") and k != "neurons.core"}
    N = int(table["neurons.core"]["shape"][0])
    nc = meta.neurons["core"].astype(np.int64)
    nid = nid[order]
    neurons["core"] = nc[np.clip(nid, 0, max(N - 1, 0))].astype(np.int32)
    ap = meta.cores["axon_ptr"].astype(np.int64)
    gax = np.concatenate([np.arange(ap[c], ap[c + 1]) for c in np.flatnonzero(cores)] or [np.zeros(0, np.int64)])
    # one int64 array per route entry at a time (the loaded shard's peak: ~8 bytes an axon a temporary, not ~80)
    route_src = np.searchsorted(meta.routes["src_ptr"].astype(np.int64), cat("routes.index"), side="right")
    route_src -= 1
    rcore = cat("routes.core").astype(np.int32, copy=False)
    rg = ap[np.clip(rcore, 0, meta.n_cores - 1)]
    rg += cat("routes.axon")
    o = np.argsort(rg, kind="stable")
    extra = {"axon_global": gax, "route_axon_global": rg[o], "route_delay": cat("routes.delay")[o]}
    del rg
    axon_core, axon_src = rcore[o], route_src[o]
    del rcore, route_src, o
    count = cat("axons.syn_count").astype(np.int64, copy=False)
    if count.size and count.min() < 0:
        raise ImageError("a shard's axons.syn_count is negative (image edited; recompile)")
    syn_ptr = np.zeros(count.size + 1, np.int64)
    np.cumsum(count, out=syn_ptr[1:])
    syn_id = _concat_ranges(cat("axons.syn_first").astype(np.int64, copy=False), syn_ptr)
    sh = Shard(image=meta, cores=cores, nid=nid, neurons=neurons, neuron_core=nc,
               axon_core=axon_core, axon_proj=cat("axons.proj").astype(np.int32, copy=False), axon_src=axon_src,
               syn_ptr=syn_ptr, syn_id=syn_id,
               synapses={k.split(".", 1)[1]: cat(k) for k in ("synapses.post", "synapses.weight", "synapses.delay")},
               max_delay=1)
    sh.extra = extra
    return sh


@numba.njit(cache=True, nogil=True)
def _concat_ranges(first, ptr):
    """The concatenated ranges ``first[a] .. first[a] + ptr[a+1] - ptr[a] - 1`` (int64), written in place."""
    out = np.empty(ptr[-1], np.int64)
    for a in range(first.shape[0]):
        f = first[a]
        for k in range(ptr[a], ptr[a + 1]):
            out[k] = f + k - ptr[a]
    return out


@numba.njit(cache=True, nogil=True)
def _posts_off_their_axon_core(syn_ptr, post, axon_core, neuron_core):
    """The first synapse whose post neuron is not on its axon's core (or out of range), -1 if none."""
    N = neuron_core.shape[0]
    for a in range(syn_ptr.shape[0] - 1):
        for k in range(syn_ptr[a], syn_ptr[a + 1]):
            q = post[k]
            if q < 0 or q >= N or neuron_core[q] != axon_core[a]:
                return k
    return -1


def run_rank(image, steps: int, engine: str = "numba", progress=None, weight_every: int | None = None,
             comm=None, load=None, gather: bool = True) -> tuple[RawRun | dict | None, Image | None, ShardStats]:
    """This rank's part of a sharded run of ``image`` (an :class:`Image`, or a path ``load(path, rank, size)``
    reads this rank's :class:`Shard` from). Every rank reads its shard; if any rank fails (a missing file, a
    shard failing its checksum) every rank raises that rank's one-line error (collectively: no rank waits for
    one that stopped). An error after that (a rank dying, out of memory) aborts every rank (``MPI_Abort``):
    no hang. Returns (the whole run on rank 0, else None; the image metadata; this rank's stats); with
    ``gather=False`` every rank's own part instead of the whole run (:func:`emulate_shard`)."""
    comm = comm or SerialComm()
    sh, err = None, None
    try:
        if isinstance(image, Image):
            sh = shard_of(image, partition(image, comm.size) == comm.rank)
        else:
            sh = load(image, comm.rank, comm.size)
    except ImageError as e:
        err = str(e) if comm.size == 1 else f"rank {comm.rank}: {e}"
    errs = [e for e in comm.allgather(err) if e]
    if errs:
        raise ImageError(errs[0])
    try:
        raw, stats = emulate_shard(sh, steps, comm, engine, progress=progress, weight_every=weight_every,
                                   gather=gather)
    except BaseException as e:
        if comm.size == 1:
            raise
        sys.stderr.write(f"neuromap: error: rank {comm.rank} of {comm.size} stopped "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); stopping every rank\n")
        sys.stderr.flush()
        comm.abort(2)
        raise
    return raw, sh.image, stats
