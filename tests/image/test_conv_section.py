"""The image's optional ``conv`` section (kernel + geometry of shared-weight projections): saved and loaded exactly,
verified field by field with one-line errors, absent from images without convolutions."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from neuromap.conv_geometry import expand
from neuromap.errors import ImageError
from neuromap.image import load_image
from neuromap.toolchain import compile_network
from tests.helpers.conv_nets import hw_conv_net
from tests.helpers.images import tiny_image

GEO = {"in_shape": [2, 6, 6], "out_channels": 4, "kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1),
       "dilation": (1, 1), "groups": 2, "one_d": False}


@pytest.fixture(scope="module")
def conv_image():
    return compile_network(hw_conv_net(GEO, 5)[0], "loihi", placer="greedy", rate_check="never").image


def test_save_load_round_trip(conv_image, tmp_path):
    conv_image.save(tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert [c["projection"] for c in m["conv"]] == [0, 1]
    assert m["conv"][0]["out_shape"] == [4, 3, 3] and m["conv"][0]["groups"] == 2
    back = load_image(tmp_path / "b")
    assert len(back.convs) == 2
    for a, b in zip(back.convs, conv_image.convs):
        assert a.geometry == b.geometry and a.delay == b.delay and np.array_equal(a.kernel, b.kernel)
    ea, eb = expand(back), expand(conv_image)
    for k in ("post", "weight", "delay"):
        assert np.array_equal(ea.synapses[k], eb.synapses[k])


def test_images_without_convolutions_have_no_section(tmp_path):
    tiny_image().save(tmp_path / "t")
    assert "conv" not in json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert load_image(tmp_path / "t").convs == []
    assert expand(tiny_image()) is not None


def _edit(img, **kw):
    cm = dataclasses.replace(img.convs[0], **kw)
    return dataclasses.replace(img, convs=[cm] + img.convs[1:])


@pytest.mark.parametrize("edit, needle", [
    (dict(kernel=np.ones(3, np.int16)), "conv.0.kernel must be 1-d int16 of length 36"),
    (dict(delay=0), "delay 0 is outside 1..64"),
    (dict(projection=7), "is not a projection index"),
])
def test_verify_refuses_a_bad_section(conv_image, edit, needle):
    with pytest.raises(ImageError) as e:
        _edit(conv_image, **edit).verify()
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_verify_refuses_odd_kernel_weights_and_explicit_synapses(conv_image):
    k = conv_image.convs[0].kernel.copy()
    k[0] = 3                                  # mixed 8-bit weights are even
    with pytest.raises(ImageError, match="conv.0.kernel: a stored weight is not representable"):
        _edit(conv_image, kernel=k).verify()
    full = expand(conv_image)
    with pytest.raises(ImageError, match="explicit synapses"):
        dataclasses.replace(full, convs=conv_image.convs).verify()
    g = dataclasses.replace(conv_image.convs[0].geometry, out_channels=2)
    with pytest.raises(ImageError, match="do not match"):
        _edit(conv_image, geometry=g, kernel=np.zeros(18, np.int16)).verify()
