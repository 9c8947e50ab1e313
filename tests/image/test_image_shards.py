"""Image format version 2: the arrays in bundle files, ``common.bin`` and one ``shards/NNNNN.bin`` per chip,
each with its size and sha256 in the manifest. Round trips equal to version 1 (which still loads), every
tampering refused with one line, and a rank of a sharded run (emulator.sharded.load_shard) reading only
common.bin and its own shards."""
from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np
import pytest

from emulator import sharded
from neuromap import image_files
from neuromap.errors import ImageError
from neuromap.image import FORMAT_VERSION, load_image, shard_arrays
from tests.helpers.images import load_refused, random_image, tiny_image
from tests.helpers.mpi_nets import with_chips


def same_arrays(a, b):
    A, B = a.arrays(), b.arrays()
    assert A.keys() == B.keys()
    for k in A:
        assert A[k].dtype == B[k].dtype and np.array_equal(A[k], B[k], equal_nan=True), k


@pytest.mark.parametrize("seed", range(6))
def test_version_2_round_trip_equals_version_1(tmp_path, seed):
    img = random_image(seed, multapses=True)
    if seed % 2:
        img = with_chips(img)
    img.save(tmp_path / "v2")
    img.save(tmp_path / "v1", format_version=1)
    assert FORMAT_VERSION == 2
    assert sorted(os.listdir(tmp_path / "v2")) == ["common.bin", "manifest.json", "shards"]
    assert sorted(os.listdir(tmp_path / "v1")) == ["arrays.npz", "manifest.json"]
    a, b = load_image(tmp_path / "v2"), load_image(tmp_path / "v1")
    same_arrays(img, a)
    same_arrays(img, b)
    assert (a.format_version, b.format_version) == (2, 1)
    m = json.loads((tmp_path / "v2" / "manifest.json").read_text())
    n_shards = img.n_cores if seed % 2 else 1          # one per chip; without chips one per 128 cores
    assert len(m["shards"]) == n_shards == len(os.listdir(tmp_path / "v2" / "shards"))
    for i, e in enumerate(m["shards"]):
        data = (tmp_path / "v2" / image_files.bundle_name(i)).read_bytes()
        assert len(data) == e["bytes"] and hashlib.sha256(data).hexdigest() == e["sha256"]
        assert all(v["offset"] % image_files.BUNDLE_ALIGN == 0 for v in e["arrays"].values())


def test_a_shard_holds_its_chips_rows():
    img = with_chips(random_image(3, n_pops=4))
    common, shards = shard_arrays(img)
    assert "neurons.core" in common and "routes.src_ptr" in common and "inputs.poisson_p" in common
    assert "synapses.post" not in common and "axons.syn_ptr" not in common
    for cores, arrs in shards:
        assert np.all(np.isin(img.neurons["core"][arrs["neurons.id"]], cores))
        assert np.array_equal(arrs["neurons.du"], img.neurons["du"][arrs["neurons.id"]])
        assert np.all(np.isin(img.synapses["post"], arrs["synapses.post"]) | ~np.isin(img.neurons["core"][
            img.synapses["post"]], cores))
        assert np.all(np.isin(arrs["routes.core"], cores))
    assert sum(a["synapses.post"].size for _, a in shards) == img.n_synapses
    assert sum(a["neurons.id"].size for _, a in shards) == img.n_neurons


