"""The placer's time budget (neuromap/placement/budget.py): wall-clock and deterministic modes,
deadlines never make a result invalid or worse than sequential, option errors, phase progress."""
import time

import numpy as np
import pytest
import scipy.sparse as sp

from neuromap.cli import main
from neuromap.toolchain import compile_network
from neuromap.compiler.place import verify_image_capacities
from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.placement import SynapseGraph, place_graph
from neuromap.placement.anneal import _off_diagonal, anneal, moves_per_unit
from neuromap.placement.budget import Budget, default_time_limit
from neuromap.placement.mesh import place
from neuromap.targets import load_target
from tests.helpers.placement import random_traffic, ring_net, small_target

HW_NET = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "lava_port_hw.yaml")


def _clustered_graph(n_groups=6, size=12, seed=1):
    """Groups of densely connected neurons in shuffled id order, so sequential ids are a poor partition."""
    rng = np.random.default_rng(seed)
    n = n_groups * size
    perm = rng.permutation(n)
    pre, post = [], []
    for g in range(n_groups):
        ids = perm[g * size:(g + 1) * size]
        a, b = np.meshgrid(ids, ids)
        keep = (a != b) & (rng.random(a.shape) < 0.5)
        pre.append(a[keep])
        post.append(b[keep])
    return SynapseGraph.from_arrays(n, np.concatenate(pre), np.concatenate(post))


# ------------------------------------------------------------------ Budget itself
def test_deterministic_budget_counts_charged_units_and_sub_budgets_share_them():
    b = Budget(10.0, deterministic=True)
    assert b.left() == 10.0
    s = b.sub(0.5)                      # 5 units of the 10 left
    assert s.limit == 5.0
    s.charge(2.0)
    assert s.left() == 3.0 and b.left() == 8.0   # charged to the parent too
    s.charge(4.0)
    assert s.left() == 0.0 and s.expired() and b.left() == 4.0
    inner = b.sub(1.0, cap=1.5)
    assert inner.limit == 1.5


def test_wall_budget_expires_and_a_sub_budget_never_outlives_its_parent():
    b = Budget(0.05)
    s = b.sub(1.0)
    s.charge(100.0)                     # ignored by a wall-clock budget
    assert 0 < s.left() <= 0.05
    time.sleep(0.08)
    assert b.expired() and s.expired() and b.left() == 0.0


def test_phase_records_split_and_reports_progress():
    calls = []
    b = Budget(5.0, deterministic=True, progress=lambda ph, d, t: calls.append((ph, d, t)))
    with b.phase("a"):
        pass
    with b.sub(0.5).phase("b"):
        pass
    assert set(b.split) == {"a", "b"} and all(v >= 0 for v in b.split.values())
    assert calls == [("a", 0, 1), ("a", 1, 1), ("b", 0, 1), ("b", 1, 1)]


def test_default_budget_grows_with_synapses_and_stays_under_a_minute():
    v = [default_time_limit(n) for n in (0, 10**5, 10**6, 10**7, 10**9)]
    assert v == sorted(v) and v[0] >= 1 and v[-1] <= 60 and v[2] < 10


# ------------------------------------------------------------------ solvers stop at the budget
def _slots_and_traffic(n, side, seed):
    """Random symmetric traffic of ``n`` cores, a ``side`` x ``side`` slot grid and a random start."""
    t = sp.random(n, n, density=0.4, random_state=seed, format="csr")
    sx, sy = np.repeat(np.arange(side), side), np.tile(np.arange(side), side)
    return (t + t.T).tocsr(), sx, sy, np.random.default_rng(seed).permutation(side * side)[:n]


def test_annealing_under_a_deterministic_budget_runs_the_moves_it_was_charged_for():
    sym, sx, sy, pos = _slots_and_traffic(12, 4, 3)
    b = Budget(0.01, deterministic=True)   # 0.01 units: half the moves per chain
    got, cost = anneal(sym, sx, sy, pos, 1_000_000, seed=4, budget=b)
    moves = int(0.01 * moves_per_unit(_off_diagonal(sym)) / 2)
    assert 1000 < moves < 1_000_000
    want, want_cost = anneal(sym, sx, sy, pos, moves, seed=4)
    assert np.array_equal(got, want) and cost == want_cost and b.expired()


