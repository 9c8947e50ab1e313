"""Progress callbacks (``progress(done, total)``) and the CLI's bars: drawn on a terminal only, never with
``--quiet``, never in pipes (no bar characters in captured output)."""
import io
import os

import numpy as np

import pytest

import neuromap.progress as progress_mod
from neuromap.cli import main
from neuromap.io import load_network
from tests.helpers.cli import run_cli as cli

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
HW = os.path.join(EXAMPLES, "lava_port_hw.yaml")
RAMP = os.path.join(EXAMPLES, "ramp_lif.yaml")
BAR_JUNK = ("\r", "[#", "%", "\x1b[")


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


class LabelRecorder(Recorder):
    """Also records the phase names (``progress.label(text)``), in order, with the call count at each."""
    def __init__(self):
        super().__init__()
        self.labels = []

    def label(self, text):
        self.labels.append((text, len(self.calls)))


@pytest.fixture(scope="module")
def hw_image():
    from neuromap.toolchain import compile_network
    return compile_network(load_network(HW), target="loihi", placer="sequential").image


def test_emulator_reports_each_chunk(hw_image, monkeypatch):
    import emulator
    from backends.emulator import run
    width = hw_image.n_neurons + hw_image.n_inputs
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 30 * width)  # 30-step chunks
    rec = Recorder()
    res = run(hw_image, 100, progress=rec)
    assert rec.calls == [(30, 100), (60, 100), (90, 100), (100, 100)]
    assert res.steps == 100


def test_float_simulator_reports_each_chunk(monkeypatch):
    import neuromap.simulator.core as core
    from neuromap.simulator import simulate
    monkeypatch.setattr(core, "CHUNK", 7)
    rec = Recorder()
    simulate(load_network(RAMP), 20, progress=rec)
    assert rec.calls == [(7, 20), (14, 20), (20, 20)]


def test_compiler_reports_each_pass():
    from neuromap.toolchain import compile_network
    rec = Recorder()
    img = compile_network(load_network(HW), target="loihi", placer="sequential", progress=rec).image
    from neuromap.compiler.pipeline import PASS_UNITS
    n = rec.calls[-1][1]
    done = [d for d, _ in rec.calls]
    assert n % PASS_UNITS == 0 and n // PASS_UNITS >= 2 and all(t == n for _, t in rec.calls)
    assert done == sorted(done)                                        # never goes back
    assert set(range(PASS_UNITS, n + 1, PASS_UNITS)) <= set(done)      # every pass end is reported
    assert "progress" not in img.options  # the callback is not recorded in the image


@pytest.mark.lava
def test_validate_reports_lava_then_emulator(hw_image):
    from neuromap.validate import validate_image
    rec = LabelRecorder()
    assert validate_image(hw_image, 40, progress=rec) == validate_image(hw_image, 40)
    assert rec.calls[:21] == [(2 * k, 80) for k in range(0, 21)]         # start-up, 20 Lava segments of 2 steps
    assert (40, 80) in rec.calls and rec.calls[-1] == (80, 80)
    names = [t.split(" (")[0] for t, _ in rec.labels]
    assert names == ["lava", "building Lava processes", "starting Lava", "Lava", "emulator", "compare"]
    (text, at), = [(t, k) for t, k in rec.labels if t.startswith("starting Lava")]   # named before Lava blocks
    assert text.endswith(" processes)") and rec.calls[at] == (0, 80) and dict(rec.labels)["Lava"] == at + 1


@pytest.mark.lava
def test_lava_run_in_segments_is_identical(hw_image):
    from backends.lava.run import run
    rec = Recorder()
    whole, segmented = run(hw_image, 45), run(hw_image, 45, progress=rec)
    assert [d for d, _ in rec.calls] == list(range(0, 45, 3)) + [45]      # start-up, ceil(45 / 20) = 3 steps each
    for pop, s in whole.spikes.items():
        assert np.array_equal(s, segmented.spikes[pop]), pop
    for pop, u in whole.u.items():
        assert np.array_equal(u, segmented.u[pop]) and np.array_equal(whole.v[pop], segmented.v[pop])


