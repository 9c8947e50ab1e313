"""The hardware image: round trip, checksums, version and invariant checks, weight encoding."""
import json

import numpy as np
import pytest

from neuromap.errors import ImageError
from neuromap.image import ProjectionMap, encode_weights, load_image, weight_step
from tests.helpers.images import tiny_image


def test_round_trip(tmp_path):
    img = tiny_image()
    img.save(tmp_path / "b")
    back = load_image(tmp_path / "b")
    assert back.populations == img.populations and back.projections[0].name == "in->a"
    assert back.probes[0].variables == ("spikes", "v") and back.probes[0].neurons.tolist() == [1]
    for k, v in img.arrays().items():
        got = back.arrays()[k]
        assert got.dtype == v.dtype and np.array_equal(got, v, equal_nan=True), k
    assert back.seed == 3 and back.options == {"passes": ["x"]} and back.max_delay() == 3
    img.save(tmp_path / "b")  # overwriting an image is allowed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_edited_array_is_refused(tmp_path):
    tiny_image().save(tmp_path / "b", format_version=1)
    z = dict(np.load(tmp_path / "b" / "arrays.npz"))
    z["synapses.weight"] = np.array([12, -4], np.int16)
    np.savez(tmp_path / "b" / "arrays.npz", **z)
    with pytest.raises(ImageError, match="synapses.weight.*checksum"):
        load_image(tmp_path / "b")


def test_truncated_and_missing(tmp_path):
    tiny_image().save(tmp_path / "b", format_version=1)
    data = (tmp_path / "b" / "arrays.npz").read_bytes()
    (tmp_path / "b" / "arrays.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupted"):
        load_image(tmp_path / "b")
    (tmp_path / "b" / "arrays.npz").unlink()
    with pytest.raises(ImageError, match="missing"):
        load_image(tmp_path / "b")
    with pytest.raises(ImageError, match="no manifest"):
        load_image(tmp_path / "nothing")


def test_version_is_checked(tmp_path):
    tiny_image().save(tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    m["format_version"] = 99
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ImageError, match="version 99 is not supported"):
        load_image(tmp_path / "b")


@pytest.mark.parametrize("edit, msg", [
    (lambda i: i.neurons.__setitem__("du", np.array([0, 4096 - 1], np.uint16)) or
     i.neurons.__setitem__("vth", np.array([131072, 0], np.int32)), "neurons.vth"),
    (lambda i: i.synapses.__setitem__("weight", np.array([5, -4], np.int16)), "not representable"),
    (lambda i: i.synapses.__setitem__("delay", np.array([0, 3], np.uint8)), "synapses.delay"),
    (lambda i: i.routes.__setitem__("axon", np.array([1], np.int32)), "routes.axon"),
    (lambda i: i.axons.__setitem__("syn_ptr", np.array([0, 1], np.int64)), "syn_ptr"),
    (lambda i: setattr(i, "core_kinds", ["spinnaker"]), "core kind"),
    (lambda i: i.projections.__setitem__(0, ProjectionMap("p", "in", "a", weight_exp=8)), "weight_exp"),
    (lambda i: i.neurons.__setitem__("bias_exp", np.array([0, 7], np.int16)), "int8"),
])
def test_invariants(edit, msg):
    img = tiny_image()
    img.verify()
    edit(img)
    with pytest.raises(ImageError, match=msg):
        img.verify()


def test_encode_weights_matches_lava_rules():
    w = np.array([-300, -256, -255, -3, -1, 0, 1, 3, 254, 255, 300])
    # mixed, 8 bits: clip to [-256, 255], drop 1 LSB (floor)
    assert encode_weights(w, "mixed", 8).tolist() == [-256, -256, -256, -4, -2, 0, 0, 2, 254, 254, 254]
    # excitatory, 6 bits: clip to [0, 255], drop 2 LSBs
    assert encode_weights(w, "excitatory", 6).tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 252, 252, 252]
    # inhibitory, 7 bits: clip to [-255, 0], drop 1 LSB of the magnitude (toward zero)
    assert encode_weights(w, "inhibitory", 7).tolist() == [-254, -254, -254, -2, 0, 0, 0, 0, 0, 0, 0]
    assert weight_step("mixed", 1) == 256 and weight_step("excitatory", 8) == 1