def test_wall_clock_annealing_keeps_the_best_and_never_gets_worse():
    sym, sx, sy, pos = _slots_and_traffic(30, 6, 6)
    _, before = anneal(sym, sx, sy, pos, 0)
    for limit in (1e-4, 0.2):
        got, cost = anneal(sym, sx, sy, pos, 10_000_000, seed=1, budget=Budget(limit))
        assert cost <= before + 1e-9 and len(set(got.tolist())) == 30


@pytest.mark.parametrize("deterministic", [False, True])
def test_a_spent_budget_still_gives_a_valid_placement_no_worse_than_sequential(deterministic):
    g = _clustered_graph()
    tgt = small_target(max_neurons=12, max_input_axons=80)
    b = Budget(1e-4, deterministic=deterministic)
    res = place_graph(g, tgt, "cpsat", budget=b)
    rep = res.report
    assert rep.hop_weighted_traffic <= rep.sequential_hop_weighted_traffic + 1e-9
    assert rep.inter_core_packets <= res.report.stats["partition"]["sequential_objective"] + 1e-9
    assert np.bincount(res.assignment.core_of).max() <= 12
    assert len(set(zip(res.placement.tile_x.tolist(), res.placement.tile_y.tolist(),
                       res.placement.slot.tolist()))) == rep.n_cores
    assert set(rep.time_split_s) >= {"partition.sequential", "partition.greedy", "mesh.greedy"}


def test_mesh_phases_under_a_tiny_wall_budget_skip_but_never_fail():
    traffic = random_traffic(np.random.default_rng(9), 40, density=0.3, high=4)
    t = load_target("loihi")
    b = Budget(1e-3)
    p = place(traffic, t, "cpsat", budget=b)
    seq = place(traffic, t, "sequential")
    assert p.objective <= seq.objective + 1e-9
    assert p.bound is not None and p.bound <= p.objective + 1e-9     # the cheap bounds still hold
    t0 = time.perf_counter()
    place(traffic, t, "cpsat", budget=Budget(0.5))
    assert time.perf_counter() - t0 < 60          # generous sanity only (no timed assertions)


# ------------------------------------------------------------------ compile: options, determinism
def test_deterministic_compile_gives_the_same_image_every_time(tmp_path):
    kw = dict(placer="cpsat", time_limit=0.3, deterministic=True, seed=2)
    a = compile_network(ring_net(), small_target(), **kw).image
    b = compile_network(ring_net(), small_target(), **kw).image
    for k in ("tile_x", "tile_y", "chip"):
        assert np.array_equal(a.cores[k], b.cores[k])
    assert np.array_equal(a.neurons["core"], b.neurons["core"])
    ra, rb = a.options["placement"], b.options["placement"]
    assert ra["deterministic"] and ra["time_limit"] == 0.3
    assert ra["hop_weighted_traffic"] == rb["hop_weighted_traffic"]
    assert ra["inter_core_packets"] == rb["inter_core_packets"] and ra["partition_cores"] == rb["partition_cores"]


def test_default_compile_is_wall_clock_with_the_scaled_budget_and_reports_the_split():
    net = ring_net()
    img = compile_network(net, small_target(), placer="cpsat").image
    rep = img.options["placement"]
    assert rep["deterministic"] is False
    assert rep["time_limit"] == default_time_limit(SynapseGraph.from_network(net).n_synapses)
    assert rep["time_split_s"] and all(v >= 0 for v in rep["time_split_s"].values())
    assert rep["hop_weighted_traffic"] <= rep["sequential_hop_weighted_traffic"] + 1e-9
    assert verify_image_capacities(img, small_target()) == []


