"""Run a script written by export-lava in a subprocess and compare it with the emulator (tests/backends)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from emulator import emulate


def run_script(script, steps: int, cwd):
    """(the script's result npz, the finished process) of ``script --steps steps`` run in ``cwd``."""
    run = subprocess.run([sys.executable, str(script), "--steps", str(steps), "--out", "res.npz"],
                         cwd=cwd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return np.load(cwd / "res.npz"), run


def assert_like_emulator(img, got, steps: int):
    """Spikes and the probed u/v of the script's result equal the emulator's every step; returns the emulator run
    (probe: every neuron the script traced)."""
    probe = np.union1d(got["probe_u"], got["probe_v"])
    emu = emulate(img, steps, "numba", probe=probe)
    assert np.array_equal(got["spikes"], emu.spikes)
    assert len(emu.spikes) > 0
    for var in ("u", "v"):
        cols = np.searchsorted(probe, got["probe_" + var])
        assert np.array_equal(got[var], (emu.u if var == "u" else emu.v)[:, cols])
    return emu, probe
