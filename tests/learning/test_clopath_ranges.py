"""The clopath schema refuses constants whose products would overflow int64 (the ranges of
:mod:`neuromap.learning_engines.clopath`'s docstring): ``ltp_sh < 11`` with a nonzero mantissa, and a
``v_shift`` below the post cores' ``voltage_bits - 16``. The compiler never writes such values; an edited or
foreign image must be refused by ``Image.verify`` with a one-line error, not run to wrong weights."""
from __future__ import annotations

import copy

import pytest

from bench.clopath_accuracy import pairing_network
from neuromap.errors import ImageError
from neuromap.toolchain import compile_network


@pytest.fixture(scope="module")
def image():
    net, _ = pairing_network(20.0, 10.0, n_pairs=1)
    return compile_network(net, "loihi").image


def _with(image, **fields):
    img = copy.deepcopy(image)
    pm = next(pm for pm in img.projections if pm.learning and pm.learning["engine"] == "clopath")
    pm.learning.update(fields)
    return img


def test_compiled_image_verifies(image):
    lrn = next(pm.learning for pm in image.projections if pm.learning)
    assert lrn["v_shift"] == image.arithmetic.voltage_bits - 16 and lrn["ltp_sh"] >= 11
    image.verify()


def test_small_v_shift_is_refused(image):
    with pytest.raises(ImageError, match=r"v_shift 7 is below voltage_bits - 16 = 8"):
        _with(image, v_shift=7).verify()


def test_small_ltp_shift_is_refused(image):
    with pytest.raises(ImageError, match=r"ltp_sh 10 is below 11"):
        _with(image, ltp_sh=10).verify()
    _with(image, ltp_m=0, ltp_sh=0).verify()          # a zero coefficient is written as (0, 0)
