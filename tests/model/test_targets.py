"""Targets as data: the built-in constants, and one-line errors for bad target files."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from neuromap.errors import TargetError
from neuromap.targets import (Target, list_targets, load_target, target_from_dict,
                              target_to_dict)

LOIHI_TOML = Path(__file__).resolve().parents[2] / "neuromap" / "targets" / "loihi.toml"


def test_builtin_targets_listed():
    assert list_targets() == ["loihi", "truenorth"]


def test_loihi_constants_from_issue():
    t = load_target("loihi")
    c, s, e = t.core, t.synapse, t.energy
    assert (c.max_neurons, c.max_input_axons, c.max_output_axons) == (1024, 4096, 4096)
    assert c.synapse_memory_bits == 128 * 1024 * 8
    assert (s.weight_bits_min, s.weight_bits_max, s.weight_exp_min, s.weight_exp_max) == (1, 8, -8, 7)
    assert s.delay_max == 62
    assert t.cores_per_chip == 128
    assert (e.synaptic_op_pj, e.tile_spike_pj, e.hop_x_pj, e.hop_y_pj) == (23.6, 1.7, 3.0, 4.0)
    assert (e.neuron_update_inactive_pj, e.neuron_update_active_pj, e.plasticity_update_pj) == (52.0, 81.0, 120.0)
    assert (t.neuron.voltage_bits, t.neuron.decay_bits, t.neuron.threshold_bits) == (24, 12, 17)
    assert t.learning.enabled and t.learning.trace_bits == 7 and t.learning.weight_bits == 8
    assert t.synapse_memory.word_bits == 64 and t.synapse_memory.weight_bits[-1] == 8


def test_truenorth_constants_from_issue():
    t = load_target("truenorth")
    assert (t.core.max_neurons, t.core.max_input_axons) == (256, 256)
    assert t.synapse.axon_types == 4 and t.synapse.weight_bits_max == 9
    assert t.neuron.voltage_bits == 20 and t.synapse.max_fan_out_cores == 1
    assert (t.synapse.delay_min, t.synapse.delay_max) == (1, 15)
    assert t.cores_per_chip == 64 * 64 and t.core.memory_model == "crossbar"
    assert (t.energy.synaptic_op_pj, t.energy.hop_x_pj, t.energy.hop_y_pj) == (26.0, 2.3, 2.3)
    assert not t.learning.enabled


def test_frozen_and_round_trip():
    t = load_target("loihi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.core.max_neurons = 5  # type: ignore[misc]
    assert target_from_dict(target_to_dict(t)) == t
    assert isinstance(load_target(LOIHI_TOML), Target)


def _custom(tmp_path, edit):
    text = LOIHI_TOML.read_text()
    new = edit(text)
    assert new != text, "the edit did not apply"
    p = tmp_path / "mychip.toml"
    p.write_text(new)
    return p


@pytest.mark.parametrize("edit, field, words", [
    (lambda s: re.sub(r"\nmax_neurons = 1024[^\n]*", "", s), "core.max_neurons", "missing"),
    (lambda s: s.replace("max_neurons = 1024", "max_neurons = 0"), "core.max_neurons", "out of range"),
    (lambda s: s.replace("max_neurons = 1024", "max_neurons = 1024\nmax_nerons = 3"), "core.max_nerons", "unknown"),
    (lambda s: s.replace("hop_x_pj = 3.0", 'hop_x_pj = "3"'), "energy.hop_x_pj", "expected float"),
    (lambda s: s.replace("hop_x_pj = 3.0", "hop_x_pj = -3.0"), "energy.hop_x_pj", "out of range"),
    (lambda s: s.replace('memory_model = "nengo_loihi"', 'memory_model = "sram"'), "core.memory_model", "not allowed"),
    (lambda s: s.replace("delay_max = 62", "delay_max = 0"), "synapse.delay_max", "below"),
    (lambda s: s.replace("index_bits = [0, 6, 7, 8, 9, 10, 11, 12]", "index_bits = [0, 6, 7, 8, 9]"),
     "synapse_memory.index_bits", "cannot index"),
    (lambda s: s.replace("[mesh]\n", "[mesh]\ncores_per_tile = 2\n"), "", "not valid TOML"),
])
def test_bad_custom_target_one_line_error(tmp_path, edit, field, words):
    p = _custom(tmp_path, edit)
    with pytest.raises(TargetError) as ei:
        load_target(p)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(str(p) + ": ")
    if field:
        assert f": {field}: " in msg
    assert words in msg


def test_missing_section_and_unknown_name(tmp_path):
    p = _custom(tmp_path, lambda s: s.split("[latency]")[0])
    with pytest.raises(TargetError, match=r"mychip\.toml: latency: missing field"):
        load_target(p)
    with pytest.raises(TargetError, match="no such target"):
        load_target("spinnaker")


def test_custom_target_loads(tmp_path):
    p = _custom(tmp_path, lambda s: s.replace("max_neurons = 1024", "max_neurons = 512")
                .replace('name = "loihi"', 'name = "mychip"'))
    t = load_target(p)
    assert t.name == "mychip" and t.core.max_neurons == 512 and t.source == str(p)


def _field_paths(cls, prefix=""):
    import typing
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _field_paths(hints[f.name], f.name + ".")
        else:
            yield prefix + f.name


def test_docs_document_every_field_and_example_loads(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text()
    missing = [p for p in _field_paths(Target) if f"`{p}`" not in doc]
    assert not missing
    example = doc.split("```toml\n")[1].split("```")[0]
    p = tmp_path / "example.toml"
    p.write_text(example)
    t = load_target(p)
    assert t.name == "mychip" and t.n_cores == 16


def test_bundled_64_chip_board_is_the_loihi_target_with_more_chips():
    """examples/targets/loihi_64chips.toml (for networks past the 32-chip board, e.g. Brunel 12.5k)
    differs from the built-in loihi target only in its name, description and chip count."""
    import dataclasses
    import os
    from neuromap.targets import load_target
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "targets",
                        "loihi_64chips.toml")
    big, std = load_target(path), load_target("loihi")
    assert big.n_cores == 2 * std.n_cores == 8192
    assert big.mesh.chips_y == 8 and big.mesh.chips_x == std.mesh.chips_x
    for f in dataclasses.fields(std):
        if f.name not in ("name", "description", "mesh", "source"):
            assert getattr(big, f.name) == getattr(std, f.name), f.name
