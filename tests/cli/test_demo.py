"""``make demo`` (neuromap/demo.py): the main job's commands on the small spatial E/I sheet."""
from __future__ import annotations

import os

from neuromap import demo


def test_main_job_small(tmp_path, capsys):
    report = demo.main_job(out=str(tmp_path / "out"), network="examples/spatial_balanced_ei.py:small", steps=200,
                           validate_steps=0, time_limit=0.3)
    out = capsys.readouterr().out
    assert os.path.isfile(report) and open(report).read().startswith("<!DOCTYPE html>")
    for cmd in ("$ neuromap compile", "$ neuromap run", "$ neuromap report"):
        assert cmd in out
    assert "what the mapping gives" in out
    for key in ("cores used", "hop traffic", "busiest mesh link", "energy per step", "rate E", "rate I"):
        assert key in out, key


def test_gain_lines_compare_with_sequential():
    rep = {"cores_used": 17, "sequential_n_cores": 19, "hop_weighted_traffic": 500.0,
           "sequential_hop_weighted_traffic": 1000.0, "max_link_load": 30.0, "sequential_max_link_load": 120.0,
           "energy_pj_per_step": 2.0e6, "sequential_energy_pj_per_step": 2.5e6, "latency_ns_per_step": 5000.0}
    lines = demo.gain_lines(rep, {"E": {"float_hz": 5.0, "chip_hz": 5.25}, "X": {"float_hz": None, "chip_hz": 10.0}})
    text = "\n".join(lines)
    assert "17   sequential fill 19" in text
    assert "(0.50x)" in text and "(0.25x)" in text and "(0.80x)" in text
    assert "2000 nJ" in text and "5 us" in text
    assert "float   5.00 Hz   chip   5.25 Hz" in text and "rate X" not in text
