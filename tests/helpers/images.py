"""Hardware images built by hand, without the compiler, for tests of the image layer, the emulator and the
Lava backend: ``tiny_image`` (2 neurons, 1 input, every field hand-set) and ``random_image`` (random
``loihi_lif`` images laid out as the compiler lays them out)."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.errors import ImageError
from neuromap.image import Image, PopulationMap, ProbeMap, ProjectionMap, encode_weights, load_image

#: decay constants at the edges of their 12-bit range (du = 4095 empties u at once)
EDGE_DECAY = [0, 1, 2048, 4094, 4095]


def tiny_image() -> Image:
    """2 neurons on core 0, 1 input; input 0 -> axon 0 of core 0 -> neuron 0 (w=8), neuron 1 (w=-4, delay 3)."""
    return Image(
        target="loihi", constants={"neurons_per_core": 1024}, core_kinds=["loihi_lif"],
        populations=[PopulationMap("a", "neuron", "loihi_lif", 0, 2),
                     PopulationMap("in", "input", "spike_source", 0, 1)],
        projections=[ProjectionMap("in->a", "in", "a", weight_exp=1, num_weight_bits=7, sign_mode="mixed")],
        probes=[ProbeMap("a", ("spikes", "v"), np.array([1]))],
        neurons={"core": np.zeros(2, np.int32), "slot": np.arange(2, dtype=np.int32),
                 "du": np.array([0, 4095], np.uint16), "dv": np.array([10, 10], np.uint16),
                 "vth": np.array([100, 131071], np.int32), "bias_mant": np.array([-4096, 4095], np.int16),
                 "bias_exp": np.array([0, 7], np.int8), "u_init": np.zeros(2, np.int32),
                 "v_init": np.zeros(2, np.int32)},
        cores={"kind": np.zeros(1, np.int8), "axon_ptr": np.array([0, 1], np.int64)},
        axons={"proj": np.zeros(1, np.int32), "syn_ptr": np.array([0, 2], np.int64)},
        synapses={"post": np.array([0, 1], np.int32), "weight": np.array([8, -4], np.int16),
                  "delay": np.array([1, 3], np.uint8)},
        routes={"src_ptr": np.array([0, 0, 0, 1], np.int64), "core": np.zeros(1, np.int32),
                "axon": np.zeros(1, np.int32), "delay": np.zeros(1, np.uint8)},
        inputs={"spike_step": np.array([0, 5], np.int64), "spike_index": np.zeros(2, np.int32),
                "poisson_p": np.array([np.nan])},
        seed=3, source_hash="abc", options={"passes": ["x"]})


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
        inputs={"spike_step": np.array([e[0] for e in ev], np.int64),
                "spike_index": np.array([e[1] for e in ev], np.int32), "poisson_p": poisson_p},
        seed=int(rng.integers(0, 2 ** 31)), network_name=f"random{seed}")



def load_refused(d, *match) -> str:
    """``load_image(d)`` raises one line of :class:`ImageError` containing every string of ``match``; returns it."""
    with pytest.raises(ImageError) as e:
        load_image(d)
    msg = str(e.value)
    assert "\n" not in msg
    for s in match:
        assert s in msg, msg
    return msg


def population_spikes(img: Image, events: np.ndarray, skip_suffix: str | None = None) -> set[tuple[int, str, int]]:
    """``(step, population, index)`` of every spike in ``events`` ((step, source id) rows of a run of ``img``) of
    its neuron populations, those whose name ends with ``skip_suffix`` left out (e.g. relay populations a compile
    pass added): spikes of two images of the same network compared by population, whatever their layouts."""
    out = set()
    for pm in img.populations:
        if pm.kind == "neuron" and not (skip_suffix and pm.name.endswith(skip_suffix)):
            sel = (events[:, 1] >= pm.start) & (events[:, 1] < pm.start + pm.size)
            out |= {(int(t), pm.name, int(i - pm.start)) for t, i in events[sel]}
    return out
