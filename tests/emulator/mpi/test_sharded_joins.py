"""Sharded runs of images with dendrite compartments (``neurons.join_parent``): a join is core-local (every placer
keeps it on one core) and a rank owns whole cores, so the joined update runs inside one rank. K = 1, 2, 3 ranks
(threads of this process, tests/helpers/ranks.py) equal the one-process run bit for bit; also with the
Urbanczik-Senn engine ``loihi3f_us``, which reads the somas' v (on the post's rank, as the join)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emulator import emulate
from emulator.sharded import partition
from neuromap.errors import ImageError
from neuromap.toolchain import compile_network
from tests.helpers.joined_nets import joined_net, urbanczik_net
from tests.helpers.placement import small_target
from tests.helpers.ranks import run_ranks


@pytest.mark.parametrize("seed", range(4))
def test_joined_images_on_ranks_equal_one_process(seed):
    img = compile_network(joined_net(seed, poisson=seed % 2 == 1), small_target(max_neurons=3 + seed % 3,
                                                                                 max_input_axons=40),
                          placer="greedy").image
    jp = img.neurons["join_parent"].astype(np.int64)
    d = np.flatnonzero(jp >= 0)
    owner = partition(img, 2)
    core = img.neurons["core"].astype(np.int64)
    assert len(set(owner[core[d]].tolist())) == 2              # dendrites on both ranks: not vacuous
    steps = 60
    ref = emulate(img, steps, "numba", probe=np.arange(img.n_neurons))
    assert np.any(ref.v[:, d])
    for K in (1, 2, 3):
        got, _ = run_ranks(img, K, steps, "numba", probe=np.arange(img.n_neurons))
        assert np.array_equal(ref.spikes, got.spikes)
        assert np.array_equal(ref.u, got.u) and np.array_equal(ref.v, got.v)
        assert np.array_equal(ref.final_u, got.final_u) and np.array_equal(ref.final_v, got.final_v)
        assert np.array_equal(ref.core_spikes, got.core_spikes)
        assert np.array_equal(ref.link_spikes, got.link_spikes)


def test_urbanczik_learning_reading_the_somas_v_on_ranks_equals_one_process():
    img = compile_network(urbanczik_net(3), small_target(max_neurons=2), placer="greedy").image
    assert any((p.learning or {}).get("engine") == "loihi3f_us" for p in img.projections)
    d = np.flatnonzero(img.neurons["join_parent"].astype(np.int64) >= 0)
    core = img.neurons["core"].astype(np.int64)
    assert len(set(partition(img, 3)[core[d]].tolist())) == 3        # a dendrite (and its soma) on every rank
    steps, probe = 400, np.arange(img.n_neurons)
    ref = emulate(img, steps, "numpy", weight_every=50, probe=probe)
    assert any(not np.array_equal(w[0], w[-1]) for w in ref.weights.values())     # weights learn
    for K in (1, 2, 3):
        got, _ = run_ranks(img, K, steps, "numpy", weight_every=50, probe=probe)
        assert np.array_equal(ref.spikes, got.spikes)
        assert np.array_equal(ref.u, got.u) and np.array_equal(ref.v, got.v)
        assert np.array_equal(ref.weight_steps, got.weight_steps) and sorted(ref.weights) == sorted(got.weights)
        for k in ref.weights:
            assert np.array_equal(ref.weights[k], got.weights[k])


def test_urbanczik_learning_on_ranks_needs_dendrite_posts():
    img = compile_network(urbanczik_net(4, n_post=2), small_target(max_neurons=2), placer="greedy").image
    nu = {k: v for k, v in img.neurons.items() if k != "join_parent"}
    with pytest.raises(ImageError, match="loihi3f_us needs post neurons that are dendrite compartments"):
        run_ranks(dataclasses.replace(img, neurons=nu), 2, 5, "numpy")
