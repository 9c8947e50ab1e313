"""The Python-built examples (Brunel, topographic sheet) in small versions: compile for loihi with the
default pipeline (quantize, fan-in, cpsat placement), run on the emulator and validate against Lava."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

from backends.lava.compat import lava_available
from neuromap.toolchain import compile_network
from neuromap.validate import validate_image

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")]
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_brunel_small_compiles_runs_and_validates():
    brunel = _example("brunel")
    net = brunel.build(**{**brunel.SMALL, "ne": 400, "ni": 100})
    img = compile_network(net, "loihi", time_limit=2).image
    line = validate_image(img, 150)
    assert line.startswith("identical: 150 steps, ")
    assert int(line.split(", ")[1].split()[0]) > 500         # the network is active


def test_topographic_sheet_small_compiles_runs_and_validates():
    img = compile_network(_example("topographic_sheet").small(), "loihi", time_limit=2).image
    line = validate_image(img, 100, probe_all=True)
    assert line.startswith("identical: 100 steps, ")
    assert int(line.split(", ")[1].split()[0]) > 100
