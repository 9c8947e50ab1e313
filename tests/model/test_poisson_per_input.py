"""The per-input Poisson streams (``poisson_stream`` ``per_input_v2``, neuromap/poisson_stream.py,
docs/image-format.md *Inputs*): the numba generator against the pure-Python oracle written from the documented
formula (tests/oracles/poisson.py), known answers, statistical sanity (uniformity, rates, independence of
neighbouring inputs and seeds), any subset of inputs drawing the same events, and the image field: new compiles
write the kind, older images (no field) load as the sequential stream and replay it draw for draw in the
emulator, the float reference and the exported script."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator import emulate
from emulator.inputs import InputSchedule
from emulator.program import prepare
from neuromap import Network, simulate
from neuromap.errors import ImageError
from neuromap.image import load_image
from neuromap.poisson_stream import DEFAULT_KIND, PER_INPUT, SEQUENTIAL, PoissonStream, input_keys, mix, uniform
from neuromap.toolchain import compile_network
from tests.oracles import poisson as oracle

#: (seed, input j, draw index k) -> the 64 bits and the uniform of the documented formula (computed by the oracle
#: when the kind was defined; docs/image-format.md lists the first three)
KNOWN = [((0, 0, 0), 0x35B0BA872C6FB8AE, 0.2097279148114798),
         ((0, 0, 1), 0x2A944CA21F3F318F, 0.16632536848123602),
         ((0, 1, 0), 0x9E5B8F82DF8D2470, 0.6185846037401928),
         ((1, 0, 0), 0x0293D6EB2EDF5AAA, 0.010068352144000925),
         ((42, 7, 1000), 0x13F5112E829C4D9A, 0.07795817742827282),
         ((2 ** 63 - 1, 123456, 2 ** 40), 0x69C5E4A00FCF339F, 0.41317585857160277)]


def _raster(stream: PoissonStream, steps: int) -> np.ndarray:
    ptr, j = stream.chunk(0, steps)
    r = np.zeros((steps, stream.lq.size), np.int64)
    np.add.at(r, (np.repeat(np.arange(steps), np.diff(ptr)), j), 1)
    return r


def test_mix_is_splitmix64():
    """SplitMix64 from state 0 (Vigna's splitmix64.c): its first outputs are mix(k * GAMMA), k = 1, 2, 3."""
    expect = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [oracle.mix(k * oracle.GAMMA) for k in (1, 2, 3)] == expect
    assert [int(mix(np.uint64(k * oracle.GAMMA % 2 ** 64))) for k in (1, 2, 3)] == expect


@pytest.mark.parametrize("sjk,bits,u", KNOWN)
def test_known_answers(sjk, bits, u):
    s, j, k = sjk
    assert oracle.bits(s, j, k) == bits and oracle.uniform(s, j, k) == u
    assert uniform(input_keys(s, np.array([j]))[0], k) == u                   # the numba generator


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 63 - 1), j=st.integers(0, 2 ** 40), k=st.integers(0, 2 ** 50))
def test_numba_generator_equals_the_oracle(seed, j, k):
    key = input_keys(seed, np.array([j]))[0]
    assert int(key) == oracle.key(seed, j)
    assert uniform(key, k) == oracle.uniform(seed, j, k)


@pytest.mark.parametrize("scan", [False, True])
def test_any_subset_of_inputs_draws_their_events_alone(scan):
    """Input j's events depend on (seed, j, p_j) only: a stream over a subset (ids) gives exactly the columns of
    the stream over all inputs, and equals the oracle; a sequential stream cannot be cut so."""
    p = np.array([0.0, 0.01, 0.3, 1.0, 2.5, 0.05, 7.0, 0.9, 1.5, 0.2])
    full = _raster(PoissonStream(p, 99, scan, kind=PER_INPUT), 800)
    assert np.array_equal(full, oracle.documented_stream(p, 99, 800, PER_INPUT))
    for ids in ([1, 4, 9], [8], [0, 2, 3, 5, 6, 7]):
        ids = np.array(ids)
        sub = _raster(PoissonStream(p[ids], 99, scan, kind=PER_INPUT, ids=ids), 800)
        assert np.array_equal(sub, full[:, ids]), ids
    with pytest.raises(ValueError, match="sequential"):
        PoissonStream(p[:2], 99, kind=SEQUENTIAL, ids=np.array([3, 4]))


