"""Per-rank results of MPI runs (backends/emulator/parts.py): every rank's part, merged, is the one-process run
(spikes in the same order, u/v traces, final state, per-core and per-link counters, learned weights) for K = 1,
2, 3 ranks; the part files written by the ranks and merged by ``load_results`` read as the one-process
``Results`` and the gathered run's; a missing, corrupt or truncated part is one clear error. Ranks run as
threads (tests/helpers/ranks.py); the real ``mpiexec -n 2`` runs are in test_mpiexec.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backends.emulator import Results, load_results, results_from_raw
from backends.emulator.parts import parts_dir, read_parts, write_rank_results
from emulator import _image_probe, emulate
from emulator.sharded import merge_parts, plastic_projections, spike_bits, spike_ids
from neuromap.cli.plot_cmd import load_any_results
from neuromap.errors import NeuromapError
from neuromap.toolchain import compile_network
from tests.helpers.cli import run_cli
from tests.helpers.images import random_image
from tests.helpers.mpi_nets import plastic_net
from tests.helpers.nir_nets import readout_net
from tests.helpers.placement import small_target
from tests.helpers.ranks import assert_same_results, assert_same_run, run_ranks


def _merged(img, parts, steps):
    return merge_parts(parts, steps, img.n_neurons, img.n_cores, plastic_projections(img), _image_probe(img))


@pytest.mark.parametrize("seed", range(4))
def test_the_ranks_parts_merge_into_the_one_process_run(seed):
    img = random_image(seed + 20, max_delay=7, multapses=seed % 2 == 1)
    engine = "numpy" if seed == 3 else "numba"
    ref = emulate(img, 70, engine)
    assert ref.spikes.shape[0] > 0
    for K in (1, 2, 3):
        parts, _ = run_ranks(img, K, 70, engine, gather=False)
        assert len(parts) == K and sum(p["nid"].size for p in parts) == img.n_neurons
        assert_same_run(ref, _merged(img, parts, 70))


def test_plastic_parts_hold_each_ranks_learned_weights():
    img = compile_network(plastic_net(4, "homeostatic_stdp"), small_target(max_neurons=4), placer="greedy").image
    ref = emulate(img, 120, weight_every=10)
    assert any(not np.array_equal(w[0], w[-1]) for w in ref.weights.values())
    for K in (2, 3):
        parts, _ = run_ranks(img, K, 120, weight_every=10, gather=False)
        assert sum(p["weights"] != {} for p in parts) >= 2          # the weights live on several ranks
        assert_same_run(ref, _merged(img, parts, 120))


def _write(img, K, steps, out, **kw):
    """K in-process ranks writing their parts and rank 0 the index ``out``; rank 0's printed summary."""
    got, _ = run_ranks(img, K, steps, gather=False,
                       then=lambda part, comm: write_rank_results(out, part, img, "numba", steps, comm), **kw)
    return got[0]


def test_part_files_read_as_the_one_process_and_the_gathered_results(tmp_path):
    img = compile_network(plastic_net(5, "vogels_isp"), small_target(max_neurons=4), placer="greedy").image
    ref_raw = emulate(img, 90, weight_every=9)
    one = results_from_raw(img, ref_raw, "numba")
    one.save(tmp_path / "one.npz")
    gathered, _ = run_ranks(img, 2, 90, weight_every=9)
    results_from_raw(img, gathered, "numba").save(tmp_path / "gathered.npz")
    for K in (1, 2, 3):
        out = tmp_path / f"k{K}.npz"
        summary = _write(img, K, 90, out, weight_every=9)
        assert sorted(p.name for p in parts_dir(out).iterdir()) == [f"rank-{r:05d}-of-{K:05d}.bin" for r in range(K)]
        back = load_results(out)
        assert_same_results(load_results(tmp_path / "one.npz"), back)
        assert_same_results(load_results(tmp_path / "gathered.npz"), back)
        raw, _ = read_parts(out)
        assert_same_run(ref_raw, raw)
        assert summary["spikes"] == {k: s.shape[0] for k, s in one.spikes.items()}
        C = img.n_cores
        assert summary["inter_core_messages"] == one.link_spikes[:C].sum() - one.link_spikes[:C].trace()
    assert isinstance(back, Results) and back.weights


