"""The emulator's Poisson input stream (emulator/inputs.py, docs/image-format.md *Inputs*): geometric
gaps from ``default_rng(seed)``, one draw per spike, independent of chunking, Bernoulli(p) statistics."""
import heapq
import math

import numpy as np
import pytest

from emulator.inputs import NEVER, PoissonStream


def documented_stream(p, seed: int, steps: int) -> np.ndarray:
    """(steps, P) bool raster written straight from the documented rule (pure Python): first spikes
    ``gap - 1`` (one draw per input in order), then one draw per spike in (step, input) order."""
    rng = np.random.default_rng(seed)

    def gap(lq):
        u = rng.random()                                      # drawn even for p = 0 (its first spike)
        if lq == 0.0:
            return NEVER
        x = math.log1p(-u) / lq
        return NEVER if x >= NEVER else 1 + math.floor(x)

    lqs = [-math.inf if q == 1 else math.log1p(-float(q)) for q in p]
    heap = [(gap(lq) - 1, j) for j, lq in enumerate(lqs)]
    heapq.heapify(heap)
    r = np.zeros((steps, len(lqs)), bool)
    while heap and heap[0][0] < steps:
        s, j = heapq.heappop(heap)
        r[s, j] = True
        heapq.heappush(heap, (s + gap(lqs[j]), j))
    return r


def _raster(stream: PoissonStream, chunks) -> np.ndarray:
    rows, t0 = [], 0
    for n in chunks:
        ptr, j = stream.chunk(t0, n)
        r = np.zeros((n, stream.lq.size), bool)
        r[np.repeat(np.arange(n), np.diff(ptr)), j] = True
        assert np.all(np.diff(j)[np.diff(np.repeat(np.arange(n), np.diff(ptr))) == 0] > 0)  # ids sorted per step
        rows.append(r)
        t0 += n
    return np.concatenate(rows)


def test_first_draws_by_hand():
    """p = 0.5: u -> gap 1 + floor(log1p(-u) / log(1/2)); the first spike is at gap - 1."""
    u = np.random.default_rng(3).random(3)
    g = [1 + math.floor(math.log1p(-x) / math.log1p(-0.5)) for x in u]
    r = _raster(PoissonStream(np.array([0.5]), 3), [g[0] + g[1] + g[2]])
    assert list(np.flatnonzero(r[:, 0])) == [g[0] - 1, g[0] + g[1] - 1, g[0] + g[1] + g[2] - 1]
    assert sorted(set(g)) != [1]                            # the seed gives gaps other than 1


def test_stream_equals_the_documented_rule_and_ignores_chunking():
    p = np.array([0.0, 0.003, 0.05, 0.2, 0.5, 0.9, 1.0, 0.05])
    ref = documented_stream(p, 17, 3000)
    assert np.array_equal(_raster(PoissonStream(p, 17), [3000]), ref)
    assert np.array_equal(_raster(PoissonStream(p, 17), [1, 7, 500, 1, 2491]), ref)
    assert not ref[:, 0].any() and ref[:, 6].all()           # p = 0 never, p = 1 every step
    assert not np.array_equal(ref[:, 2], ref[:, 7])          # equal p, independent trains


def test_tiny_probability_does_not_overflow():
    r = _raster(PoissonStream(np.array([1e-300, 1e-12]), 1), [50])
    assert not r.any()


@pytest.mark.parametrize("p", [0.002, 0.02, 0.3])
def test_rate_and_isi_statistics_match_bernoulli(p):
    """Over many inputs: spike probability per step p (binomial 5 sigma) and ISIs geometric (mean 1/p,
    CV sqrt(1 - p))."""
    n_in, steps = 200, 20000
    r = _raster(PoissonStream(np.full(n_in, p), 5), [steps])
    n = n_in * steps
    assert abs(r.sum() - n * p) < 5 * math.sqrt(n * p * (1 - p))
    isi = np.concatenate([np.diff(np.flatnonzero(r[:, j])) for j in range(n_in)])
    assert abs(isi.mean() * p - 1) < 0.03
    assert abs(isi.std() / isi.mean() - math.sqrt(1 - p)) < 0.03
    assert abs(np.mean(isi == 1) - p) < 5 * math.sqrt(p * (1 - p) / isi.size)   # P(gap = 1) = p


def test_emulator_runs_replay_the_stream_in_every_engine():
    """Static engines, the per-step plastic path and the fused plastic loop see the same inputs."""
    from emulator import emulate
    from neuromap import Network
    from neuromap.compiler import compile_network
    net = Network(seed=4)
    net.add_population("x", 6, neuron="poisson", rate=[5.0, 50.0, 100.0, 200.0, 400.0, 0.0])
    net.add_population("n", 2, neuron="lif", tau_m=20.0, v_th=1.0)
    net.connect("x", "n", "all_to_all", weight=0.2, plasticity={"rule": "nn_stdp", "w_max": 0.5})
    img = compile_network(net, "loihi")
    ref = documented_stream(img.inputs["poisson_p"], img.seed, 700)
    N = img.n_neurons
    for eng in ("numba", "numpy"):
        sp = emulate(img, 700, eng).spikes
        r = np.zeros_like(ref)
        m = sp[:, 1] >= N
        r[sp[m, 0], sp[m, 1] - N] = True
        assert np.array_equal(r, ref), eng
