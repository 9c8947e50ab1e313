"""Every example network file (examples/*.yaml, picked up by glob) compiles, runs a few steps and, when
it is in Loihi hardware units, validates against Lava, all through the ``neuromap`` command line.

Skipped, each with its reason: float-only seed experiments whose models have no hardware mapping,
networks too big to compile in ~10 s, and TrueNorth examples while ``--target truenorth`` cannot compile;
TrueNorth examples are marked ``slow`` (CP-SAT crossbar solves: ~20 s).
"""
import glob
import os
import re

import pytest

from neuromap.cli import main
from neuromap.io import read_network_dict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")))
#: float-only examples: file name -> why it has no compiled counterpart
FLOAT_ONLY = {"ramp_izhikevich.yaml": "float-only seed experiment (izhikevich has no Loihi model); "
                                      "ramp_lif.yaml is its hardware version"}
#: neurons above which compiling takes well over 10 s on 2 cores (brunel.yaml: 25 000 neurons, 15.6 M synapses)
MAX_NEURONS = 5000
STEPS = "20"
HW_MODELS = {"loihi_lif", "spike_source", "poisson"}


def target_of(path: str) -> str:
    """``truenorth`` for ``tn_*`` files and files whose header says ``--target truenorth``, else ``loihi``."""
    with open(path, encoding="utf-8") as f:
        header = "".join(line for line in f if line.startswith("#"))
    tn = os.path.basename(path).startswith("tn_") or re.search(r"--target\s+truenorth", header)
    return "truenorth" if tn else "loihi"


def truenorth_compiles() -> bool:
    try:
        from neuromap.compiler.lower_truenorth import is_truenorth  # noqa: F401
    except ImportError:
        return False
    return True


def cli(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 0, f"neuromap {' '.join(argv)} exited {info.value.code}: {err}"
    return out


def test_examples_are_found():
    names = {os.path.basename(p) for p in EXAMPLES}
    assert {"ramp_lif.yaml", "lava_port_hw.yaml"} <= names
    assert set(FLOAT_ONLY) <= names, "FLOAT_ONLY names a file that is gone"
    assert target_of(os.path.join(ROOT, "examples", "ramp_lif.yaml")) == "loihi"


# TrueNorth compiles solve a CP-SAT crossbar problem per core with a 2 s limit each (tn_feedforward.yaml:
# about 20 s on 2 shared cores), so they run with the slow tests (make test-all)
PARAMS = [pytest.param(p, id=os.path.basename(p), marks=[pytest.mark.slow] if target_of(p) == "truenorth" else [])
          for p in EXAMPLES]


@pytest.mark.parametrize("path", PARAMS)
def test_example_compiles_runs_validates(path, tmp_path, capsys):
    name = os.path.basename(path)
    if name in FLOAT_ONLY:
        pytest.skip(FLOAT_ONLY[name])
    spec = read_network_dict(path)
    neurons = sum(int(p["size"]) for p in spec["populations"].values())
    if neurons > MAX_NEURONS:
        pytest.skip(f"{neurons} neurons: compiling takes well over 10 s (limit {MAX_NEURONS} in this test)")
    target = target_of(path)
    if target == "truenorth" and not truenorth_compiles():
        pytest.skip("`neuromap compile --target truenorth` is not available yet")
    build = str(tmp_path / "build")
    out = cli(["compile", path, "--target", target, "-o", build, "--placer", "greedy", "-q"], capsys)
    assert f"-> {build} (target {target})" in out
    out = cli(["run", build, "--steps", STEPS, "-o", str(tmp_path / "r.npz"), "-q"], capsys)
    assert out.startswith(f"{spec['name']}: {STEPS} steps on emulator") and os.path.getsize(tmp_path / "r.npz") > 0
    models = {p["neuron"]["model"] for p in spec["populations"].values()}
    if target == "loihi" and models <= HW_MODELS:
        pytest.importorskip("lava", reason="validation needs lava-nc (make install)")
        assert cli(["validate", build, "--steps", STEPS, "-q"], capsys).startswith(f"identical: {STEPS} steps")
