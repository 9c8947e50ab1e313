"""Ranks in one process for tests of the sharded emulator (:mod:`emulator.sharded`): ``run_ranks(image, K, ...)``
runs K ranks as threads (the numba kernels release the GIL) over :class:`ThreadComm`, an in-memory transport
with the collectives of :class:`emulator.sharded.SerialComm`; the real MPI runs are in
tests/emulator/mpi/test_mpiexec.py."""
from __future__ import annotations

import queue
import threading

import numpy as np

from emulator.sharded import emulate_shard, partition, shard_of


class _Hub:
    def __init__(self, size: int):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=120)
        self.slots: list = [None] * size
        self.boxes = {(a, b): queue.Queue() for a in range(size) for b in range(size)}   # (from, to) messages


class ThreadComm:
    """Rank ``rank`` of ``hub.size`` threads; every collective is a barrier-separated exchange of Python objects."""

    def __init__(self, hub: _Hub, rank: int):
        self.hub, self.rank, self.size = hub, rank, hub.size

    def allgather(self, obj):
        self.hub.barrier.wait()
        self.hub.slots[self.rank] = obj
        self.hub.barrier.wait()
        out = list(self.hub.slots)
        self.hub.barrier.wait()
        return out

    def alltoall(self, objs):
        return [row[self.rank] for row in self.allgather(list(objs))]

    def exchange(self, sends, sources):
        for d, a in sends.items():
            self.hub.boxes[(self.rank, int(d))].put(np.ascontiguousarray(a, np.int32).copy())
        return [self.hub.boxes[(int(r), self.rank)].get(timeout=120) for r in sources]

    def flush(self):
        pass

    def gather_array(self, a, out=None):
        parts = self.allgather(np.ascontiguousarray(a, np.int32).copy())
        if self.rank != 0:
            return None
        rest = np.concatenate(parts[1:] + [np.zeros(0, np.int32)])
        assert out is not None and out.shape == rest.shape       # sized by the counts gathered before
        out[:] = rest
        return out

    def gather(self, obj):
        parts = self.allgather(obj)
        return parts if self.rank == 0 else None

    def gather_int64(self, a):
        parts = self.allgather(np.ascontiguousarray(a, np.int64).copy())
        return parts if self.rank == 0 else None

    def allreduce_min(self, x):
        return min(self.allgather(x))

    def abort(self, code):
        self.hub.barrier.abort()
        raise SystemExit(code)


def run_ranks(image, K: int, steps: int, engine: str = "numba", probe=None, weight_every=None, gather: bool = True,
              then=None):
    """The sharded run of ``image`` on K in-process ranks: (rank 0's RawRun, every rank's ShardStats). With
    ``gather=False``: (every rank's part, every rank's ShardStats); ``then(part, comm)``, if given, runs on every
    rank after its part (e.g. writing it) and its return values replace the parts."""
    owner = partition(image, K)
    hub = _Hub(K)
    results: list = [None] * K
    errors: list = []

    def one(r):
        try:
            comm = ThreadComm(hub, r)
            raw, stats = emulate_shard(shard_of(image, owner == r), steps, comm, engine, probe,
                                       weight_every=weight_every, gather=gather)
            results[r] = (raw if then is None else then(raw, comm), stats)
        except BaseException as e:      # noqa: BLE001 - re-raised below in the calling thread
            errors.append(e)
            hub.barrier.abort()

    threads = [threading.Thread(target=one, args=(r,)) for r in range(K)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if gather and then is None:
        return results[0][0], [s for _, s in results]
    return [x for x, _ in results], [s for _, s in results]


def assert_same_run(a, b):
    """Two :class:`emulator.RawRun` hold the same integers: spikes in the same order, traces, final state,
    counters, recorded weights."""
    assert np.array_equal(a.spikes, b.spikes)                 # same spikes in the same order
    assert np.array_equal(a.probe, b.probe)
    assert np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.final_u, b.final_u) and np.array_equal(a.final_v, b.final_v)
    assert np.array_equal(a.core_spikes, b.core_spikes)
    assert np.array_equal(a.link_spikes, b.link_spikes)
    assert np.array_equal(a.weight_steps, b.weight_steps)
    assert sorted(a.weights) == sorted(b.weights)
    for k in a.weights:
        assert np.array_equal(a.weights[k], b.weights[k])


def assert_same_results(a, b):
    """Two :class:`backends.emulator.Results` hold the same arrays (what the results file holds)."""
    assert a.steps == b.steps and a.meta == b.meta
    for var in ("spikes", "u", "v", "neurons", "weights", "readout"):
        x, y = getattr(a, var), getattr(b, var)
        assert sorted(x) == sorted(y), var
        for k in x:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), \
                (var, k)
    for var in ("core_spikes", "link_spikes", "weight_steps"):
        assert np.array_equal(getattr(a, var), getattr(b, var)), var