def _draws(seed: int, j: int, n: int) -> np.ndarray:
    key = input_keys(seed, np.array([j]))[0]
    return np.array([uniform(key, k) for k in range(n)])


def test_uniforms_are_uniform_and_neighbours_independent():
    """20 000 draws each of 3 neighbouring inputs under 2 neighbouring seeds: each within a KS bound of U(0, 1), the
    53-bit resolution used (odd multiples of 2**-53 appear), neighbouring streams uncorrelated (|r| below
    5 / sqrt(n)) and never equal."""
    n = 20000
    cols = {(s, j): _draws(s, j, n) for s in (5, 6) for j in (0, 1, 2)}
    for u in cols.values():
        x = np.sort(u)
        ks = np.max(np.abs(x - (np.arange(n) + 0.5) / n))
        assert ks < 1.63 / math.sqrt(n)                         # Kolmogorov-Smirnov, 1 %
        assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
        assert np.any((u * 2 ** 53).astype(np.int64) % 2 == 1)
    keys = list(cols)
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            r = np.corrcoef(cols[keys[a]], cols[keys[b]])[0, 1]
            assert abs(r) < 5 / math.sqrt(n), (keys[a], keys[b], r)
            assert not np.any(cols[keys[a]] == cols[keys[b]])


@pytest.mark.parametrize("p", [0.05, 2.0])
def test_rates_and_neighbour_count_correlation(p):
    """200 inputs of equal p over 5000 steps: per-input event counts have the binomial / Poisson mean and
    variance, and the per-step counts of neighbouring inputs (j, j + 1) are uncorrelated (mean r over the 199
    pairs within 5 standard errors of 0; each |r| < 6 / sqrt(steps))."""
    n_in, steps = 200, 5000
    r = _raster(PoissonStream(np.full(n_in, p), 1234, kind=PER_INPUT), steps).astype(float)
    var = p * (1 - p) if p <= 1 else p
    assert abs(r.mean() - p) < 5 * math.sqrt(var / r.size)
    assert abs(r.var() / var - 1) < 0.03
    x = (r - r.mean(axis=0)) / r.std(axis=0)
    rs = np.mean(x[:, 1:] * x[:, :-1], axis=0)
    assert np.all(np.abs(rs) < 6 / math.sqrt(steps))
    assert abs(rs.mean()) < 5 / math.sqrt(steps * (n_in - 1))


# ---------------------------------------------------------------------------------------- the image field
def _net(seed: int = 6) -> Network:
    net = Network(seed=seed, dt=0.1)
    net.add_population("x", 6, neuron="poisson", rate=[300.0, 4000.0, 25000.0, 0.0, 9000.0, 60000.0])
    net.add_population("n", 4, neuron="lif", tau_m=10.0, tau_syn=1.0, v_th=3.0)
    net.connect("x", "n", {"rule": "fixed_indegree", "k": 3}, weight=0.4, delay={"uniform_int": [1, 3]})
    net.connect("n", "n", {"rule": "fixed_indegree", "k": 2}, weight=-0.5, delay=2)
    return net


def _inputs(run, img, steps: int) -> np.ndarray:
    r = np.zeros((steps, img.n_inputs), np.int64)
    m = run.spikes[:, 1] >= img.n_neurons
    np.add.at(r, (run.spikes[m, 0], run.spikes[m, 1] - img.n_neurons), 1)
    return r


@pytest.fixture(scope="module")
def image():
    return compile_network(_net(), "loihi").image


