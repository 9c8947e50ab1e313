"""neuromap export-lava: the written script runs on its own (subprocess) and spikes like the emulator."""
from __future__ import annotations

import ast

import numpy as np
import pytest

from backends.lava.compat import lava_available
from neuromap.cli import main
from tests.helpers.exported import assert_like_emulator, run_script
from tests.helpers.images import random_image


def test_cli_writes_a_valid_script_and_arrays(tmp_path, capsys):
    img = random_image(31, n_pops=3, n_proj=6)
    img.save(tmp_path / "b")
    with pytest.raises(SystemExit) as e:
        main(["export-lava", str(tmp_path / "b"), "-o", str(tmp_path / "out" / "net_lava.py"), "--steps", "25"])
    assert e.value.code == 0
    assert "net_lava.py" in capsys.readouterr().out
    text = (tmp_path / "out" / "net_lava.py").read_text()
    ast.parse(text)
    assert "Loihi2SimCfg(select_tag=\"fixed_pt\")" in text and "default=25" in text
    z = np.load(tmp_path / "out" / "net_lava.npz")
    assert np.array_equal(z["input.poisson_p"], img.inputs["poisson_p"], equal_nan=True)
    n_lif = text.count("= LIF(")
    assert n_lif == len([k for k in z.files if k.endswith(".neurons")])
    assert sum(z[k].size for k in z.files if k.endswith(".weights")) >= 1


def test_cli_bad_output_name_exit_2(tmp_path, capsys):
    random_image(1).save(tmp_path / "b")
    with pytest.raises(SystemExit) as e:
        main(["export-lava", str(tmp_path / "b"), "-o", str(tmp_path / "net.txt")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must end in .py" in err[0]


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_exported_script_spikes_like_the_emulator(tmp_path):
    from backends.lava.export import export_script

    img = random_image(32, n_pops=4, n_proj=7)
    script, _ = export_script(img, tmp_path / "net_lava.py", steps=10)
    steps = 35
    got, run = run_script(script, steps, tmp_path)
    emu, _ = assert_like_emulator(img, got, steps)
    n = int(np.count_nonzero(emu.spikes[:, 1] < img.n_neurons))
    assert f"{steps} steps, {n} neuron spikes" in run.stdout
