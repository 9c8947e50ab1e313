"""``--json`` on every reporting command: one JSON object on stdout whose top-level keys are exactly
the ones docs/json.md lists for that command, with values that agree with the text mode and the files."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from neuromap.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
SMALL = "examples/spatial_balanced_ei.py:small"


def documented_keys() -> dict[str, list[str]]:
    """command -> keys from docs/json.md (``## neuromap CMD --json`` then ``keys: a, b, ...``)."""
    out, cmd = {}, None
    for line in DOC.read_text().splitlines():
        m = re.match(r"## neuromap (\S+) --json", line)
        if m:
            cmd = m.group(1)
        elif line.startswith("keys: ") and cmd and cmd not in out:
            out[cmd] = [k.strip() for k in line[len("keys: "):].split(",")]
    return out


def cli_json(capsys, *args, code=0) -> dict:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    assert e.value.code == code, out.err
    lines = out.out.strip().splitlines()
    assert len(lines) == 1, out.out   # exactly one JSON object, nothing else on stdout
    return json.loads(lines[0])


def test_docs_list_every_json_command():
    from neuromap.cli import COMMANDS, cli
    keys = documented_keys()
    with_json = []
    for name in COMMANDS.values():
        cmd = cli.get_command(None, name)
        if any("--json" in p.opts for p in cmd.params):
            with_json.append(name)
    assert set(with_json) - {"targets"} <= set(keys), sorted(set(with_json) - set(keys))
    # every command that prints a report has --json (exports only write files)
    assert set(COMMANDS.values()) - set(with_json) == {"export-lava", "export-nir"}


def test_run_json(capsys, small_sheet_build, tmp_path):
    build, _ = small_sheet_build
    out = tmp_path / "r.npz"
    d = cli_json(capsys, "run", str(build), "--steps", "50", "-o", str(out), "--json")
    assert list(d) == documented_keys()["run"]
    from backends.emulator import load_results
    res = load_results(out)
    assert {p["name"]: p["spikes"] for p in d["populations"]} == {k: v.shape[0] for k, v in res.spikes.items()}
    C = d["cores"]
    assert d["inter_core_messages"] == int(res.link_spikes[:C].sum() - np.trace(res.link_spikes[:C]))
    assert d["steps"] == 50 and d["backend"] == "emulator" and d["engine"] == "numba"
    E = next(p for p in d["populations"] if p["name"] == "E")
    assert E["spikes_per_neuron_step"] == pytest.approx(E["spikes"] / (E["size"] * 50))


def test_simulate_json(capsys):
    d = cli_json(capsys, "simulate", "examples/balanced_ei.yaml", "--steps", "200", "--json")
    assert list(d) == documented_keys()["simulate"]
    E = next(p for p in d["populations"] if p["name"] == "E")
    assert E["rate_hz"] == pytest.approx(E["spikes"] / (E["size"] * 0.2))
    assert d["dt_ms"] == 1.0 and d["steps"] == 200 and d["output"] is None


def test_plot_json(capsys, small_sheet_build, tmp_path):
    build, results = small_sheet_build
    d = cli_json(capsys, "plot", str(build), "--results", str(results), "-o", str(tmp_path / "p"), "--json")
    assert list(d) == documented_keys()["plot"]
    assert sorted(Path(p).name for p in d["written"]) == ["mesh.png", "raster.png"]
    assert all(Path(p).is_file() for p in d["written"])


def test_report_json_keys(capsys, small_sheet_build, tmp_path):
    build, results = small_sheet_build
    d = cli_json(capsys, "report", str(build), "-o", str(tmp_path / "r.html"), "--json")
    assert list(d) == documented_keys()["report"]


def test_inspect_and_compile_json_keys(capsys, small_sheet_build, tmp_path):
    build, _ = small_sheet_build
    assert list(cli_json(capsys, "inspect", str(build), "--json")) == documented_keys()["inspect"]
    d = cli_json(capsys, "compile", SMALL, "-o", str(tmp_path / "b"), "--placer", "sequential", "--json", "-q")
    assert list(d) == documented_keys()["compile"]
    p = d["placement"]
    assert p["sequential_max_link_load"] == p["max_link_load"]  # the sequential placer is its own baseline
    assert p["sequential_energy_pj_per_step"] == pytest.approx(p["energy_pj_per_step"])
    assert len(p["utilization"]["values"]["neurons"]) == d["cores"] == sum(1 for _ in p["utilization"]["values"]["neurons"])
    assert sum(p["utilization"]["values"]["neurons"]) == d["neurons"]


@pytest.mark.lava
def test_validate_json(capsys, small_sheet_build):
    build, _ = small_sheet_build
    d = cli_json(capsys, "validate", str(build), "--steps", "5", "--json", "-q")
    assert list(d) == documented_keys()["validate"]
    assert d["identical"] is True and d["steps"] == 5 and d["plastic_weights"] > 0


def test_validate_json_mismatch(capsys, monkeypatch, small_sheet_build):
    """A divergence prints the JSON object (with the first divergence) and still exits 1."""
    import neuromap.validate as v
    from backends.emulator import run
    from neuromap.image import load_image

    img = load_image(str(small_sheet_build[0]))
    a, b = run(img, 20), run(img, 20)
    pop = next(iter(b.spikes))
    b.spikes[pop] = b.spikes[pop][1:]   # drop the first spike of one population

    def fake(image, steps, **kw):
        return v.check_identical_summary(a, b)
    monkeypatch.setattr(v, "validate_image_summary", fake)
    d = cli_json(capsys, "validate", str(small_sheet_build[0]), "--steps", "20", "--json", "-q", code=1)
    assert d["identical"] is False and d["divergence"]["what"] == "spike"
    assert d["divergence"]["population"] == pop and d["divergence"]["a"] == 1 and d["divergence"]["b"] == 0
    assert list(d)[:7] == documented_keys()["validate"][:7]
    assert "first divergence" in d["message"]
