"""The sharded emulator (emulator/sharded.py) on K = 1..4 ranks run as threads of this process
(tests/helpers/ranks.py): spikes in the same order, u/v traces, final state, per-core and per-link counters
and learned weights equal to the one-process run, on random multi-core images (delays, dendrite slots,
refractory neurons, explicit and Poisson inputs) and compiled plastic networks with Poisson inputs; the
partition and the exchange interval. Real MPI (mpiexec, the CLI): test_mpiexec.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emulator import emulate
from emulator.sharded import COST_NEURON_NS, COST_SYNAPSE_NS, partition, run_rank, shard_of
from neuromap.errors import ImageError
from neuromap.toolchain import compile_network
from tests.helpers.cli import run_cli
from tests.helpers.images import random_image
from tests.helpers.loihi_learning import net as loihi_stdp_net
from tests.helpers.mpi_nets import plastic_net
from tests.helpers.placement import small_target
from tests.helpers.ranks import assert_same_run, run_ranks


@pytest.mark.parametrize("seed", range(12))
def test_random_images_on_1_to_4_ranks_equal_one_process(seed):
    img = random_image(seed, max_delay=9, multapses=seed % 2 == 1)
    engine = "numpy" if seed % 4 == 3 else "numba"
    ref = emulate(img, 90, engine)
    assert ref.spikes.shape[0] > 0
    for K in (1, 2, 3, 4):
        got, stats = run_ranks(img, K, 90, engine)
        assert_same_run(ref, got)
        assert sum(s.neurons for s in stats) == img.n_neurons
        assert sum(s.synapses for s in stats) == img.n_synapses


@pytest.mark.parametrize("rule", ["homeostatic_stdp", "pool_stdp", "vogels_isp", "clopath"])
def test_plastic_networks_learn_on_the_post_rank_like_one_process(rule):
    img = compile_network(plastic_net(3, rule), small_target(max_neurons=4), placer="greedy").image
    assert img.n_cores >= 8
    ref = emulate(img, 150, weight_every=10)
    assert any(not np.array_equal(w[0], w[-1]) for w in ref.weights.values())   # weights learn
    for K in (1, 2, 3, 4):
        got, _ = run_ranks(img, K, 150, weight_every=10)
        assert_same_run(ref, got)


def test_exchange_every_min_delay_steps():
    """Deferred synapses (from another rank, or slotted) all of delay >= 4: spikes are exchanged once every
    4 steps and the run still equals one process."""
    img = random_image(7, max_delay=9)
    d = img.synapses["delay"]
    img = dataclasses.replace(img, synapses={**img.synapses, "delay": np.maximum(d, 4).astype(np.uint8)})
    ref = emulate(img, 100)
    for K in (2, 3):
        got, stats = run_ranks(img, K, 100)
        assert_same_run(ref, got)
        assert {s.interval for s in stats} == {4}
        assert stats[0].intervals == 25


def test_partition_gives_ranks_contiguous_chips_balanced_by_the_cost_model():
    img = compile_network(plastic_net(1, "homeostatic_stdp"), small_target(max_neurons=2), placer="greedy").image
    C = img.n_cores
    chips = (np.arange(C) // 2).astype(np.int32)[::-1].copy()          # two cores a chip, chips in reverse
    img = dataclasses.replace(img, cores={**img.cores, "chip": chips, "tile_x": chips, "tile_y": 0 * chips})
    per_core = (COST_SYNAPSE_NS * np.bincount(np.repeat(np.arange(C), np.diff(img.cores["axon_ptr"])),
                                              weights=np.diff(img.axons["syn_ptr"]), minlength=C)
                + COST_NEURON_NS * np.bincount(img.neurons["core"], minlength=C))
    per_chip = np.bincount(chips, weights=per_core)
    for K in (1, 2, 3, 5):
        owner = partition(img, K)
        assert owner.shape == (C,) and owner.min() >= 0 and owner.max() < K
        for c in range(chips.max() + 1):                                   # a chip is never split
            assert np.unique(owner[chips == c]).size == 1
        by_chip = np.array([owner[chips == c][0] for c in range(chips.max() + 1)])
        assert np.all(np.diff(by_chip) >= 0) and np.unique(by_chip).size == K   # contiguous runs, all used
        load = np.bincount(by_chip, weights=per_chip, minlength=K)
        assert load.max() - load.min() <= 2 * per_chip.max()                # balanced up to a chip or two


def test_a_shard_of_every_core_holds_the_whole_image():
    img = random_image(4)
    sh = shard_of(img, np.ones(img.n_cores, bool))
    assert np.array_equal(sh.nid, np.arange(img.n_neurons))
    assert np.array_equal(sh.syn_id, np.arange(img.n_synapses))


def test_one_rank_without_mpi_and_its_errors():
    img = random_image(1)
    raw, meta, stats = run_rank(img, 40)
    assert_same_run(emulate(img, 40), raw)
    assert stats.exchange_s >= 0 and stats.bytes_sent == 0
    with pytest.raises(ImageError, match="steps must be >= 0"):
        run_rank(img, -1)
    with pytest.raises(ImageError, match="unknown emulator engine"):
        run_rank(img, 5, engine="fast")


def test_run_ranks_refuses_other_backends(tmp_path, capsys):
    random_image(1).save(tmp_path / "img")
    code, out, err = run_cli(["run", tmp_path / "img", "--steps", 5, "--ranks", 2, "--backend", "lava"], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "MPI runs use the emulator backend" in err


def test_the_loihi_learning_engine_on_ranks_equals_one_process():
    """Lava's Loihi 2-factor engine (stochastic rounding draws per step) on 2 ranks of a 100+ core image."""
    img = compile_network(loihi_stdp_net("additive"), small_target(max_neurons=2), placer="greedy").image
    ref = emulate(img, 120, weight_every=20)
    assert any(not np.array_equal(w[0], w[-1]) for w in ref.weights.values())
    got, _ = run_ranks(img, 2, 120, weight_every=20)
    assert_same_run(ref, got)


