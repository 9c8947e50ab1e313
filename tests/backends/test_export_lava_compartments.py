"""export-lava of images with dendrite compartments (``neurons.join_parent``): the script builds the
DendriteLIF -> SomaLIF composition (backends/lava/procs/compartments.py) from integer indices, literals and the
npz only, runs on its own (subprocess) and equals the emulator bit for bit (spikes, u and v every step)."""
from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from backends.lava.compat import lava_available
from backends.lava.export import export_script
from emulator import emulate
from neuromap.toolchain import compile_network
from tests.helpers.exported import assert_like_emulator, run_script
from tests.helpers.joined_nets import joined_net


def _joined_image(seed):
    net = joined_net(seed, poisson=True)
    for pop in ("soma_a", "dend_a", "soma_b", "dend_b"):
        net.add_probe(pop, ("u", "v"))
    img = compile_network(net, "loihi").image
    assert np.any(img.neurons["join_parent"] >= 0)
    return img


def test_script_wires_each_dendrite_group_into_its_soma(tmp_path):
    img = _joined_image(0)
    script, _ = export_script(img, tmp_path / "net_lava.py")
    text = script.read_text()
    ast.parse(text)
    assert "from backends.lava.procs.compartments import DendriteLIF, SomaLIF" in text
    assert text.count("= DendriteLIF(") == 2 and text.count("= SomaLIF(") == 2
    assert text.count(".v_out.connect(") == 2 and text.count(".v_join_in)") == 2


def test_hostile_population_names_stay_in_string_constants(tmp_path):
    """Names reach the script only as literals and comments: a hostile name changes no code."""
    img = _joined_image(1)
    bad = 'x"""\nopen("PWNED", "w")\n"""'
    ren = {p.name: f"{bad}{k}" for k, p in enumerate(img.populations)}
    hostile = dataclasses.replace(
        img, populations=[dataclasses.replace(p, name=ren[p.name]) for p in img.populations],
        projections=[dataclasses.replace(p, pre=ren[p.pre], post=ren[p.post]) for p in img.projections],
        probes=[dataclasses.replace(p, population=ren[p.population]) for p in img.probes])

    def code(image, name):
        tree = ast.parse(export_script(image, tmp_path / name)[0].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                node.value = ""
        return ast.dump(tree)
    assert code(hostile, "a.py") == code(img, "b.py")


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
@pytest.mark.parametrize("seed", [0, 3])
def test_exported_joined_script_equals_the_emulator(tmp_path, seed):
    img = _joined_image(seed)
    script, _ = export_script(img, tmp_path / "net_lava.py")
    steps = 40
    got, _ = run_script(script, steps, tmp_path)
    emu, probe = assert_like_emulator(img, got, steps)
    assert np.any(emu.spikes[:, 1] < img.n_neurons)
    d = np.flatnonzero(img.neurons["join_parent"] >= 0)
    assert np.isin(d, got["probe_v"]).any() and np.any(emu.v[:, np.searchsorted(probe, d[np.isin(d, probe)])])


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_exported_urbanczik_script_learns_like_the_emulator(tmp_path):
    """examples/urbanczik_senn.py (8 inputs, eta 500) on chip: the script's NeuromapPlasticSparse reads the
    dendrites' v and their somas' v (``v_soma_in``); spikes, v and the learned weights equal the emulator's."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import urbanczik_senn as example
    img = compile_network(example.build("time", 500.0, n_in=8), "loihi").image
    script, _ = export_script(img, tmp_path / "us_lava.py")
    assert "v_soma_in)" in script.read_text()
    steps = 600
    got, _ = run_script(script, steps, tmp_path)
    k = next(k for k, p in enumerate(img.projections) if p.learning)
    emu = emulate(img, steps, "numpy", weight_every=steps, probe=got["probe_v"])
    assert np.array_equal(got["spikes"], emu.spikes) and np.array_equal(got["v"], emu.v)
    w = got["weights/" + img.projections[k].name]
    assert np.array_equal(w, emu.weights[k][-1])
    assert not np.array_equal(w, img.synapses["weight"][img.synapse_projections() == k])     # it learned
