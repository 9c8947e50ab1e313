"""emulator.program.prepare_runs (the numba engine's program straight from the image, no image-order copies),
the dendrite slots of emulator.program.prepare, and emulate(..., record_inputs=False)."""
import dataclasses

import numpy as np
import pytest

from emulator import emulate
from emulator.program import flatten, prepare, prepare_runs
from tests.helpers.images import random_image

RUN_FIELDS = ("run_ptr", "run_syn", "run_delay", "run_shift", "run_post_base", "run_packed", "run_slot", "src_notes",
              "slot_post", "slot_delay", "slot_shift", "src_ptr", "src_core", "route_core")


@pytest.mark.parametrize("seed", range(24))
def test_prepare_runs_equals_flatten_of_prepare(seed):
    """The same delivery runs, slots and link tables as ``flatten(prepare(image))``, whatever the block size."""
    img = random_image(seed, multapses=seed % 2 == 0)
    block = 1 + (seed % 5) * 7
    a, b = flatten(prepare(img), block_synapses=block), prepare_runs(img, block_synapses=block)
    for f in RUN_FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for f in ("vth", "bias", "decay_u", "decay_v", "ref_period", "u_init", "v_init", "neuron_core", "poisson_p"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert (a.ring_len, a.n_neurons, a.n_inputs, a.n_cores, a.refractory) == (
        b.ring_len, b.n_neurons, b.n_inputs, b.n_cores, b.refractory)


@pytest.mark.parametrize("seed", range(8))
def test_prepare_runs_holds_no_image_order_copies(seed):
    """Per synapse only the packed runs (int32) and their slots (int32); the link table is the image's own
    ``routes.core`` (shared memory, no copy); the route-walk arrays are empty."""
    img = random_image(seed)
    p = prepare_runs(img)
    assert p.run_packed.dtype == np.int32 and p.run_slot.dtype == np.int32
    assert np.shares_memory(p.route_core, img.routes["core"])
    for f in ("route_axon", "syn_ptr", "axon_delay", "axon_slotted", "syn_post", "syn_delay", "syn_add", "syn_slot"):
        assert getattr(p, f).size == 0, f
    n_syn = int(p.run_syn[-1])
    per_syn = p.run_packed.nbytes + p.run_slot.nbytes
    assert per_syn <= 8 * n_syn
    small = sum(v.nbytes for k, v in vars(p).items() if isinstance(v, np.ndarray)
                and k not in ("run_packed", "run_slot", "route_core"))
    n_runs, n_src = p.run_delay.size, p.n_neurons + p.n_inputs
    assert small <= 8 * (6 * n_runs + 20 * n_src + 4 * p.slot_post.size) + 4096


@pytest.mark.parametrize("seed", range(16))
def test_dendrite_slots_one_per_projection_post_delay(seed):
    """Oracle from the definition: one slot per distinct (projection, post, delay) of the synapses of projections
    with weight_exp < 0, its post, delay and shift -weight_exp; direct synapses have none."""
    img = random_image(seed)
    p = prepare(img)
    ax, sy = img.axons, img.synapses
    proj = np.repeat(ax["proj"].astype(np.int64), np.diff(ax["syn_ptr"].astype(np.int64)))
    exp = np.array([pm.weight_exp for pm in img.projections], np.int64)[proj] if proj.size else proj
    slotted = exp < 0
    if not slotted.any():
        assert p.syn_slot.size == 0 and p.slot_post.size == 0
        return
    assert np.all(p.syn_slot[~slotted] == -1) and np.all(p.syn_slot[slotted] >= 0)
    triples = {(int(j), int(q), int(d)) for j, q, d in zip(proj[slotted], sy["post"][slotted], sy["delay"][slotted])}
    assert p.slot_post.size == len(triples)
    seen = {}
    for k in np.flatnonzero(slotted):
        key = (int(proj[k]), int(sy["post"][k]), int(sy["delay"][k]))
        assert seen.setdefault(key, int(p.syn_slot[k])) == p.syn_slot[k]
    assert len(set(seen.values())) == len(seen)                   # distinct triples, distinct slots
    for (j, q, d), k in seen.items():
        assert (p.slot_post[k], p.slot_delay[k], p.slot_shift[k]) == (q, d, -img.projections[j].weight_exp)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("seed", range(6))
def test_record_inputs_false_keeps_the_neuron_rows(engine, seed):
    """record_inputs=False: the neurons' rows of the full run, in order; same state and traffic counters."""
    img = random_image(seed)
    full = emulate(img, 37, engine=engine, threads=1)
    part = emulate(img, 37, engine=engine, threads=1, record_inputs=False)
    assert np.array_equal(part.spikes, full.spikes[full.spikes[:, 1] < img.n_neurons])
    for f in ("u", "v", "core_spikes", "link_spikes", "final_u", "final_v"):
        assert np.array_equal(getattr(part, f), getattr(full, f)), f


def test_record_inputs_false_across_chunks(monkeypatch):
    """Chunks compacted one by one (a short chunk budget: many chunks) give the same rows."""
    import emulator as emu
    img = random_image(3)
    full = emulate(img, 50, threads=1)
    monkeypatch.setattr(emu, "_CHUNK_BUDGET", 1)
    part = emulate(img, 50, threads=1, record_inputs=False)
    assert np.array_equal(part.spikes, full.spikes[full.spikes[:, 1] < img.n_neurons])
    assert np.array_equal(part.link_spikes, full.link_spikes)


def test_prepare_runs_program_runs_like_the_image():
    """emulate(prepare_runs(image)) == emulate(image) == the numpy engine on prepare(image)."""
    img = random_image(5)
    a = emulate(prepare_runs(img), 40, threads=1)
    b = emulate(img, 40, engine="numpy")
    for f in ("spikes", "core_spikes", "link_spikes", "final_u", "final_v"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    two = emulate(dataclasses.replace(prepare_runs(img)), 40, threads=2)
    assert np.array_equal(two.spikes, a.spikes)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_link_counters_false(engine):
    """link_counters=False: an empty (0, 0) link table, everything else as the counted run; the numba static
    run's state never holds the (C+1) x C table."""
    img = random_image(7)
    full = emulate(img, 30, engine=engine, threads=1)
    bare = emulate(img, 30, engine=engine, threads=1, link_counters=False, record_inputs=False)
    assert bare.link_spikes.shape == (0, 0) and full.link_spikes.shape == (img.n_cores + 1, img.n_cores)
    assert full.link_spikes.sum() > 0
    assert np.array_equal(bare.spikes, full.spikes[full.spikes[:, 1] < img.n_neurons])
    for f in ("u", "v", "core_spikes", "final_u", "final_v"):
        assert np.array_equal(getattr(bare, f), getattr(full, f)), f
