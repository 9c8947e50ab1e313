"""Lava backend: images built directly (random, hand-made) run bit-identically in Lava fixed_pt and the emulator.

Each Lava run spawns one OS process per Lava process and costs seconds, so every random image holds
several populations and projections (one run per image). ``random_image`` is shared with the other
Lava-backend tests.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.lava.compat import lava_available
from backends.lava.plan import input_raster, plan_image
from neuromap.errors import ImageError
from neuromap.image import Image, PopulationMap, ProbeMap, ProjectionMap, encode_weights

EDGE_DECAY = [0, 1, 2048, 4094, 4095]


def random_image(seed: int, n_pops: int = 3, n_proj: int = 5, max_size: int = 10, max_delay: int = 6,
                 storage: str | None = None, multapses: bool = False) -> Image:
    """A random ``loihi_lif`` image built like the compiler lays images out (cores, axons per
    (core, projection, source), routes), with explicit and Poisson inputs, edge-case parameters,
    delays, every sign mode / bit width / weight exponent. ``multapses`` adds repeated (pre, post)
    synapses to projections with ``weight_exp >= 0``. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    C = int(rng.integers(1, 4))
    pops, nu = [], {k: [] for k in ("core", "du", "dv", "vth", "bias_mant", "bias_exp", "u_init", "v_init")}
    uniform = {}
    start = 0
    for k in range(n_pops):
        size = int(rng.integers(1, max_size + 1))
        pops.append(PopulationMap(f"p{k}", "neuron", "loihi_lif", start, size))
        start += size
        uniform[f"p{k}"] = bool(rng.random() < 0.85)
        one = lambda choices, lo, hi: (int(rng.choice(choices)) if rng.random() < 0.5  # noqa: E731
                                       else int(rng.integers(lo, hi + 1)))
        for key, (choices, lo, hi) in {"du": (EDGE_DECAY, 0, 4095), "dv": (EDGE_DECAY, 0, 4095),
                                       "vth": ([0, 1, 131071], 0, 400)}.items():
            # a non-uniform population mixes two parameter sets (two LIF processes)
            two = [one(choices, lo, hi), one(choices, lo, hi)]
            nu[key].append(np.full(size, two[0]) if uniform[f"p{k}"] else np.array(two)[rng.integers(0, 2, size)])
        nu["core"].append(rng.integers(0, C, size))
        nu["bias_mant"].append(rng.integers(-4096, 4096, size) if rng.random() < 0.5
                               else np.full(size, rng.choice([-4096, 0, 50, 4095])))
        nu["bias_exp"].append(rng.integers(0, 8, size))
        big = 2 ** 23
        nu["u_init"].append(rng.choice([0, -big + 1, big - 1, 1000], size))
        nu["v_init"].append(rng.choice([0, -big + 1, big - 1, 1000], size))
    N = start
    n_exp, n_poi = int(rng.integers(1, 6)), int(rng.integers(0, 4))
    pops.append(PopulationMap("inp", "input", "spike_source", 0, n_exp))
    if n_poi:
        pops.append(PopulationMap("poi", "input", "poisson", n_exp, n_poi))
    I = n_exp + n_poi
    ev = [(int(t), i) for i in range(n_exp) for t in np.unique(rng.integers(0, 40, rng.integers(0, 15)))]
    ev.sort()
    poisson_p = np.concatenate([np.full(n_exp, np.nan), rng.uniform(0, 0.5, n_poi)])
    neurons = {k: np.concatenate(v) for k, v in nu.items()}
    # projections -> synapse lists (source id, post, weight, delay, projection)
    src_ids = {p.name: (np.arange(p.size) + (p.start if p.kind == "neuron" else N + p.start)) for p in pops}
    neuron_pops = [p for p in pops if p.kind == "neuron"]
    projections, syn = [], []
    for k in range(n_proj):
        pre = pops[int(rng.integers(len(pops)))]
        post = neuron_pops[int(rng.integers(len(neuron_pops)))]
        mode = str(rng.choice(["mixed", "excitatory", "inhibitory"]))
        bits = int(rng.integers(1, 9))
        wexp = int(rng.integers(-8, 8))
        if pre.kind == "neuron" and not uniform[pre.name]:
            wexp = abs(wexp) % 8       # split sources: floor would not distribute
        projections.append(ProjectionMap(f"j{k}", pre.name, post.name, weight_exp=wexp, num_weight_bits=bits,
                                         sign_mode=mode, storage=storage or str(rng.choice(["dense", "sparse"]))))
        lo, hi = {"mixed": (-400, 400), "excitatory": (0, 400), "inhibitory": (-400, 0)}[mode]
        mask = rng.random((pre.size, post.size)) < rng.uniform(0.2, 1.0)
        a, b = np.nonzero(mask)
        if multapses and wexp >= 0 and a.size:
            extra = rng.integers(0, a.size, max(1, a.size // 3))
            a, b = np.concatenate([a, a[extra]]), np.concatenate([b, b[extra]])
        w = encode_weights(rng.integers(lo, hi + 1, a.size), mode, bits)
        d = np.ones(a.size, int) if rng.random() < 0.4 else rng.integers(1, max_delay + 1, a.size)
        for i, j, ww, dd in zip(a, b, w, d):
            syn.append((int(src_ids[pre.name][i]), post.start + int(j), int(ww), int(dd), k))
    # axons: one per (destination core, projection, source), sorted by core; synapses sorted by post
    axons: dict[tuple[int, int, int], list] = {}
    for s, post, w, d, k in syn:
        axons.setdefault((int(neurons["core"][post]), k, s), []).append((post, w, d))
    keys = sorted(axons)
    cores_of = np.array([c for c, _, _ in keys], np.int64)
    axon_ptr = np.searchsorted(cores_of, np.arange(C + 1))
    rows = [sorted(axons[key]) for key in keys]
    syn_ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    flat = [x for r in rows for x in r]
    routes = sorted((s, c, ax - axon_ptr[c]) for ax, (c, _, s) in enumerate(keys))
    src_ptr = np.searchsorted(np.array([r[0] for r in routes], np.int64), np.arange(N + I + 1))
    slot = np.zeros(N, np.int32)
    for c in range(C):
        m = neurons["core"] == c
        slot[m] = np.arange(m.sum())
    return Image(
        target="loihi", constants={}, core_kinds=["loihi_lif"], populations=pops, projections=projections,
        probes=[ProbeMap(p.name, ("spikes", "u", "v"), None if rng.random() < 0.5 else
                         np.unique(rng.integers(0, p.size, 2))) for p in neuron_pops if rng.random() < 0.7],
        neurons={"core": neurons["core"].astype(np.int32), "slot": slot,
                 "du": neurons["du"].astype(np.uint16), "dv": neurons["dv"].astype(np.uint16),
                 "vth": neurons["vth"].astype(np.int32), "bias_mant": neurons["bias_mant"].astype(np.int16),
                 "bias_exp": neurons["bias_exp"].astype(np.int8), "u_init": neurons["u_init"].astype(np.int32),
                 "v_init": neurons["v_init"].astype(np.int32)},
        cores={"kind": np.zeros(C, np.int8), "axon_ptr": axon_ptr.astype(np.int64)},
        axons={"proj": np.array([k for _, k, _ in keys], np.int32), "syn_ptr": syn_ptr},
        synapses={"post": np.array([x[0] for x in flat], np.int32), "weight": np.array([x[1] for x in flat], np.int16),
                  "delay": np.array([x[2] for x in flat], np.uint8)},
        routes={"src_ptr": src_ptr.astype(np.int64), "core": np.array([r[1] for r in routes], np.int32),
                "axon": np.array([r[2] for r in routes], np.int32), "delay": np.zeros(len(routes), np.uint8)},
        inputs={"spike_step": np.array([e[0] for e in ev], np.int64), "spike_index": np.array([e[1] for e in ev], np.int32),
                "poisson_p": poisson_p},
        seed=int(rng.integers(0, 2 ** 31)), network_name=f"random{seed}")


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
    from tests.model.test_poisson_inputs import documented_stream
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