def _flip(path, at=None):
    b = bytearray(path.read_bytes())
    b[len(b) // 2 if at is None else at] ^= 1
    path.write_bytes(bytes(b))


@pytest.fixture
def v2(tmp_path):
    d = tmp_path / "b"
    with_chips(random_image(5)).save(d)
    return d


def test_tampered_bundles_are_refused_withload_refused(v2):
    _flip(v2 / "shards" / "00000.bin")
    load_refused(v2, "shards/00000.bin", "fails its checksum", "recompile")


def test_truncated_or_missing_bundle(v2, tmp_path):
    p = v2 / "common.bin"
    p.write_bytes(p.read_bytes()[:-1])
    load_refused(v2, "common.bin", "holds", "the manifest says")
    p.unlink()
    load_refused(v2, "common.bin is missing")


def _resign(d, m):
    m["manifest_sha256"] = image_files.manifest_digest(m)
    (d / "manifest.json").write_text(json.dumps(m))


def test_an_edited_shard_with_a_resigned_manifest_fails_the_array_checksum(v2):
    """An editor who recomputes the bundle's and the manifest's sha256: the whole-array checksums (the
    ``arrays`` table, as in version 1) still catch it."""
    m = json.loads((v2 / "manifest.json").read_text())
    e = m["shards"][0]
    f = v2 / "shards" / "00000.bin"
    off = e["arrays"]["synapses.weight"]["offset"]
    _flip(f, off)
    e["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    _resign(v2, m)
    load_refused(v2, "synapses.weight", "fails its checksum")


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["shards"][0]["arrays"]["synapses.post"].update(shape=[10 ** 12]), "lies outside the file"),
    (lambda m: m["shards"][0]["arrays"]["synapses.post"].update(offset=2 ** 40), "lies outside the file"),
    (lambda m: m["shards"][0].update(bytes=2 ** 61), "more than"),
    (lambda m: m["common"]["arrays"].update(x={"dtype": "<i8", "shape": [0], "offset": 0}), "'x'"),
    (lambda m: m["shards"][0]["arrays"]["neurons.du"].update(dtype="|O"), "dtype"),
    (lambda m: m.pop("shards"), "shards: is missing"),
    (lambda m: m["shards"][0].update(cores=[99999]), "shards do not match"),
])
def test_resigned_manifest_edits_of_the_bundle_tables_are_one_line_errors(v2, edit, match):
    m = json.loads((v2 / "manifest.json").read_text())
    edit(m)
    _resign(v2, m)
    load_refused(v2, match)


def test_fifo_in_place_of_a_bundle_does_not_hang(v2):
    (v2 / "common.bin").unlink()
    os.mkfifo(v2 / "common.bin")
    box = []
    t = threading.Thread(target=lambda: box.append(pytest.raises(ImageError, load_image, v2)), daemon=True)
    t.start()
    t.join(10)
    assert box and "not a regular file" in str(box[0].value)


def test_version_1_images_keep_loading_and_a_version_1_manifest_has_no_bundles(tmp_path):
    tiny_image().save(tmp_path / "b", format_version=1)
    same_arrays(tiny_image(), load_image(tmp_path / "b"))
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    m["shards"] = []
    _resign(tmp_path / "b", m)
    load_refused(tmp_path / "b", "shards: is not a field of a version 1 image")


def test_a_rank_reads_only_common_and_its_own_shards(tmp_path, monkeypatch):
    img = with_chips(random_image(8, n_pops=4, max_size=12))
    d = tmp_path / "b"
    img.save(d)
    n_shards = img.n_cores
    read = []
    real = image_files.read_bundle
    monkeypatch.setattr(image_files, "read_bundle", lambda p, i, e, b: read.append(i) or real(p, i, e, b))
    K = 2 if n_shards >= 2 else 1
    owner = sharded.partition(img, K)
    for r in range(K):
        read.clear()
        sh = sharded.load_shard(d, r, K)
        ref = sharded.shard_of(img, owner == r)
        assert read[0] is None and sorted(read[1:]) == list(np.flatnonzero(np.isin(np.arange(n_shards),
                                                                                   np.flatnonzero(owner == r))))
        assert np.array_equal(sh.nid, ref.nid) and np.array_equal(sh.syn_id, ref.syn_id)
        for k in ("post", "weight", "delay"):
            assert np.array_equal(sh.synapses[k], ref.synapses[k])
        assert np.array_equal(sh.axon_src, ref.axon_src) and np.array_equal(sh.axon_core, ref.axon_core)
        for k, v in ref.neurons.items():
            assert np.array_equal(sh.neurons[k], v), k


def test_a_rank_refuses_its_own_corrupt_shard(tmp_path):
    img = with_chips(random_image(8, n_pops=4, max_size=12))
    d = tmp_path / "b"
    img.save(d)
    owner = sharded.partition(img, 2)
    mine = int(np.flatnonzero(owner == 1)[0])
    _flip(d / image_files.bundle_name(mine))
    sharded.load_shard(d, 0, 2)                      # rank 0 does not read it
    with pytest.raises(ImageError, match=f"shards/{mine:05d}.bin.*fails its checksum"):
        sharded.load_shard(d, 1, 2)
