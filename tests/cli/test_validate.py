"""neuromap validate: first-divergence reports on hand-made Results, and the CLI end to end (exit 0 / 1 / 2)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.emulator import Results
from backends.lava.compat import lava_available
from neuromap.cli import main
from neuromap.errors import ValidationMismatch
from neuromap.validate import check_identical, first_divergence, probe_everything
from tests.helpers.images import random_image


def results(spikes=None, u=None, v=None) -> Results:
    r = Results(steps=5, spikes=spikes or {"a": np.array([[0, 1], [2, 0], [2, 3]]), "in": np.array([[1, 0]])},
                core_spikes=np.array([3]), link_spikes=np.array([[0], [1]]))
    r.u = u or {"a": np.arange(10).reshape(5, 2)}
    r.v = v or {"a": -np.arange(10).reshape(5, 2)}
    r.neurons = {"a": np.array([1, 3])}
    return r


def test_identical_line():
    assert check_identical(results(), results()) == "identical: 5 steps, 4 spikes"


def test_extra_spike_is_reported_with_step_population_neuron_values():
    b = results(spikes={"a": np.array([[0, 1], [1, 2], [2, 0], [2, 3]]), "in": np.array([[1, 0]])})
    d = first_divergence(results(), b)
    assert (d.step, d.what, d.population, d.neuron, d.a, d.b) == (1, "spike", "a", 2, 0, 1)
    with pytest.raises(ValidationMismatch, match=r"step 1: population 'a' neuron 2 spike: emulator 0, lava 1"):
        check_identical(results(), b)


def test_trace_divergence_before_the_spike_it_causes_wins():
    u = np.arange(10).reshape(5, 2)
    u[2, 1] = 99                                      # neuron 3 (column 1) at step 2
    b = results(spikes={"a": np.array([[0, 1], [2, 0]]), "in": np.array([[1, 0]])}, u={"a": u})
    d = first_divergence(results(), b)
    assert (d.step, d.what, d.neuron, d.a, d.b) == (2, "u", 3, 5, 99)
    v = -np.arange(10).reshape(5, 2)
    v[1, 0] = 7
    d = first_divergence(results(), results(v={"a": v}))
    assert (d.step, d.what, d.neuron, d.a, d.b) == (1, "v", 1, -2, 7)


def test_traffic_and_length_are_checked():
    b = results()
    b.link_spikes = np.array([[0], [2]])
    with pytest.raises(ValidationMismatch, match="link_spikes differ"):
        check_identical(results(), b)
    with pytest.raises(ValidationMismatch, match="differ in length"):
        check_identical(results(), dataclasses.replace(results(), steps=6))


def test_probe_everything():
    img = random_image(2)
    p = probe_everything(img)
    assert {pr.population for pr in p.probes} == {q.name for q in img.populations if q.kind == "neuron"}
    assert all(pr.neurons is None and set(pr.variables) == {"spikes", "u", "v"} for pr in p.probes)
    assert p.neurons is img.neurons


def test_cli_bad_inputs_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "nope"), "--steps", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no manifest.json" in err[0]


def test_cli_missing_lava_exit_2(tmp_path, capsys, monkeypatch):
    import backends.lava.build as build
    import backends.lava.compat as compat
    import backends.lava.run as run
    random_image(1).save(tmp_path / "b")

    def missing():
        raise compat.LavaMissingError(f"lava-nc is not installed: {compat.INSTALL_HINT}")
    for module in (compat, build, run):   # every module that bound import_lava
        monkeypatch.setattr(module, "import_lava", missing)
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "b"), "--steps", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make install" in err[0]


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_cli_identical_then_mismatch(tmp_path, capsys, monkeypatch):
    img = random_image(21, n_pops=3, n_proj=5)
    img.save(tmp_path / "b")
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "b"), "--steps", "30", "--probe-all"])
    cap = capsys.readouterr()
    out = cap.out.strip()
    assert e.value.code == 0, cap.err
    from backends.emulator import run as run_emulator
    want = sum(len(s) for s in run_emulator(img, 30).spikes.values())
    assert out.splitlines()[0] == f"identical: 30 steps, {want} spikes" and want > 0
    assert out.splitlines()[1].startswith("  time split: lava ") and len(out.splitlines()) == 2

    # a Lava result with one flipped spike -> exit 1 naming it
    import backends.lava.run as lava_run
    real = lava_run.run

    def flipped(image, steps):
        """Lava's result with the spike of neuron 0 of p0 at the last step toggled."""
        res = real(image, steps)
        s = res.spikes["p0"]
        hit = (s[:, 0] == steps - 1) & (s[:, 1] == 0)
        res.spikes["p0"] = s[~hit] if hit.any() else np.concatenate([s, [[steps - 1, 0]]])
        return res
    monkeypatch.setattr(lava_run, "run", flipped)
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "b"), "--steps", "30"])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("first divergence at step 29: population 'p0' neuron 0 spike: emulator ")


@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["spike", "u", "v"]))
@settings(max_examples=60, deadline=None)
def test_first_divergence_is_the_earliest_perturbation(seed, what):
    """Random runs; one entry (spike, u or v at a random step/neuron) of a copy perturbed: exactly that
    entry is reported, with both values; a run against itself has no divergence."""
    rng = np.random.default_rng(seed)
    steps, size = int(rng.integers(1, 12)), int(rng.integers(1, 6))
    raster = rng.random((steps, size)) < 0.3
    t, i = np.nonzero(raster)
    u, v = rng.integers(-9, 9, (steps, size)), rng.integers(-9, 9, (steps, size))
    a = Results(steps, {"p": np.stack([t, i], 1)}, {"p": u}, {"p": v}, {"p": np.arange(size)})
    T, I = int(rng.integers(0, steps)), int(rng.integers(0, size))
    r2, u2, v2 = raster.copy(), u.copy(), v.copy()
    if what == "spike":
        r2[T, I] = ~r2[T, I]
    else:
        (u2 if what == "u" else v2)[T, I] += 1
    t2, i2 = np.nonzero(r2)
    b = Results(steps, {"p": np.stack([t2, i2], 1)}, {"p": u2}, {"p": v2}, {"p": np.arange(size)})
    d = first_divergence(a, b)
    want_a = {"spike": int(raster[T, I]), "u": int(u[T, I]), "v": int(v[T, I])}[what]
    want_b = {"spike": int(r2[T, I]), "u": int(u2[T, I]), "v": int(v2[T, I])}[what]
    assert (d.step, d.what, d.population, d.neuron, d.a, d.b) == (T, what, "p", I, want_a, want_b)
    assert first_divergence(a, a) is None