def test_tiny_wall_budget_compile_is_valid_and_no_worse_than_sequential():
    img = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=0.001).image
    rep = img.options["placement"]
    assert rep["hop_weighted_traffic"] <= rep["sequential_hop_weighted_traffic"] + 1e-9
    assert verify_image_capacities(img, small_target()) == []


@pytest.mark.parametrize("opts,words", [
    ({"time_limit": 0}, ["time_limit", "> 0"]),
    ({"time_limit": "soon"}, ["time_limit", "not a number"]),
    ({"time_limit": float("inf")}, ["time_limit", "finite"]),
    ({"deterministic": "yes"}, ["deterministic", "true or false"]),
])
def test_bad_budget_options_are_one_line_errors(opts, words):
    with pytest.raises(TargetError) as e:
        compile_network(ring_net(), small_target(), placer="greedy", **opts).image
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


@pytest.mark.parametrize("argv,words", [
    (["--time-limit", "0"], ["'--time-limit'", "x>0"]),
    (["--time-limit", "abc"], ["'--time-limit'", "abc"]),
    (["--deterministic=yes"], ["--deterministic", "does not take a value"]),
])
def test_cli_budget_option_errors_are_one_line_exit_2(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile", HW_NET, "-o", str(tmp_path / "out")] + argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert all(w in err for w in words), err


def test_cli_deterministic_twice_prints_the_same_placement(tmp_path, capsys):
    import json
    outs = []
    for k in range(2):
        with pytest.raises(SystemExit) as info:
            main(["compile", HW_NET, "-o", str(tmp_path / f"o{k}"), "--deterministic", "--time-limit", "0.5",
                  "--json"])
        assert info.value.code == 0
        rep = json.loads(capsys.readouterr().out)["placement"]
        rep.pop("time_split_s")
        rep.pop("solve_time_s")
        outs.append(rep)
    assert outs[0] == outs[1] and outs[0]["deterministic"] is True and outs[0]["time_limit"] == 0.5


# ------------------------------------------------------------------ progress through the phases
class _Rec:
    def __init__(self):
        self.calls, self.labels = [], []

    def __call__(self, done, total):
        self.calls.append((done, total))

    def label(self, text):
        self.labels.append(text)


def test_compile_progress_moves_through_the_placement_phases():
    rec = _Rec()
    compile_network(ring_net(), small_target(), placer="cpsat", time_limit=0.5, deterministic=True, progress=rec).image
    done = [d for d, _ in rec.calls]
    assert done == sorted(done) and rec.calls[-1][0] == rec.calls[-1][1]
    assert any(lb.startswith("place: partition.") for lb in rec.labels)
    assert any(lb.startswith("place: mesh.") for lb in rec.labels)
    total = rec.calls[-1][1]
    assert len({d for d in done if 0 < d < total}) > 3    # it moves inside the passes, not only at their ends


# ------------------------------------------------------------------ TrueNorth solves share the budget
def test_truenorth_compile_under_a_tiny_budget_is_valid():
    rng = np.random.default_rng(3)
    net = Network(name="tn", seed=3)
    net.add_population("inp", 8, {"model": "spike_source", "times": [[1, 4]] * 8})
    net.add_population("h", 10, "if", v_th=1.0)
    net.connect("inp", "h", {"rule": "matrix", "matrix": np.round(rng.uniform(-0.5, 0.5, (10, 8)), 3).tolist()})
    tiny = compile_network(net, "truenorth", time_limit=1e-4).image
    tn = tiny.options["truenorth"]
    assert tn["time_limit"] == 1e-4 and not tn["deterministic"] and "tn.crossbar" in tn["time_split_s"]
    a = compile_network(net, "truenorth", time_limit=0.5, deterministic=True).image
    b = compile_network(net, "truenorth", time_limit=0.5, deterministic=True).image
    ca, cb = a.options["truenorth"]["crossbar"], b.options["truenorth"]["crossbar"]
    for c in (ca, cb):
        for row in c["rows"]:
            row.pop("seconds")
    assert ca == cb and np.array_equal(a.synapses["weight"], b.synapses["weight"])
