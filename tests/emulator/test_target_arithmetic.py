"""One source of truth for the loihi_lif core arithmetic (issue 19, item 1).

A custom target's widths (decay bits, threshold and activation shifts, u/v widths, bias fields)
drive the quantizer, the image (manifest ``arithmetic``) and both emulator engines. The oracle
here is a scalar reference written from ``docs/targets.md`` (*Neuron arithmetic*) and
``docs/emulator.md`` (*Delivery*), in Python integers, not from the kernels.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from emulator import emulate
from neuromap.toolchain import compile_network
from neuromap.errors import ImageError, TargetError
from neuromap.image import LOIHI_ARITHMETIC, load_image
from neuromap.network import Network, Probe
from neuromap.targets import load_target
from tests.helpers.cli import run_cli
from tests.oracles import loihi_core

ROOT = Path(__file__).resolve().parents[2]


def doc_target_text() -> str:
    """The custom-target example of docs/targets.md, verbatim."""
    doc = (ROOT / "docs" / "targets.md").read_text()
    return re.search(r"## A custom target.*?```toml\n(.*?)```", doc, re.S).group(1)


def custom_target(tmp_path, **neuron) -> Path:
    """The docs example with some ``[neuron]`` fields replaced."""
    text = doc_target_text()
    for k, v in neuron.items():
        text, n = re.subn(rf"^{k} = .*$", f"{k} = {v}", text, flags=re.M)
        assert n == 1, k
    p = tmp_path / "chip.toml"
    p.write_text(text)
    return p


#: a non-Loihi core: 8-bit decays, 16-bit v, 18-bit u, threshold << 3, input << 2, 10-bit bias mantissa
ODD = dict(decay_bits=8, voltage_bits=16, current_bits=18, threshold_bits=10, threshold_shift=3,
           activation_shift=2, bias_mantissa_bits=10, bias_exponent_bits=2)


def small_net(seed: int = 3, steps: int = 120) -> Network:
    """Explicit input spikes -> E (lif, biased, refractory) <-> I (lif), delays 1..3."""
    rng = np.random.default_rng(seed)
    net = Network(name="odd", dt=1.0, seed=seed)
    times = [sorted(set(rng.integers(0, steps, rng.integers(5, 40)).tolist())) for _ in range(12)]
    net.add_population("inp", 12, "spike_source", times=[[float(t) for t in ts] for ts in times])
    net.add_population("E", 10, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, bias=0.03, refractory=2)
    net.add_population("I", 4, "lif", tau_m=10.0, tau_syn=3.0, v_th=1.0, v_reset=0.0)
    net.connect("inp", "E", {"rule": "fixed_probability", "p": 0.6}, weight={"uniform": [0.2, 0.9]},
                delay={"uniform_int": [1, 3]})
    net.connect("E", "I", "all_to_all", weight={"uniform": [0.1, 0.5]}, delay=1)
    net.connect("I", "E", "all_to_all", weight={"uniform": [0.2, 0.6]}, delay=2, target="inh")
    net.probes.append(Probe("E", ("spikes", "v")))
    return net


# ---------------------------------------------------------------------- scalar reference (docs)
def reference_run(img, steps: int):
    """Spikes (step, source) and per-step u, v of every neuron: the core oracle written from the documented
    semantics (tests/oracles/loihi_core.py)."""
    ref = loihi_core.run(img, steps)
    return ref.spikes, ref.u, ref.v


def _stress(img, seed: int):
    """The compiled image with random neuron constants over the full ranges of its arithmetic (wraps,
    saturation, large biases), so the reference and the engines meet every branch."""
    rng = np.random.default_rng(seed)
    a, N = img.arithmetic, img.n_neurons
    nu = dict(img.neurons)
    nu["du"] = rng.integers(0, a.decay_max + 1, N).astype(np.uint16)
    nu["dv"] = rng.integers(0, a.decay_max + 1, N).astype(np.uint16)
    nu["vth"] = rng.integers(0, min(a.vth_max, 300) + 1, N).astype(np.int32)
    nu["bias_mant"] = rng.integers(a.bias_mant_min, a.bias_mant_max + 1, N).astype(np.int16)
    nu["bias_exp"] = rng.integers(0, a.bias_exp_max + 1, N).astype(np.int8)
    nu["u_init"] = rng.integers(-(1 << (a.current_bits - 1)), 1 << (a.current_bits - 1), N).astype(np.int32)
    nu["v_init"] = rng.integers(-a.v_limit, a.v_limit + 1, N).astype(np.int32)
    out = dataclasses.replace(img, neurons=nu)
    out.verify()
    return out


@pytest.mark.parametrize("stress", [None, 1, 2])
def test_emulator_engines_equal_scalar_reference_on_non_loihi_target(tmp_path, stress, emulator_engine):
    """Both engines (``emulator_engine``; Lava runs Loihi's arithmetic only) produce the documented integers of the target's arithmetic (before: they ran Loihi's
    decays over 4096, ``<< 6`` and 24-bit u/v whatever the target said)."""
    img = compile_network(small_net(), load_target(custom_target(tmp_path, **ODD)), placer="greedy").image
    assert img.arithmetic.to_dict() == {k: v for k, v in ODD.items()}
    if stress is not None:
        img = _stress(img, stress)
    steps = 120
    ref_spk, ref_u, ref_v = reference_run(img, steps)
    assert ref_spk.shape[0] > 100 and np.any(ref_spk[:, 1] < img.n_neurons)
    run = emulator_engine.run(img, steps)
    assert np.array_equal(run.spikes, ref_spk)
    assert np.array_equal(run.u, ref_u) and np.array_equal(run.v, ref_v)


def test_plastic_loop_runs_the_target_arithmetic(tmp_path, emulator_engine):
    """The plastic time loop (numba fused kernels inline the LIF update) uses the image's widths: its spikes
    on a frozen-equivalent run equal the static engine's (the plastic rule never changes a weight here)."""
    net = small_net()
    net.projections[1].plasticity = {"rule": "nn_stdp", "tau_plus": 20.0, "tau_minus": 20.0, "A_plus": 0.0,
                                     "A_minus": 0.0, "w_min": 0.0, "w_max": 0.9}
    p = custom_target(tmp_path, **ODD)
    text = p.read_text()
    text = re.sub(r"\[learning\]\n(.*?)\n\n", "[learning]\n" + "\n".join(
        f"{k} = {v}" for k, v in dict(enabled="true", weight_bits=8, tag_bits=8, trace_bits=7,
                                      trace_fraction_bits=8, constant_bits=8, scale_mantissa_bits=4,
                                      accumulator_bits=15, epoch_time_bits=6).items()) + "\n\n", text, flags=re.S)
    text = text.replace("tag_bits = 0\n\n[learning]", "tag_bits = 8\n\n[learning]")
    p.write_text(text)
    img = compile_network(net, load_target(p), placer="greedy").image
    assert any(pm.learning for pm in img.projections)
    ref_spk, _, ref_v = reference_run(img, 120)
    run = emulator_engine.run(img, 120)
    assert np.array_equal(run.spikes, ref_spk) and np.array_equal(run.v, ref_v)


def test_float_vs_chip_voltage_within_the_reports_error_bound(tmp_path):
    """Subthreshold v of a float lif population under a constant drive against the compiled chip on a custom
    target, within the bound the quantization report's own numbers give: the steady state's relative
    error (1 + e_w)(1 + e_b) / ((1 - e_u)(1 - e_v)) - 1 plus e_u + e_v for the transient (realized time
    constants), plus the decays' rounding toward zero (< 1 hw unit per step in u and in v)."""
    from neuromap.compiler.quantize import QuantizationReport
    from neuromap.simulator import simulate
    steps = 150
    net = Network(name="drive", dt=1.0, seed=1)
    net.add_population("inp", 8, "spike_source", times=[[float(t) for t in range(steps)]] * 8)
    net.add_population("P", 3, "lif", tau_m=20.0, tau_syn=5.0, v_th=4.0, v_reset=0.0, bias=0.4)
    net.connect("inp", "P", "all_to_all", weight={"uniform": [0.02, 0.05]}, delay=1)
    net.probes.append(Probe("P", ("v",)))
    for fields in ({}, {"decay_bits": 8}, ODD):
        tgt = load_target(custom_target(tmp_path, **fields))
        img = compile_network(net, tgt, placer="greedy").image
        rep = QuantizationReport.from_dict(img.options["quantization"])
        pq = next(p for p in rep.populations if p.name == "P")
        e_w = max(p.max_rel_error for p in rep.projections)
        steady = (1 + e_w) * (1 + pq.bias_max_rel_error) / ((1 - pq.decay_u_rel_error) * (1 - pq.decay_v_rel_error)) - 1
        rel = steady + pq.decay_u_rel_error + pq.decay_v_rel_error
        keep_u, keep_v = math.exp(-1.0 / pq.tau_syn_hw), math.exp(-1.0 / pq.tau_m_hw)
        trunc_hw = (1 + 1 / (1 - keep_u)) / (1 - keep_v) + 1
        ref = simulate(net, steps).traces["P"]["v"]
        pop = img.population("P")
        chip = emulate(img, steps, probe=np.arange(pop.start, pop.start + pop.size)).v / pq.v_scale
        # the chip's input of step t is the float run's of step t (delay 1 both sides; the float model
        # integrates J into v in the same step): compare step by step
        err = np.abs(chip - ref).max()
        bound = rel * np.abs(ref).max() + trunc_hw / pq.v_scale
        assert np.abs(ref).max() > 1.0 and err <= bound, (fields, err, bound)
        assert err < 0.1 * np.abs(ref).max(), (fields, err)


# ---------------------------------------------------------------------- the docs example, as written
def test_docs_custom_target_compiles_runs_and_compares_as_written(tmp_path, capsys):
    """docs/targets.md's example chip compiles a LIF network with the documented option, runs, and compares
    (before: "model 'lif' cannot run on 'mychip' (it runs lif, if, ...)", and --target-file did not exist)."""
    chip = tmp_path / "mychip.toml"
    chip.write_text(doc_target_text())
    doc = (ROOT / "docs" / "targets.md").read_text()
    assert "`--target PATH`" in doc and "--target-file" not in doc
    code, out, err = run_cli(["compile", ROOT / "examples" / "ramp_lif.yaml", "--freeze", "--target", chip,
                              "-o", tmp_path / "b", "--placer", "greedy", "-q"], capsys)
    assert code == 0, err
    img = load_image(tmp_path / "b")
    assert img.target == "mychip" and img.arithmetic.voltage_bits == 16 and img.arithmetic.threshold_shift == 0
    code, out, err = run_cli(["run", tmp_path / "b", "--steps", "200", "-o", tmp_path / "r.npz", "-q"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["compare", ROOT / "examples" / "ramp_lif.yaml", "--target", chip, "--steps", "2000",
                              "--freeze", "--json"], capsys)
    assert code == 0, err
    rep = json.loads(out)
    for p in rep["populations"]:
        assert p["rate_ref_hz"] > 5 and abs(p["rate_hw_hz"] - p["rate_ref_hz"]) <= 0.05 * p["rate_ref_hz"], p


def test_decay_bits_8_compare_matches_float(tmp_path):
    """The issue's case: a target with decay_bits = 8 gave 97 -> 851 Hz in compare (the emulator decayed
    over 4096 what the quantizer had computed over 256)."""
    from neuromap.compare import compare
    from neuromap.io import load_network
    net = load_network(str(ROOT / "examples" / "ramp_lif.yaml"))
    rep = compare(net, load_target(custom_target(tmp_path, decay_bits=8)), 2000, freeze_plasticity=True)
    for p in rep.populations:
        assert p.rate_ref_hz > 5 and abs(p.rate_hw_hz - p.rate_ref_hz) <= 0.1 * p.rate_ref_hz, p


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("field, value, names", [
    ("leak_bits", 4, "neuron.leak_bits"),
    ("voltage_bits", 40, "neuron.voltage_bits"),
    ("decay_bits", 20, "neuron.decay_bits"),
    ("current_bits", 0, "neuron.current_bits"),
    ("bias_exponent_bits", 5, "neuron.bias_exponent_bits"),
])
def test_compiler_refuses_arithmetic_the_emulator_lacks_naming_the_field(tmp_path, field, value, names):
    p = custom_target(tmp_path, **{field: value})
    with pytest.raises(TargetError, match=re.escape(f"{p}: {names}: ")) as e:
        compile_network(small_net(), load_target(p)).image
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("old, new, names", [
    ("weight_bits_max = 8", "weight_bits_max = 12", "synapse.weight_bits_max"),
    ("delay_max = 8", "delay_max = 100", "synapse.delay_max"),
    ("axon_types = 0", "axon_types = 4", "synapse.axon_types"),
    ('sign_modes = ["mixed"]', 'sign_modes = ["mixed", "signed"]', "synapse.sign_modes"),
])
def test_compiler_refuses_synapse_fields_the_emulator_lacks(tmp_path, old, new, names):
    p = tmp_path / "chip.toml"
    text = doc_target_text()
    assert old in text
    p.write_text(text.replace(old, new))
    if names == "synapse.weight_bits_max":
        p.write_text(p.read_text().replace("weight_bits = [4, 8]", "weight_bits = [4, 8, 12]"))
    with pytest.raises(TargetError, match=re.escape(f"{names}: ")):
        compile_network(small_net(), load_target(p)).image


def test_models_the_core_cannot_run_are_refused_naming_the_field(tmp_path):
    """Before: 'model 'izhikevich' cannot run on 'chip' (it runs lif, if, loihi_lif, izhikevich, ...)'."""
    p = tmp_path / "chip.toml"
    p.write_text(doc_target_text().replace('"lif", "if", "loihi_lif",', '"lif", "if", "loihi_lif", "izhikevich",'))
    with pytest.raises(TargetError, match=re.escape(f"{p}: neuron.models: 'izhikevich' is not implemented")):
        compile_network(small_net(), load_target(p)).image


def test_hardware_unit_network_refused_on_other_arithmetic(tmp_path):
    """loihi_lif parameters are Loihi's arithmetic (du/4096, vth << 6): not silently reinterpreted."""
    net = Network(seed=1)
    net.add_population("x", 2, "loihi_lif", du=100, dv=100, vth=10)
    with pytest.raises(TargetError, match="loihi_lif parameters are in Loihi's arithmetic"):
        compile_network(net, load_target(custom_target(tmp_path, **ODD))).image


def test_missing_loihi_lif_in_models_is_named(tmp_path):
    p = tmp_path / "chip.toml"
    p.write_text(doc_target_text().replace('"lif", "if", "loihi_lif",', '"lif", "if",'))
    with pytest.raises(TargetError, match="does not list loihi_lif in neuron.models"):
        compile_network(small_net(), load_target(p)).image


# ---------------------------------------------------------------------- image: record, load, Lava
def test_image_records_arithmetic_and_old_images_load_as_loihi(tmp_path):
    img = compile_network(small_net(), load_target(custom_target(tmp_path, **ODD)), placer="greedy").image
    img.save(tmp_path / "img")
    m = json.loads((tmp_path / "img" / "manifest.json").read_text())
    assert m["arithmetic"] == ODD
    assert load_image(tmp_path / "img").arithmetic == img.arithmetic
    lo = compile_network(small_net(), "loihi", placer="greedy").image
    lo.save(tmp_path / "old")
    m = json.loads((tmp_path / "old" / "manifest.json").read_text())
    assert m.pop("arithmetic") == LOIHI_ARITHMETIC.to_dict()
    write_manifest(tmp_path / "old", m)          # an image from before the field
    old = load_image(tmp_path / "old")
    assert old.arithmetic == LOIHI_ARITHMETIC
    assert np.array_equal(emulate(old, 60).spikes, emulate(lo, 60).spikes)


def write_manifest(img_dir: Path, m: dict) -> None:
    """Rewrite an image's manifest with a valid ``manifest_sha256`` (what an older neuromap, or a careful
    editor, would write): the field checks themselves must then refuse a bad field."""
    from neuromap.image_files import manifest_digest
    m = dict(m)
    m["manifest_sha256"] = manifest_digest(m)
    (img_dir / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("edit", [{"decay_bits": 40}, {"decay_bits": "8"}, {"decay_bits": True}, {"x": 1}, []])
def test_manifest_arithmetic_is_validated(tmp_path, edit):
    img = compile_network(small_net(), load_target(custom_target(tmp_path, **ODD)), placer="greedy").image
    img.save(tmp_path / "img")
    mf = tmp_path / "img" / "manifest.json"
    m = json.loads(mf.read_text())
    m["arithmetic"] = {**m["arithmetic"], **edit} if isinstance(edit, dict) else edit
    write_manifest(tmp_path / "img", m)
    with pytest.raises(ImageError, match=r"manifest.json: (arithmetic|manifest field arithmetic)") as e:
        load_image(tmp_path / "img")
    assert "\n" not in str(e.value)


def test_image_fields_checked_against_their_arithmetic(tmp_path):
    """du beyond 2**decay_bits - 1 is not an image of that arithmetic."""
    img = compile_network(small_net(), load_target(custom_target(tmp_path, **ODD)), placer="greedy").image
    nu = dict(img.neurons)
    nu["du"] = np.full(img.n_neurons, 256, np.uint16)
    with pytest.raises(ImageError, match=r"neurons.du holds 256, outside \[0, 255\]"):
        dataclasses.replace(img, neurons=nu).verify()


def test_lava_refuses_other_arithmetic_in_one_line(tmp_path, capsys):
    """validate / run --backend lava / export-lava: exit 2 with one line (before: Lava ran Loihi's arithmetic
    on the image and validate could call the two 'identical')."""
    img = compile_network(small_net(), load_target(custom_target(tmp_path, **ODD)), placer="greedy").image
    img.save(tmp_path / "img")
    for argv in (["validate", tmp_path / "img", "--steps", "10"],
                 ["run", tmp_path / "img", "--backend", "lava", "--steps", "10", "-o", tmp_path / "r.npz"],
                 ["export-lava", tmp_path / "img", "-o", tmp_path / "x.py"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, err)
        line = err.strip()
        assert "\n" not in line and "arithmetic differs from Loihi's" in line and "decay_bits 8 (Loihi 12)" in line
    assert not (tmp_path / "x.py").exists()
