"""``neuromap simulate NETWORK --steps N [-o out.npz] [--seed S]``: summary, output file, exit codes."""
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.cli import run_cli as run

NET = """\
format: neuromap/1
name: tiny
dt: 0.5
seed: 3
populations:
  src: {size: 2, neuron: {model: spike_source, times: [[0.5, 1.0, 1.5], [2.5]]}}
  out: {size: 3, neuron: {model: lif, v_th: 1.0}}
projections:
  - {pre: src, post: out, connect: {rule: fixed_probability, p: 0.5}, weight: 0.01}
probes: [{population: out, variables: [v]}]
"""


def test_summary_and_output_file(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(NET)
    code, out, err = run(["simulate", str(tmp_path / "tiny.yaml"), "--steps", "20", "-o", str(tmp_path / "o.npz")],
                         capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("tiny: 20 steps of 0.5 ms (0.01 s simulated), seed 3")
    # src: 4 spikes over 2 neurons and 10 ms -> 4 / (2 * 0.01 s) = 200 Hz; out: 0.01 weights stay far below v_th
    assert lines[2].split() == ["src", "spike_source", "2", "4", "200.000"]
    assert lines[3].split() == ["out", "lif", "3", "0", "0.000"]
    z = np.load(tmp_path / "o.npz")
    assert z["spikes.src.step"].tolist() == [1, 2, 3, 5] and z["spikes.src.index"].tolist() == [0, 0, 0, 1]
    assert z["trace.out.v"].shape == (20, 3) and int(z["steps"]) == 20
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp.npz")]


def test_seed_option_replaces_the_network_seed(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(NET)
    code, out, _ = run(["simulate", str(tmp_path / "tiny.yaml"), "--steps", "1", "--seed", "11"], capsys)
    assert code == 0 and ", seed 11," in out.splitlines()[0]


@pytest.mark.parametrize("argv_tail,expected", [
    (["--steps", "5"], "projections[0].connect.p: 1.5 is out of range"),
    (["--steps", "5", "-o", "x.txt"], "x.txt: output must be a .npz file"),
    ([], "Missing option '--steps'"),
])
def test_errors_exit_2_with_one_line(tmp_path, capsys, argv_tail, expected):
    (tmp_path / "bad.yaml").write_text(NET.replace("p: 0.5", "p: 1.5"))
    code, out, err = run(["simulate", str(tmp_path / "bad.yaml")] + argv_tail, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("neuromap: error: ") and expected in err


def test_bad_file_in_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "bad.yaml").write_text("format: neuromap/1\npopulations:\n  a: {size: -2, neuron: lif}\n")
    proc = subprocess.run([sys.executable, "-m", "neuromap", "simulate", str(tmp_path / "bad.yaml"), "--steps", "3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == f"neuromap: error: {tmp_path / 'bad.yaml'}: populations.a.size: size -2 < 1 " \
                          "(size is an integer >= 1)\n"
