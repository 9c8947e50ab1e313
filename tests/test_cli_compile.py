"""``neuromap compile --freeze``: plasticity dropped before compiling, so Lava can validate a seed example."""
import os

import pytest

from neuromap.image import load_image
from test_cli_simulate import run as cli  # main(argv) -> (exit code, stdout, stderr)

RAMP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "ramp_lif.yaml")


def test_freeze_compiles_static_weights(tmp_path, capsys):
    for flag, name in (([], "plastic"), (["--freeze"], "frozen")):
        code, out, err = cli(["compile", RAMP, "-o", str(tmp_path / name), "--placer", "greedy"] + flag, capsys)
        assert code == 0, err
    plastic, frozen = load_image(tmp_path / "plastic"), load_image(tmp_path / "frozen")
    assert all(pm.learning for pm in plastic.projections)          # both Ramp projections learn on chip
    assert not any(pm.learning for pm in frozen.projections)
    assert frozen.n_synapses == plastic.n_synapses


@pytest.mark.lava
def test_frozen_seed_example_validates_against_lava(tmp_path, capsys):
    assert cli(["compile", RAMP, "--freeze", "-o", str(tmp_path / "b"), "--placer", "greedy"], capsys)[0] == 0
    code, out, err = cli(["validate", str(tmp_path / "b"), "--steps", "100"], capsys)
    assert code == 0 and out.startswith("identical: 100 steps"), err
