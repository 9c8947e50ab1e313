"""Lava backend: images built directly (random, hand-made) run bit-identically in Lava fixed_pt and the emulator.

Each Lava run spawns one OS process per Lava process and costs seconds, so every random image holds
several populations and projections (one run per image); the random images are
``tests.helpers.images.random_image``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.lava.compat import lava_available
from backends.lava.plan import input_raster, plan_image
from neuromap.errors import ImageError
from neuromap.image import Image, ProjectionMap
from tests.helpers.images import random_image


# ------------------------------------------------------------------ pure-numpy planning (no Lava)
@given(st.integers(0, 2 ** 32 - 1), st.booleans())
@settings(max_examples=40, deadline=None)
def test_plan_preserves_every_synapse(seed, multapses):
    """Every routed synapse lands in exactly one connection entry with its weight and delay - 1."""
    img = random_image(seed, multapses=multapses)
    img.verify()
    plan = plan_image(img)
    got = []
    for c in plan.connections:
        pre_ids = (plan.groups[c.pre].neurons if c.pre_kind == "neuron" else img.n_neurons + plan.inputs[c.pre].inputs)
        post_ids = plan.groups[c.post].neurons
        assert np.all(np.diff(c.rows) >= 0)
        assert np.unique(c.rows * c.shape[1] + c.cols).size == c.rows.size   # one weight per matrix entry
        for r, q, w, d in zip(c.rows, c.cols, c.weights, c.delays):
            got.append((c.proj, int(pre_ids[q]), int(post_ids[r]), int(d) + 1, int(w)))
    want = []
    for s in range(img.n_neurons + img.n_inputs):
        for r in range(img.routes["src_ptr"][s], img.routes["src_ptr"][s + 1]):
            g = img.cores["axon_ptr"][img.routes["core"][r]] + img.routes["axon"][r]
            for y in range(img.axons["syn_ptr"][g], img.axons["syn_ptr"][g + 1]):
                want.append((int(img.axons["proj"][g]), s, int(img.synapses["post"][y]),
                             int(img.synapses["delay"][y]), int(img.synapses["weight"][y])))
    merged = {}
    for k, s, p, d, w in want:   # merged multapses: same (projection, pre, post, delay) may be summed
        merged.setdefault((k, s, p, d), []).append(w)
    got_m = {}
    for k, s, p, d, w in got:
        got_m.setdefault((k, s, p, d), []).append(w)
    assert set(got_m) == set(merged)
    for key, ws in merged.items():
        assert sum(got_m[key]) == sum(ws)
    for g in plan.groups:     # one du/dv/vth per LIF
        for x in ("du", "dv", "vth"):
            assert np.all(img.neurons[x][g.neurons] == getattr(g, x))
    assert np.array_equal(np.sort(np.concatenate([g.neurons for g in plan.groups])), np.arange(img.n_neurons))


def test_input_raster_replays_the_image_schedule():
    img = random_image(7)
    img.inputs["poisson_p"] = np.array([np.nan] * (img.n_inputs - 1) + [0.5])
    plan = plan_image(img)
    r = input_raster(plan, 30)
    from tests.oracles.poisson import documented_stream
    assert np.array_equal(r[:, -1], documented_stream([0.5], img.seed, 30)[:, 0])
    st_, ix = img.inputs["spike_step"], img.inputs["spike_index"]
    explicit = np.zeros((30, img.n_inputs), bool)
    explicit[st_[st_ < 30], ix[st_ < 30]] = True
    assert np.array_equal(r[:, :-1], explicit[:, :-1])


def test_floor_split_and_duplicate_inputs_are_refused():
    img = random_image(4, n_pops=1, n_proj=0)
    pm = img.populations[0]
    img.neurons["du"][pm.start] = (int(img.neurons["du"][pm.start]) + 1) % 4096   # 2 LIF processes
    # projection p0 -> p0, weight_exp -1, every neuron onto neuron 0
    n = pm.size
    img.projections = [ProjectionMap("j", "p0", "p0", weight_exp=-1, num_weight_bits=8, sign_mode="mixed")]
    img.cores = {"kind": np.zeros(1, np.int8), "axon_ptr": np.array([0, n], np.int64)}
    img.neurons["core"][:] = 0
    img.neurons["slot"] = np.arange(n, dtype=np.int32)
    img.axons = {"proj": np.zeros(n, np.int32), "syn_ptr": np.arange(n + 1, dtype=np.int64)}
    img.synapses = {"post": np.zeros(n, np.int32), "weight": np.full(n, 6, np.int16), "delay": np.ones(n, np.uint8)}
    I = img.n_inputs
    img.routes = {"src_ptr": np.concatenate([np.arange(n + 1), np.full(I, n)]).astype(np.int64),
                  "core": np.zeros(n, np.int32), "axon": np.arange(n, dtype=np.int32), "delay": np.zeros(n, np.uint8)}
    img.verify()
    assert n > 1
    with pytest.raises(ImageError, match="weight_exp -1 < 0"):
        plan_image(img)
    img.projections[0].weight_exp = 1
    plan_image(img)
    img.inputs["spike_step"] = np.array([4, 4], np.int64)
    img.inputs["spike_index"] = np.array([0, 0], np.int32)
    with pytest.raises(ImageError, match="input 0 spikes twice at step 4"):
        plan_image(img)


def test_plastic_projections_without_a_lava_engine_are_refused_not_run_static():
    img = random_image(6)
    img.projections[0].learning = {"engine": "nope"}   # loihi and the seed rules run (tests/learning/test_lava_seed_rules.py)
    with pytest.raises(ImageError, match="learning engine 'nope' is unknown"):
        plan_image(img)


def test_other_core_kinds_are_refused():
    img = random_image(5)
    img.core_kinds = ["loihi_lif", "truenorth"]
    img.cores["kind"][:] = 1
    with pytest.raises(ImageError, match="cannot run core kind"):
        plan_image(img)


# ------------------------------------------------------------------ Lava runs
lava = pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")


def emulator_raw(img: Image, steps: int, probe: np.ndarray, engine: str = "numpy"):
    from emulator import emulate
    return emulate(img, steps, engine, probe=probe)


def assert_identical(img: Image, steps: int, engine: str = "numpy") -> None:
    from backends.lava.run import run_lava_raw
    lv = run_lava_raw(img, steps)
    probe = np.union1d(lv.probe_u, lv.probe_v)
    em = emulator_raw(img, steps, probe, engine)
    ev = lv.events()
    if not np.array_equal(ev, em.spikes):
        n = min(len(ev), len(em.spikes))
        k = int(np.argmax(np.any(ev[:n] != em.spikes[:n], axis=1))) if n else 0
        raise AssertionError(f"spikes differ at event {k}: lava {ev[k:k + 3].tolist()} emulator "
                             f"{em.spikes[k:k + 3].tolist()} (counts {len(ev)} vs {len(em.spikes)})")
    for var, ids, tr in (("u", lv.probe_u, lv.u), ("v", lv.probe_v, lv.v)):
        want = (em.u if var == "u" else em.v)[:, np.searchsorted(probe, ids)]
        assert np.array_equal(tr, want), f"{var} differs"
    return lv


@pytest.mark.lava
@lava
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["dense", "sparse", None]), st.booleans())
def test_random_images_run_identically_in_lava(seed, storage, multapses):
    img = random_image(seed, n_pops=4, n_proj=7, storage=storage, multapses=multapses)
    lv = assert_identical(img, 40)
    assert lv.spikes.shape == (40, img.n_neurons)


@pytest.mark.lava
@pytest.mark.slow
@lava
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["dense", "sparse", None]), st.booleans())
def test_random_images_run_identically_in_lava_sweep(seed, storage, multapses):
    assert_identical(random_image(seed, n_pops=5, n_proj=9, max_size=20, max_delay=64, storage=storage,
                                  multapses=multapses), 60)