def test_scaled_maps_a_stage_into_the_whole_job():
    rec = Recorder()
    stage = progress_mod.scaled(rec, 50, 150)
    stage(25, 100)
    assert rec.calls == [(75, 150)]
    assert progress_mod.scaled(None, 0, 1) is None


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def terminal(monkeypatch):
    """stdout and stderr are terminals; bars appear at once. Call it inside the test body (pytest's
    capture resets sys.stdout/sys.stderr between fixture setup and the test)."""
    return lambda: _terminal(monkeypatch)


def _terminal(monkeypatch):
    out, err = FakeTTY(), FakeTTY()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress_mod, "DELAY", 0.0)
    return out, err


def test_bar_draws_on_a_terminal_and_ends_at_total(terminal):
    terminal = terminal()
    with progress_mod.bar("work") as p:
        assert p is not None
        for d in (3, 6, 10):
            p(d, 10)
    err = terminal[1].getvalue()
    assert "work" in err and "100%" in err


def test_bar_is_quiet_off_a_terminal_and_with_enabled_false(terminal, monkeypatch):
    terminal = terminal()
    with progress_mod.bar("work", enabled=False) as p:
        assert p is None
    monkeypatch.setattr("sys.stdout", io.StringIO())  # stdout piped, stderr still a terminal
    with progress_mod.bar("work") as p:
        assert p is None
    assert terminal[1].getvalue() == ""


def test_heartbeat_moves_a_bar_whose_job_blocks(terminal, monkeypatch):
    """A phase that reports nothing for seconds (Lava starting its processes) still redraws, with its
    elapsed seconds."""
    terminal = terminal()
    monkeypatch.setattr(progress_mod, "HEARTBEAT", 0.05)
    import time
    with progress_mod.bar("work") as p:
        p(0, 10)
        p.label("starting Lava")
        time.sleep(1.3)                                       # no report meanwhile
        assert "work: starting Lava (1 s)" in terminal[1].getvalue()
        p(10, 10)
    assert "100%" in terminal[1].getvalue()


def test_phase_times_add_up_and_name_the_phase():
    rec = LabelRecorder()
    times = progress_mod.PhaseTimes()
    for name in ("a", "b", "a"):
        with times.phase(name, rec):
            pass
    assert [t for t, _ in rec.labels] == ["a", "b", "a"] and list(times.seconds) == ["a", "b"]
    times.seconds = {"lava": 6.14, "emulator": 0.42}
    assert times.line() == "time split: lava 6.1 s, emulator 0.4 s (total 6.6 s)"
    assert times.as_dict() == {"lava": 6.14, "emulator": 0.42}
    assert progress_mod.PhaseTimes.from_dict(times.as_dict()).line() == times.line()
    with times.phase("none"):                    # no progress: timing only
        pass


def test_bar_waits_for_the_delay(terminal):
    terminal = terminal()
    with progress_mod.bar("work", delay=3600) as p:
        p(10, 10)
    assert terminal[1].getvalue() == ""


def _main_in_terminal(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    import sys
    return info.value.code, sys.stdout.getvalue(), sys.stderr.getvalue()


def test_simulate_bar_on_a_terminal_and_quiet_flag(terminal, monkeypatch):
    terminal = terminal()
    import neuromap.simulator.core as core
    monkeypatch.setattr(core, "CHUNK", 10)
    code, out, err = _main_in_terminal(["simulate", RAMP, "--steps", "30"])
    assert code == 0 and "simulating" in err and "100%" in err
    assert not any(j in out for j in ("[#", "%"))           # the bar goes to stderr only
    terminal[1].seek(0), terminal[1].truncate()
    code, out, err = _main_in_terminal(["simulate", RAMP, "--steps", "30", "--quiet"])
    assert code == 0 and err == ""


@pytest.mark.parametrize("argv", [["simulate", RAMP, "--steps", "50"],
                                  ["compile", HW, "-o", "{tmp}/b", "--placer", "sequential"],
                                  ["run", "{tmp}/b", "--steps", "50"]])
def test_no_bar_junk_when_not_a_terminal(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_mod, "DELAY", 0.0)
    if argv[0] == "run":
        assert cli(["compile", HW, "-o", f"{tmp_path}/b", "--placer", "sequential"], capsys)[0] == 0
    code, out, err = cli([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 0 and err == ""
    assert not any(j in out for j in BAR_JUNK), out