def test_compile_writes_the_per_input_kind_and_it_round_trips(image, tmp_path):
    assert image.poisson_stream == DEFAULT_KIND == PER_INPUT
    image.save(tmp_path / "new")
    m = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert m["poisson_stream"] == PER_INPUT
    assert load_image(tmp_path / "new").poisson_stream == PER_INPUT


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_image_loads_as_sequential_and_replays_its_stream(image, tmp_path, version):
    """An image without ``poisson_stream`` (what every earlier neuromap wrote) loads as the sequential stream:
    the emulator (both engines) replays the documented sequential stream draw for draw, and the float reference
    asked for that kind sees the same events; the per-input image sees other events of the same rates."""
    old = dataclasses.replace(image, poisson_stream=SEQUENTIAL)
    old.save(tmp_path / "old", format_version=version)
    assert "poisson_stream" not in json.loads((tmp_path / "old" / "manifest.json").read_text())
    img = load_image(tmp_path / "old")
    assert img.poisson_stream == SEQUENTIAL
    steps = 300
    p = img.inputs["poisson_p"]
    expect = oracle.documented_stream(p, img.seed, steps, SEQUENTIAL)
    for eng in ("numba", "numpy"):
        assert np.array_equal(_inputs(emulate(img, steps, eng), img, steps), expect), eng
    ref = simulate(_net(), steps, poisson_stream=SEQUENTIAL)
    t, i = ref.spikes["x"]
    got = np.zeros((steps, 6), np.int64)
    np.add.at(got, (t, i), 1)
    assert np.array_equal(got, expect)
    new = _inputs(emulate(image, steps), image, steps)
    assert np.array_equal(new, oracle.documented_stream(p, img.seed, steps, PER_INPUT))
    assert not np.array_equal(new, expect)


def test_float_reference_and_emulator_see_the_same_per_input_events(image):
    steps = 400
    emu = _inputs(emulate(image, steps), image, steps)
    ref = simulate(_net(), steps)                                    # the default kind, as compile writes
    t, i = ref.spikes["x"]
    got = np.zeros((steps, 6), np.int64)
    np.add.at(got, (t, i), 1)
    assert np.array_equal(got, emu) and emu.sum() > steps * 5
    with pytest.raises(Exception, match="unknown Poisson stream kind"):
        simulate(_net(), 5, poisson_stream="per_input_v9")


def test_a_manifest_naming_an_unknown_kind_is_refused_in_one_line(image, tmp_path):
    from neuromap.image_files import manifest_digest
    image.save(tmp_path / "img")
    mf = tmp_path / "img" / "manifest.json"
    m = json.loads(mf.read_text())
    m["poisson_stream"] = "per_input_v9"
    del m["manifest_sha256"]
    m["manifest_sha256"] = manifest_digest(m)
    mf.write_text(json.dumps(m))
    with pytest.raises(ImageError, match="poisson_stream") as e:
        load_image(tmp_path / "img")
    assert "\n" not in str(e.value)


def test_input_schedule_of_a_subset_equals_the_whole_schedule_filtered(image):
    """emulator.inputs.InputSchedule(program, keep): the kept inputs' events (explicit and Poisson), the same as
    the whole schedule's; only per-input streams may be cut."""
    p = prepare(image)
    keep = np.zeros(image.n_inputs, bool)
    keep[[1, 2, 5]] = True
    a, b = InputSchedule(p), InputSchedule(p, keep)
    for t0, n in ((0, 7), (7, 300), (307, 1)):
        pa, ia = a.chunk(t0, n)
        pb, ib = b.chunk(t0, n)
        sa = np.repeat(np.arange(n), np.diff(pa))
        m = keep[ia]
        assert np.array_equal(ib, ia[m]) and np.array_equal(np.repeat(np.arange(n), np.diff(pb)), sa[m])
    with pytest.raises(ValueError, match="cannot draw a subset"):
        InputSchedule(dataclasses.replace(p, poisson_stream=SEQUENTIAL), keep)
