"""A new learning engine is one module: examples/learning_engine_example.py (``pre_trace_hebb``), registered
here and nothing else edited, verifies in images, round-trips through save/load, runs its one numba kernel on
the emulator's per-step loop (numpy engine), in the fused plastic loop (numba engine, assembled from the registry)
and in Lava (``NeuromapPlasticSparse``), all with the same integers; a hand-computed step and a scalar reference
written from the module docstring's rule pin the arithmetic."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backends.lava.compat import lava_available
from emulator import emulate, plastic_numba
from examples import learning_engine_example as hebb
from neuromap import learning_engines
from neuromap.compiler import compile_network
from neuromap.errors import ImageError
from neuromap.image import load_image
from neuromap.learning_engines.schema import QuantizeContext, Quantized
from neuromap.network import Network

STEPS = 120


@pytest.fixture
def registered():
    learning_engines.register(hebb)
    yield hebb
    learning_engines.unregister(hebb.ENGINE)


def hebb_image(registered_engine, sign_w=1.0):
    """A small compiled network (16 inputs -> 3 LIF, nn_stdp), its plastic projection switched to the example
    engine with learning constants from the engine's own ``quantize`` (tau 10 ms, eta 0.05 per spike)."""
    n = Network(seed=5)
    rng = np.random.default_rng(1)
    n.add_population("inp", 16, neuron="spike_source",
                     times=[np.flatnonzero(rng.random(STEPS) < 0.08).astype(float).tolist() for _ in range(16)])
    n.add_population("out", 3, neuron="lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
    n.connect("inp", "out", connect={"rule": "all_to_all"}, weight={"uniform": [0.1, 0.4]}, delay=1, target="exc",
              plasticity=dict(rule="nn_stdp", tau_plus=20.0, tau_minus=20.0, A_plus=0.0, A_minus=0.0, w_min=0.0,
                              w_max=1.0))
    img = compile_network(n).image
    k = next(i for i, p in enumerate(img.projections) if p.learning)
    old = img.projections[k].learning
    q = Quantized({"engine": hebb.ENGINE, "rule": hebb.ENGINE,
                   **{f: old[f] for f in ("sign", "delay", "w_lo", "w_hi")}})
    hebb.quantize(q, {"tau": 10.0, "eta": 0.05}, QuantizeContext(ws=200.0, dt=1.0, where="test"))
    learning = hebb.Schema.from_dict(q.fields, "test", fill_defaults=True).to_dict()
    projs = list(img.projections)
    projs[k] = dataclasses.replace(projs[k], learning=learning, learning_arrays={})
    return dataclasses.replace(img, projections=projs), k


def test_unregistered_engine_is_refused_in_one_line():
    img, k = hebb_image(None)
    with pytest.raises(ImageError, match="learning engine 'pre_trace_hebb' is unknown"):
        img.verify()


def test_schema_verifies_every_field(registered):
    img, k = hebb_image(registered)
    img.verify()
    lr = img.projections[k].learning
    assert list(lr) == ["engine", "rule", "sign", "delay", "w_lo", "w_hi", "keep", "eta", "wf", "af", "xf"]
    assert lr["keep"] == round(65536 * np.exp(-0.1)) and lr["eta"] == round(0.05 * 200 * 65536)
    for bad, match in (({"keep": 70000}, "keep 70000 is outside"), ({"eta": 1.5}, "eta 1.5 is not an integer"),
                       ({"xf": 8}, "xf 8 differs"), ({"extra": 1}, "'extra' is unknown")):
        p = dataclasses.replace(img.projections[k], learning={**lr, **bad})
        with pytest.raises(ImageError, match=match):
            dataclasses.replace(img, projections=[*img.projections[:k], p, *img.projections[k + 1:]]).verify()


def rhu(x: int, n: int) -> int:
    return (x + (1 << (n - 1))) >> n


def scalar_hebb(cfg, w0, pre_idx, post_idx, pre, post):
    """The rule of examples/learning_engine_example.py's docstring, one synapse at a time in Python ints."""
    w = [cfg.sign * int(v) << 16 for v in w0]
    x = [0] * len(w)
    sent = {}
    out = []
    for t, (a, b) in enumerate(zip(pre, post), start=1):
        sent[t] = a
        arrived = sent.get(t - cfg.delay, np.zeros_like(a)) if cfg.delay else a
        for q, (i, m) in enumerate(zip(pre_idx, post_idx)):
            x[q] = rhu(x[q] * cfg.keep, 16)
            if arrived[i]:
                x[q] = min(x[q] + 4096, 65535)
            if b[m]:
                w[q] += rhu(cfg.eta * x[q], 12)
            w[q] = min(max(w[q], cfg.w_lo << 16), cfg.w_hi << 16)
        out.append([cfg.sign * rhu(v, 16) for v in w])
    return out


def test_hand_computed_step(registered):
    # keep 1/2, eta 2**16 (one weight unit per spike of trace), delay 1: t1 pre emits; t2 arrival x = 4096;
    # t3 x = 2048, post spike -> w += rhu(2**16 * 2048, 12) = 32768 = 0.5 weight unit -> stored rhu(10.5) = 11
    cfg = hebb.Schema(sign=1, delay=1, w_lo=0, w_hi=100, keep=32768, eta=1 << 16)
    st = hebb.make_state(cfg, {}, 1, 1, np.array([0]), np.array([0]))
    w = np.array([10], np.int32)
    for t, (pre, post) in enumerate([(True, False), (False, False), (False, True)], start=1):
        hebb.step(cfg, st, w, np.array([pre]), np.array([post]), t)
    assert w.tolist() == [11] and st.x.tolist() == [2048] and st.syn.w_fine.tolist() == [(10 << 16) + 32768]


def test_kernel_equals_scalar_reference_per_step_and_fused(registered, tmp_path):
    img, k = hebb_image(registered)
    img.save(tmp_path / "img")
    img2 = load_image(tmp_path / "img")
    assert img2.projections[k].learning == img.projections[k].learning
    assert plastic_numba.supported([type("P", (), {"engine": hebb})()])
    assert hebb in plastic_numba.kernel_engines()
    a = emulate(img2, STEPS, "numpy", weight_every=10)            # per-step loop: step() -> the kernel
    b = emulate(img2, STEPS, "numba", weight_every=10)            # the fused loop with this engine's kernel
    assert np.array_equal(a.spikes, b.spikes) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.weights[k], b.weights[k])
    assert not np.array_equal(a.weights[k][0], a.weights[k][-1])  # it learns
    assert np.all(np.diff(a.weights[k].astype(int), axis=0) >= 0)  # potentiation only
    # the kernel on random spikes == the scalar reference, every step
    rng = np.random.default_rng(0)
    pre_idx, post_idx = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    cfg = hebb.Schema(sign=-1, delay=2, w_lo=0, w_hi=200, keep=60000, eta=3 << 15)
    w0 = -rng.integers(10, 50, 12).astype(np.int32)
    r = np.random.default_rng(2)
    pre, post = r.random((80, 4)) < 0.3, r.random((80, 3)) < 0.2
    want = scalar_hebb(cfg, w0, pre_idx, post_idx, pre, post)
    st = hebb.make_state(cfg, {}, 4, 3, pre_idx, post_idx)
    w = w0.copy()
    for t in range(1, 81):
        hebb.step(cfg, st, w, pre[t - 1], post[t - 1], t)
        assert w.tolist() == want[t - 1], t
    assert not np.array_equal(w, w0)


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_runs_the_registered_engine(registered):
    from backends.lava.run import run_lava_raw
    img, k = hebb_image(registered)
    got = run_lava_raw(img, 60, probe=np.arange(img.n_neurons), weight_every=10)
    want = emulate(img, 60, "numpy", probe=np.arange(img.n_neurons), weight_every=10)
    assert np.array_equal(got.events(), want.spikes) and np.array_equal(got.v, want.v) and np.array_equal(got.u, want.u)
    assert got.weight_steps.tolist() == want.weight_steps.tolist()
    assert np.array_equal(got.weights[k], want.weights[k])
    assert not np.array_equal(want.weights[k][0], want.weights[k][-1])


def test_docs_show_the_example_engine_as_it_is():
    """docs/learning.md, *Adding a learning engine*, excerpts the example module: every line of its python block
    is a line of examples/learning_engine_example.py (so the excerpt cannot drift from the engine it shows)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "learning.md").read_text()
    section = doc[doc.index("## Adding a learning engine"):]
    block = section[section.index("```python\n") + 10:section.index("\n```", section.index("```python"))]
    module = {ln.rstrip() for ln in (root / "examples" / "learning_engine_example.py").read_text().splitlines()}
    lines = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
    assert len(lines) > 20
    missing = [ln for ln in lines if ln not in module]
    assert not missing, missing
