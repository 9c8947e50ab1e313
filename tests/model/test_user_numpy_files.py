"""User-given .npy/.npz files (``--input-spikes``, ``--rates FILE.npy``) are read like an image's arrays:
header and byte size checked before any allocation, regular files only, no pickles (SECURITY.md)."""
from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from neuromap.errors import NeuromapError, NetworkFormatError
from neuromap.image_files import load_numpy_file
from neuromap.placement.rates_file import load_rates


def _err(problem):
    return NeuromapError(f"x: {problem}")


def _huge_header_npy(path, shape=(10 ** 12,)):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path.write_bytes(buf.getvalue() + b"\0" * 64)


def test_arrays_round_trip(tmp_path):
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    b = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.save(tmp_path / "a.npy", a)
    np.savez_compressed(tmp_path / "r.npz", first=a, second=b)
    assert np.array_equal(load_numpy_file(tmp_path / "a.npy", "w", 1000, _err)["*"], a)
    got = load_numpy_file(tmp_path / "r.npz", "w", 1000, _err)
    assert set(got) == {"first", "second"} and np.array_equal(got["first"], a) and np.array_equal(got["second"], b)


def test_a_header_claiming_10_12_entries_is_refused_before_allocation(tmp_path):
    _huge_header_npy(tmp_path / "big.npy")
    with pytest.raises(NeuromapError, match="needs 8000000000000 bytes"):
        load_numpy_file(tmp_path / "big.npy", "w", 10 ** 6, _err)


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path):
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:   # 200 MB of zeros, ~200 kB on disk
        with z.open("x.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(m, {"descr": "|u1", "fortran_order": False, "shape": (200 * 2 ** 20,)})
            chunk = bytes(2 ** 20)
            for _ in range(200):
                m.write(chunk)
    assert os.path.getsize(p) < 2 ** 20
    with pytest.raises(NeuromapError, match="more than allowed"):
        load_numpy_file(p, "w", 10 ** 6, _err)


def test_pickles_fifos_and_garbage_are_one_line_errors(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(NeuromapError, match="not a numeric array"):
        load_numpy_file(tmp_path / "obj.npy", "w", 10 ** 6, _err)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(NeuromapError, match="not a readable numpy file"):
        load_numpy_file(tmp_path / "junk.npz", "w", 10 ** 6, _err)
    os.mkfifo(tmp_path / "fifo.npy")
    with pytest.raises(NeuromapError, match="not a regular file"):
        load_numpy_file(tmp_path / "fifo.npy", "w", 10 ** 6, _err)
    with pytest.raises(NeuromapError, match="file not found"):
        load_numpy_file(tmp_path / "none.npy", "w", 10 ** 6, _err)


def test_rates_npy_is_bounded_by_the_network_size(tmp_path):
    np.save(tmp_path / "ok.npy", np.full(5, 0.01))
    assert load_rates(tmp_path / "ok.npy", {"a": 2, "b": 3}, 1.0).shape == (5,)
    _huge_header_npy(tmp_path / "big.npy")
    with pytest.raises(NetworkFormatError, match="big.npy: array: shape"):
        load_rates(tmp_path / "big.npy", {"a": 2, "b": 3}, 1.0)


def test_a_network_files_npz_reference_is_bounded_too(tmp_path):
    from neuromap.connectivity import load_array
    np.savez(tmp_path / "w.npz", w=np.full((2, 3), 0.5))
    assert load_array({"file": "w.npz"}, "weight", str(tmp_path)).shape == (2, 3)
    _huge_header_npy(tmp_path / "big.npy")
    with pytest.raises(NetworkFormatError, match="weight.file: array: shape .* needs 8000000000000 bytes"):
        load_array({"file": "big.npy"}, "weight", str(tmp_path))
