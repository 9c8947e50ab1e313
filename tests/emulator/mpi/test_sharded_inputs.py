"""Inputs generated on the ranks that own them (emulator.sharded.input_owners, docs/scale-out.md): with
per-input Poisson streams (``per_input_v2``) a rank draws exactly the inputs reaching its cores (rank 0 also
those reaching nobody), each input is recorded by one rank, and the run equals one process for K = 1..3 (both
engines, gathered and per-rank results); an image of the sequential stream (an older image) is replayed whole by
every rank, also equal to one process. Ranks run as threads (tests/helpers/ranks.py); real mpiexec: test_mpiexec.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emulator import _image_probe, emulate, sharded
from emulator.sharded import merge_parts, partition, plastic_projections
from neuromap.poisson_stream import PER_INPUT, SEQUENTIAL
from neuromap.toolchain import compile_network
from tests.helpers.mpi_nets import poisson_net
from tests.helpers.placement import small_target
from tests.helpers.ranks import assert_same_run, run_ranks


@pytest.fixture(scope="module")
def images():
    """Two compiled networks of many Poisson inputs on 8 + small cores (per-input streams, as compiled)."""
    return [compile_network(poisson_net(s), small_target(max_neurons=3), placer="greedy").image for s in (1, 2)]


def _needs(img, owner: np.ndarray, K: int) -> np.ndarray:
    """bool (K, I): rank r has a route entry of input i into one of its cores (from the image's routes)."""
    N, I = img.n_neurons, img.n_inputs
    sp = img.routes["src_ptr"]
    need = np.zeros((K, I), bool)
    for i in range(I):
        need[owner[img.routes["core"][sp[N + i]:sp[N + i + 1]]], i] = True
    return need


@pytest.mark.parametrize("kind", [PER_INPUT, SEQUENTIAL])
def test_ranks_equal_one_process_with_either_stream(images, kind, monkeypatch):
    seen = {}
    real = sharded.input_owners

    def spy(sh, rp, comm):
        seen[comm.rank] = real(sh, rp, comm)
        return seen[comm.rank]

    monkeypatch.setattr(sharded, "input_owners", spy)
    for k, img in enumerate(images):
        img = dataclasses.replace(img, poisson_stream=kind)
        assert img.n_cores >= 8
        engine = ("numba", "numpy")[k]
        steps = 120
        ref = emulate(img, steps, engine)
        assert (ref.spikes[:, 1] >= img.n_neurons).sum() > steps * 5        # input events are in the output
        for K in (1, 2, 3):
            seen.clear()
            got, _ = run_ranks(img, K, steps, engine)
            assert_same_run(ref, got)
            parts, _ = run_ranks(img, K, steps, engine, gather=False)           # per-rank results, merged
            assert_same_run(ref, merge_parts(parts, steps, img.n_neurons, img.n_cores, plastic_projections(img),
                                             _image_probe(img)))
            need = _needs(img, partition(img, K), K)
            nobody = ~need.any(axis=0)
            assert nobody.sum() >= 3                                         # "idle" reaches nobody
            recorded = np.stack([seen[r][1].astype(bool) for r in range(K)])
            assert np.array_equal(recorded.sum(axis=0), np.ones(img.n_inputs))   # each input: one recorder
            for r in range(K):
                keep = seen[r][0]
                if kind == SEQUENTIAL:
                    assert keep is None and recorded[r].all() == (r == 0)   # every rank draws all, rank 0 records
                    continue
                assert np.array_equal(keep, need[r] | (nobody & (r == 0))), (K, r)
                first = np.argmax(need | np.eye(K, dtype=bool)[:, :1] & nobody, axis=0)
                assert np.array_equal(recorded[r], first == r)
            if kind == PER_INPUT and K > 1:
                assert not any(seen[r][0].all() for r in range(K))          # no rank draws every input
