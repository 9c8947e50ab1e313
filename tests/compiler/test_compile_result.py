"""The compile result: ``compile_network`` returns the image with typed options and per-pass reports and
records; the image's manifest options are those reports (a saved build reads them back the same); one
pass list for every core kind; the compiler runs an image only through the runner it is given."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from neuromap.compiler import CompileOptions, CompileReports, compile_network as compile_without_runtime, pipeline
from neuromap.compiler.quantize import quantize_network
from neuromap.errors import TargetError
from neuromap.image import load_image
from neuromap.network import Network
from neuromap.targets import load_target
from neuromap.toolchain import compile_network, emulator_runner

ROOT = Path(__file__).resolve().parents[2]


def _float_net(weight_small: float = 0.001) -> Network:
    """A lif population fed by one projection whose weights are 0.2 from inputs 0..14 and
    ``0.2 * weight_small`` from inputs 15..29: with 8-bit mantissas and one exponent per projection, 0.001
    of the largest rounds to 0 -- 150 synapses zeroed, a loss, so the fidelity analysis runs its rate
    sample with ``rate_check: auto``."""
    net = Network(name="lossy", seed=2)
    net.add_population("inp", 30, {"model": "poisson", "rate": 30.0})
    net.add_population("out", 10, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0)
    w = np.concatenate([np.full((10, 15), 0.2), np.full((10, 15), 0.2 * weight_small)], axis=1)
    net.connect("inp", "out", {"rule": "matrix", "matrix": w.tolist()}, name="mixed")
    return net


def test_result_holds_the_image_typed_reports_and_a_record_per_pass(tmp_path):
    net = _float_net()
    res = compile_network(net, "loihi", placer="greedy", seed=3)
    img, rep = res.image, res.reports
    assert [r.name for r in res.passes] == pipeline.default_passes("loihi_lif") + ["fidelity"]
    assert [r.kind for r in res.passes][-1] == "analysis"
    # options: typed, defaults filled in; the image records only what was given (and the passes)
    assert res.options.placer == "greedy" and res.options.rounding == "nearest"
    assert list(img.options)[:3] == ["placer", "seed", "passes"]
    assert img.options == {**res.options.recorded(), **rep.to_options()}
    # per pass: declared options with the values it ran with, statistics with units
    assert res.record("place").options["placer"] == "greedy"
    assert res.record("place").options["seed"] == 3
    lower = res.record("lower")
    assert lower.statistic("synapses") == img.n_synapses and lower.statistic("cores") == img.n_cores
    place = {s.name: s for s in res.record("place").statistics}
    assert place["hop_weighted_traffic"].unit == "packet-hops/step"
    assert place["cores_used"].value == rep.placement.cores_used == img.n_cores
    q = res.record("quantize")
    assert q.statistic("synapses_zeroed") == sum(p.zeroed for p in rep.quantization.projections) == 150
    assert all(r.wall_s >= 0 and r.verify_s >= 0 and r.peak_rss_bytes > 0 for r in res.passes)
    # typed reports: the zeroed projection, and the rate sample ran on the emulator (a loss, rate_check auto)
    assert rep.fidelity.projections_zeroed == [] and rep.fidelity.synapses_zeroed == 150
    assert rep.fidelity.rate is not None and rep.fidelity.rate.steps > 0
    assert res.record("fidelity").statistic("rate_sample_steps") == rep.fidelity.rate.steps
    # a saved build reads back the same reports
    img.save(tmp_path / "b")
    back = CompileReports.from_options(load_image(tmp_path / "b").options)
    assert back.to_options() == json.loads(json.dumps(rep.to_options()))
    assert back.warnings() == rep.warnings()


def test_quantized_network_is_the_quantize_pass_output():
    """``compare`` reads it instead of quantizing again: the same integer weights as quantizing anew."""
    net = _float_net(weight_small=0.5)
    res = compile_network(net, "loihi", placer="sequential", rate_check="never")
    hw, _ = quantize_network(net, load_target("loihi"))
    got = {pr.name: pr.weight for pr in res.quantized_network.projections}
    for pr in hw.projections:
        assert np.array_equal(got[pr.name], pr.weight)
    assert {p.model for p in res.quantized_network.populations.values()} == {"poisson", "loihi_lif"}


def test_one_pass_list_lowering_chosen_by_core_kind():
    net = Network(name="tn", seed=1)
    net.add_population("inp", 8, {"model": "poisson", "rate": 20.0})
    net.add_population("h", 4, "if", v_th=1.0)
    net.connect("inp", "h", "all_to_all", weight=0.5, name="p")
    res = compile_network(net, "truenorth", tn_time_limit=0.5)
    assert [r.name for r in res.passes] == ["quantize", "place", "lower", "fidelity"]
    assert res.image.core_kinds == ["truenorth"] and res.reports.truenorth is not None
    assert res.reports.quantization is None and res.reports.placement is None
    assert res.image.options["truenorth"] == res.reports.truenorth.to_dict()
    assert res.record("lower").options["tn_time_limit"] == 0.5
    assert not hasattr(pipeline, "TN_PASSES")
    with pytest.raises(TargetError, match="unknown compiler pass 'check'"):   # not a truenorth pass
        compile_network(net, "truenorth", passes=["check", "lower"])


def test_unknown_option_is_one_line_error():
    with pytest.raises(TargetError, match=r"unknown compile option 'placr' \(options: .*placer"):
        compile_network(_float_net(), "loihi", placr="greedy")
    assert CompileOptions.from_kwargs({"passes": ["lower"]}).passes == ("lower",)


def test_without_a_runner_the_compiler_runs_nothing_and_says_so():
    """The compiler imports no runtime: ``rates: auto`` and ``rate_check: always`` need the runner the
    application layer gives; ``auto`` records the rate estimate as skipped; the image is the same."""
    net = _float_net()
    with pytest.raises(TargetError, match="rates: auto .*no image runner"):
        compile_without_runtime(net, "loihi", placer="sequential", rates="auto")
    with pytest.raises(TargetError, match="no image runner"):
        compile_without_runtime(net, "loihi", placer="sequential", rate_check="always")
    bare = compile_without_runtime(net, "loihi", placer="sequential")
    assert "no image runner" in bare.reports.fidelity.rate.skipped
    full = compile_without_runtime(net, "loihi", placer="sequential", rates="auto", runner=emulator_runner)
    assert full.reports.fidelity.rate.steps > 0 and full.reports.placement.rates == "auto"
    for k, v in bare.image.arrays().items():
        assert np.array_equal(v, full.image.arrays()[k], equal_nan=v.dtype.kind == "f"), k


COMPILER_MODULES = ["pipeline", "result", "place", "fidelity", "check", "lower", "lower_truenorth", "quantize",
                    "quantize_truenorth"]


@pytest.mark.parametrize("module", COMPILER_MODULES)
def test_compiler_modules_import_no_runtime_and_no_application(module):
    """No import of ``emulator``/``backends`` (runtime) or the application layer, at any level."""
    tree = ast.parse((ROOT / "neuromap" / "compiler" / f"{module}.py").read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    bad = [m for m in names if m.split(".")[0] in ("emulator", "backends")
           or m.startswith(("neuromap.cli", "neuromap.compare", "neuromap.toolchain", "neuromap.validate"))]
    assert bad == []