def test_readout_summary_and_results_of_a_readout_network(tmp_path):
    """A non-spiking readout population (float voltages from the quantization report): the summary's last
    voltages and the merged readout traces equal one process's."""
    img = compile_network(readout_net(), "loihi").image
    one = results_from_raw(img, emulate(img, 40), "numba")
    assert one.readout
    summary = _write(img, 2, 40, tmp_path / "r.npz")
    back = load_results(tmp_path / "r.npz")
    assert_same_results(one, back)
    for name, tr in one.readout.items():
        n, last = summary["readouts"][name]
        assert np.array_equal(n, one.neurons[name]) and np.array_equal(last, tr[-1])


@pytest.fixture
def written(tmp_path):
    img = random_image(5, max_delay=4)
    out = tmp_path / "run.npz"
    _write(img, 2, 30, out)
    return img, out


def _error(out) -> str:
    with pytest.raises(NeuromapError) as e:
        load_results(out)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_a_missing_part_is_one_error_naming_it(written):
    _, out = written
    (parts_dir(out) / "rank-00001-of-00002.bin").unlink()
    msg = _error(out)
    assert "rank-00001-of-00002.bin is missing" in msg and "run.npz.parts/" in msg


def test_a_corrupt_or_truncated_part_is_one_error_naming_it(written):
    _, out = written
    f = parts_dir(out) / "rank-00000-of-00002.bin"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    assert "rank-00000-of-00002.bin: fails its checksum" in _error(out)
    f.write_bytes(bytes(data[:-8]))
    assert "the index says" in _error(out)


def test_a_newer_index_version_is_refused_and_the_cli_exits_2(written, tmp_path, capsys):
    img, out = written
    with np.load(out) as z:
        d = {k: z[k] for k in z.files}
    d["format_version"] = np.int64(99)
    np.savez(out, **d)
    assert "version 99" in _error(out)
    (parts_dir(out) / "rank-00000-of-00002.bin").unlink()
    build = tmp_path / "build"
    img.save(build)
    code, _, err = run_cli(["plot", str(build), "--results", str(out), "-o", str(tmp_path / "plots")], capsys)
    assert code == 2 and "Traceback" not in err and "version 99" in err


def test_spike_bitmaps_round_trip_and_dense_parts_use_them(tmp_path):
    rng = np.random.default_rng(3)
    nid = np.sort(rng.choice(1000, 77, replace=False)).astype(np.int64)
    steps = [np.sort(rng.choice(nid, int(rng.integers(0, 40)), replace=False)) for _ in range(25)]
    gid = np.concatenate(steps).astype(np.int32)
    cnt = np.array([s.size for s in steps], np.int64)
    bits, bad = spike_bits(gid, cnt, nid)
    assert bad == -1 and bits.shape == (25, 10)
    back, back_cnt = spike_ids(bits, nid)
    assert np.array_equal(back, gid) and np.array_equal(back_cnt, cnt)
    assert spike_bits(np.array([5], np.int32), np.array([1]), np.array([4, 6]))[1] == 0    # 5 is not a neuron
    img = random_image(2, max_delay=3)
    ref = results_from_raw(img, emulate(img, 60), "numba")
    out = tmp_path / "d.npz"
    _write(img, 2, 60, out)
    with np.load(out) as z:
        entries = json.loads(str(z["parts"]))
    kinds = {("spikes.bits" in e["arrays"], "spikes.gid" in e["arrays"]) for e in entries}
    assert (True, False) in kinds                  # a dense rank wrote its bitmap
    assert_same_results(ref, load_results(out))


def test_a_part_that_cannot_be_written_is_one_error_on_rank_0(tmp_path):
    img = random_image(5, max_delay=4)
    out = tmp_path / "run.npz"
    parts_dir(out).write_text("a file where the parts folder goes")
    with pytest.raises(NeuromapError, match=r"^rank 0: .*run\.npz\.parts/rank-00000-of-00002\.bin: cannot write"):
        _write(img, 2, 20, out)
    assert not out.exists()


def test_plot_and_report_read_per_rank_results_as_the_one_process_file(tmp_path):
    img = random_image(6, max_delay=4)
    results_from_raw(img, emulate(img, 40), "numba").save(tmp_path / "one.npz")
    _write(img, 3, 40, tmp_path / "three.npz")
    a, b = load_any_results(str(tmp_path / "one.npz")), load_any_results(str(tmp_path / "three.npz"))
    assert a["kind"] == b["kind"] == "emulator" and a["steps"] == b["steps"] == 40
    assert sorted(a["spikes"]) == sorted(b["spikes"])
    for k, (step, idx) in a["spikes"].items():
        assert np.array_equal(step, b["spikes"][k][0]) and np.array_equal(idx, b["spikes"][k][1])
    for k in ("link_spikes", "core_spikes"):
        assert np.array_equal(a[k], b[k])
