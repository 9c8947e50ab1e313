"""Real MPI (mpi4py + MPICH from the package registry, installed by make install): ``neuromap run --ranks 2``
and ``mpiexec -n K neuromap run`` write the results file of the one-process run (every array equal), a
shard failing its checksum stops every rank with one error line and exit code 2, a rank that dies stops the
whole run (no hang). Each case starts mpiexec (a few seconds); K = 3 and 4 are ``slow``."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backends.emulator import load_results, run
from emulator.sharded import partition
from neuromap.poisson_stream import PER_INPUT, SEQUENTIAL
from neuromap.toolchain import compile_network
from tests.helpers.images import random_image
from tests.helpers.mpi_nets import plastic_net, poisson_net, with_chips
from tests.helpers.placement import small_target
from tests.helpers.ranks import assert_same_results

pytest.importorskip("mpi4py", reason="MPI tests need mpi4py + MPICH (pip install 'neuromap[mpi]'; make install)")

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MPIEXEC = str(BIN / "mpiexec") if (BIN / "mpiexec").exists() else "mpiexec"
TIMEOUT = 240


def _env():
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _neuromap(*args, mpiexec_ranks: int | None = None):
    cmd = [sys.executable, "-m", "neuromap", *map(str, args)]
    if mpiexec_ranks:
        cmd = [MPIEXEC, "-n", str(mpiexec_ranks), *cmd]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)


def _same_files(a: Path, b: Path):
    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert np.array_equal(x[k], y[k]), k


@pytest.fixture(scope="module")
def plastic_build(tmp_path_factory):
    """A compiled plastic network with Poisson inputs and delays on 8+ small cores."""
    d = tmp_path_factory.mktemp("mpi") / "plastic"
    compile_network(plastic_net(5, "homeostatic_stdp"), small_target(max_neurons=4), placer="greedy").image.save(d)
    return d


def test_run_ranks_2_writes_the_one_process_results_gathered_or_per_rank(plastic_build, tmp_path):
    ref = run(plastic_build, 120)
    ref.save(tmp_path / "one.npz")
    one = _neuromap("run", plastic_build, "--steps", 120, "--json", "--quiet")
    assert one.returncode == 0, one.stderr
    r = _neuromap("run", plastic_build, "--steps", 120, "--ranks", 2, "-o", tmp_path / "two.npz", "--quiet",
                  "--results", "gathered")
    assert r.returncode == 0, r.stderr
    assert "2 MPI ranks" in r.stdout
    _same_files(tmp_path / "one.npz", tmp_path / "two.npz")
    r = _neuromap("run", plastic_build, "--steps", 120, "--ranks", 2, "-o", tmp_path / "parts.npz", "--quiet",
                  "--json")                                          # per-rank: the default
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "parts.npz.parts").iterdir()) == [
        "rank-00000-of-00002.bin", "rank-00001-of-00002.bin"]
    assert_same_results(load_results(tmp_path / "one.npz"), load_results(tmp_path / "parts.npz"))
    a, b = json.loads(one.stdout), json.loads(r.stdout)
    for k in ("populations", "inter_core_messages", "readouts"):
        assert a[k] == b[k], k


@pytest.mark.slow
@pytest.mark.parametrize("K", [3, 4])
def test_mpiexec_n_k_writes_the_one_process_results_file(plastic_build, tmp_path, K):
    run(plastic_build, 200).save(tmp_path / "one.npz")
    r = _neuromap("run", plastic_build, "--steps", 200, "-o", tmp_path / "k.npz", "--quiet", "--results",
                  "gathered", mpiexec_ranks=K)
    assert r.returncode == 0, r.stderr
    _same_files(tmp_path / "one.npz", tmp_path / "k.npz")
    r = _neuromap("run", plastic_build, "--steps", 200, "-o", tmp_path / "p.npz", "--quiet", mpiexec_ranks=K)
    assert r.returncode == 0, r.stderr
    assert_same_results(load_results(tmp_path / "one.npz"), load_results(tmp_path / "p.npz"))


@pytest.mark.parametrize("kind", [PER_INPUT, SEQUENTIAL])
def test_mpiexec_n_2_generates_inputs_on_their_ranks(tmp_path, kind):
    """Many Poisson inputs on 8+ cores, one shard file a core: per-input streams drawn by the ranks whose cores
    they reach (an older, sequential image replayed whole by each rank) give the one-process results file."""
    img = compile_network(poisson_net(3), small_target(max_neurons=3), placer="greedy").image
    d = tmp_path / "img"
    with_chips(dataclasses.replace(img, poisson_stream=kind)).save(d)
    run(d, 150).save(tmp_path / "one.npz")
    r = _neuromap("run", d, "--steps", 150, "-o", tmp_path / "two.npz", "--quiet", mpiexec_ranks=2)
    assert r.returncode == 0, r.stderr
    assert_same_results(load_results(tmp_path / "one.npz"), load_results(tmp_path / "two.npz"))   # per rank
    r = _neuromap("run", d, "--steps", 150, "-o", tmp_path / "g.npz", "--quiet", "--results", "gathered",
                  mpiexec_ranks=2)
    assert r.returncode == 0, r.stderr
    _same_files(tmp_path / "one.npz", tmp_path / "g.npz")


def test_a_shard_failing_its_checksum_stops_every_rank_with_one_error(tmp_path):
    """Only rank 1 reads the shard of its chips: its checksum error reaches every rank, rank 0 prints it."""
    d = tmp_path / "img"
    img = with_chips(random_image(8, n_pops=4, max_size=12))
    img.save(d)
    mine = int(np.flatnonzero(partition(img, 2) == 1)[-1])
    z = d / "shards" / f"{mine:05d}.bin"
    raw = bytearray(z.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    z.write_bytes(bytes(raw))
    r = _neuromap("run", d, "--steps", 10, "--quiet", mpiexec_ranks=2)
    assert r.returncode == 2
    lines = [s for s in r.stderr.splitlines() if s.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("neuromap: error: rank 1: ") and f"{mine:05d}.bin" in lines[0]
    assert "fails its checksum" in lines[0]


DIE = """
import os, sys
import numpy as np
from emulator import sharded
from tests.helpers.images import random_image
from tests.helpers.mpi_nets import plastic_net, with_chips

class Dying(sharded.MpiComm):
    calls = 0
    def exchange(self, sends, sources):
        Dying.calls += 1
        if self.rank == 1 and Dying.calls == 5:
            os._exit(9)                 # the rank dies in the middle of the run
        return super().exchange(sends, sources)

from mpi4py import MPI
img = random_image(3, max_delay=1)
sharded.run_rank(img, 2000, comm=Dying(MPI.COMM_WORLD))
print("finished", flush=True)
"""


def test_a_rank_that_dies_stops_the_run_without_a_hang(tmp_path):
    script = tmp_path / "die.py"
    script.write_text(DIE)
    r = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], env=_env(), capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=ROOT)
    assert r.returncode != 0
    assert "finished" not in r.stdout