@pytest.mark.parametrize("seed", [2, 5])
def test_a_rank_receives_only_the_spikes_of_neurons_reaching_its_cores(seed):
    """The targeted exchange: rank r receives, from every other rank that owns a neuron with a route into r's
    cores, one count per step and one entry per spike of those neurons, nothing else (4 bytes each)."""
    img = random_image(seed, max_delay=9)
    steps, K = 60, 3
    ref = emulate(img, steps)
    N = img.n_neurons
    per_src = np.bincount(ref.spikes[:, 1], minlength=N + img.n_inputs)
    owner = partition(img, K)
    route_src = np.repeat(np.arange(N + img.n_inputs), np.diff(img.routes["src_ptr"]))
    route_rank = owner[img.routes["core"]]
    src_rank = owner[img.neurons["core"]]
    _, stats = run_ranks(img, K, steps)
    for r in range(K):
        need = np.unique(route_src[(route_rank == r) & (route_src < N)])
        need = need[src_rank[need] != r]
        senders = np.unique(src_rank[need]).size
        assert stats[r].bytes_received == 4 * (senders * steps + int(per_src[need].sum()))
    assert sum(s.bytes_sent for s in stats) == sum(s.bytes_received for s in stats)


def _run_synapses(p):
    """Every delivery-run synapse as a row (source, delay, shift, post, add, slot), sorted."""
    run_src = np.repeat(np.arange(p.run_ptr.size - 1), np.diff(p.run_ptr))
    per_run = np.diff(p.run_syn)
    packed = p.run_packed.astype(np.int64)
    rows = np.stack([np.repeat(run_src, per_run), np.repeat(p.run_delay, per_run), np.repeat(p.run_shift, per_run),
                     np.repeat(p.run_post_base, per_run) + (packed & 0xFFFF), packed >> 16,
                     p.run_slot.astype(np.int64) if p.run_slot.size else np.full(packed.size, -1)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("seed", range(6))
def test_delivery_runs_hold_the_synapses_flatten_holds(seed):
    """sharded.delivery_runs (built per source) against emulator.program.flatten: the same synapses (delay,
    shift, post, weight, slot) under every source, runs of one (delay, shift) with posts ascending within 2**16
    of their base, the same slotted counts per source."""
    from emulator.program import flatten, prepare
    from emulator.sharded import delivery_runs

    p = prepare(random_image(seed, max_delay=9, multapses=seed % 2 == 1))
    a, b = flatten(p), delivery_runs(p)
    assert np.array_equal(_run_synapses(a), _run_synapses(b))
    assert np.array_equal(a.src_notes, b.src_notes)
    off = b.run_packed.astype(np.int64) & 0xFFFF
    for j in range(b.run_syn.size - 1):
        o = off[b.run_syn[j]:b.run_syn[j + 1]]
        assert o.size and o[0] == 0 and np.all(np.diff(o) >= 0)


@pytest.mark.parametrize("pack_keys", [True, False])
def test_delivery_runs_cut_where_posts_leave_16_bits(pack_keys):
    from emulator.sharded import _runs_of_sources

    i64 = lambda *x: np.array(x, np.int64)  # noqa: E731
    post = np.array([140000, 0, 65536, 65535, 7], np.int32)
    delay = np.array([1, 1, 1, 1, 2], np.uint8)
    add = np.array([1, -2, 3, 4, 5], np.int16)
    src, first, d, sh, base, packed, slot, notes = _runs_of_sources(
        i64(0, 1), i64(0), i64(0, 5), post, delay, add, np.zeros(0, np.int32), i64(), i64(0, 5), pack_keys)
    assert src.tolist() == [0, 0, 0, 0] and first.tolist() == [0, 2, 3, 4]
    assert d.tolist() == [1, 1, 1, 2] and sh.tolist() == [0, 0, 0, 0] and base.tolist() == [0, 65536, 140000, 7]
    p = packed.astype(np.int64)
    assert (p & 0xFFFF).tolist() == [0, 65535, 0, 0, 0] and (p >> 16).tolist() == [-2, 4, 3, 1, 5]
    assert slot.size == 0 and notes.tolist() == [0]


def _keyed_runs(p):
    """:func:`_run_synapses` with each dendrite slot named by its (post, delay), not its number."""
    rows = _run_synapses(p)
    slot = rows[:, 5]
    named = np.full((slot.size, 2), -1, np.int64)
    named[slot >= 0] = np.stack([p.slot_post[slot[slot >= 0]], p.slot_delay[slot[slot >= 0]]], axis=1)
    rows = np.concatenate([rows[:, :5], named], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("seed", range(6))
def test_runs_built_from_the_shard_equal_the_prepared_programs_runs(seed):
    """rank_programs(runs=True) (delivery runs straight from the shard's synapses, no image-order program)
    against delivery_runs of the prepared programs: the same synapses under every source (delay, shift, post,
    weight, dendrite slot), the same routes, neuron constants, inputs and smallest deferred delay."""
    from emulator.sharded import delivery_runs, rank_programs

    img = random_image(seed, max_delay=9, multapses=seed % 2 == 1)
    slotted = 0
    for K in (1, 2, 3):
        owner = partition(img, K)
        for r in range(K):
            sh = shard_of(img, owner == r)
            a, b = rank_programs(sh), rank_programs(sh, runs=True)
            assert a.min_delay == b.min_delay and np.array_equal(a.dsrc, b.dsrc)
            for x, y in ((delivery_runs(a.local), b.local), (delivery_runs(a.deferred), b.deferred)):
                assert np.array_equal(_keyed_runs(x), _keyed_runs(y))
                assert np.array_equal(x.src_notes, y.src_notes)
                assert np.array_equal(x.src_ptr, y.src_ptr) and np.array_equal(x.src_core, y.src_core)
                assert np.array_equal(x.route_core, y.route_core)
                for f in ("vth", "bias", "decay_u", "decay_v", "u_init", "v_init", "ref_period", "spike_step",
                          "spike_index", "poisson_ids", "poisson_p"):
                    assert np.array_equal(getattr(x, f), getattr(y, f)), f
                assert y.syn_post.size == 0 and y.route_axon.size == 0         # no image-order synapse arrays
                slotted += int(np.count_nonzero(y.run_shift))
            assert b.local.run_slot.size == 0
    assert slotted > 0 or seed % 3                # some of these images hold slotted (weight_exp < 0) synapses
