"""``neuromap compile --freeze``: plasticity dropped before compiling, so Lava can validate a seed example."""
import os

import pytest

from backends.lava.compat import lava_available
from neuromap.image import load_image
from tests.helpers.cli import run_cli as cli  # main(argv) -> (exit code, stdout, stderr)

RAMP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "ramp_lif.yaml")


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
    split = out.splitlines()[1]                 # the time split: every phase named, the parts add up
    assert split.startswith("  time split: lava ") and ", emulator " in split and ", compare " in split
    parts = [float(p.split()[-2]) for p in split.split(": ", 1)[1].split(" (total")[0].split(", ")]
    assert abs(sum(parts) - float(split.split("(total ")[1].split()[0])) <= 0.15


@pytest.mark.skipif(not lava_available(), reason="pair stdp compiles through lava-nc's learning-rule parser (not installed: core-only venv)")
def test_each_approximation_is_reported_once(tmp_path, capsys):
    """The check pass and the quantizer both see an over-long refractory period and a rule without an
    integer engine; compile prints each once (the check's line, which carries the fix)."""
    net = tmp_path / "net.yaml"
    net.write_text("""
format: neuromap/1
seed: 3
populations:
  x: {size: 10, neuron: {model: poisson, rate: 50.0}}
  y: {size: 4, neuron: {model: lif, tau_m: 10.0, tau_syn: 5.0, v_th: 1.0, v_reset: 0.0, refractory: 100}}
projections:
  - {pre: x, post: y, connect: all_to_all, weight: 0.2, plasticity: {rule: stdp}}
""")
    code, out, err = cli(["compile", str(net), "-o", str(tmp_path / "b"), "--placer", "greedy"], capsys)
    assert code == 0, err
    lines = [ln for ln in (out + err).splitlines() if not ln.startswith("fidelity:")]   # the loss summary
    fid = [ln for ln in out.splitlines() if ln.startswith("fidelity:")]
    assert len(fid) == 1 and "refractory dropped: y (37 steps)" in fid[0] and "frozen" not in fid[0], fid
    refr = [ln for ln in lines if "refractory" in ln]
    frozen = [ln for ln in lines if "frozen" in ln]
    assert len(refr) == 1 and "refractory: 63" in refr[0], lines
    assert not frozen, lines          # pair stdp compiles onto the Loihi learning engine (issue 19)
    q = load_image(tmp_path / "b").options["quantization"]["warnings"]   # the quantizer's own report keeps both
    assert any(w.startswith("populations.y.refractory: shortened by up to 37") for w in q)
