"""Core kinds (neuromap/core_kinds/): docs/image-format.md's field tables are the ones generated from the
declarations (neuromap/core_kinds/doc.py) and, read back by an independent parser, state the declared dtypes,
shapes and ranges; every runtime has an entry for every kind, Image.verify dispatches to the image's kind."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import emulator
from backends.lava import run as lava_run
from neuromap.core_kinds import CORE_KINDS, DEFAULT_KIND, core_kind, doc as kind_doc, image_core_kind
from neuromap.core_kinds.fields import Field, check_range
from neuromap.errors import ImageError
from neuromap.image import Image, PopulationMap, ProbeMap

DOC = Path(__file__).resolve().parents[2] / "docs" / "image-format.md"

#: the section of docs/image-format.md whose tables list each kind's fields (a new kind adds its own)
SECTIONS = {"loihi_lif": "### neurons (length N) — Loihi-style compartments", "truenorth": "### TrueNorth cores"}
#: fields of every image that the loihi_lif section's table also lists (not a core kind's)
FORMAT_FIELDS = {"neurons.core", "neurons.slot"}


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def _rows(section: str) -> dict[str, list[str]]:
    """``group.name`` -> the cells of its table row (first cell: the backticked name, maybe ``(optional)``)."""
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`((?:neurons|axons|synapses|cores|routes|inputs)\.\w+)`( \(optional\))?", cells[0])
        if line.startswith("|") and m:
            out[m.group(1)] = [cells[0]] + cells[1:]
    return out


def _int(expr: str) -> int:
    """A documented bound such as ``2^18-1`` or ``-2^17`` (digits, ^, +, -, * only)."""
    expr = expr.replace("^", "**")
    assert re.fullmatch(r"[-+*0-9 ()]+", expr), expr
    return int(eval(expr, {"__builtins__": {}}))   # noqa: S307 - checked to be integer arithmetic


def _documented(cells: list[str]) -> tuple[str, tuple[int, ...], tuple[int, int] | None, bool]:
    """(dtype, extra dims, (lo, hi) or None = the dtype's own range, optional) of a table row."""
    dtype = cells[1].split(",")[0].strip()
    shape = re.search(r"shape \((\w+), ([\d, ]+)\)", cells[1])
    extra = tuple(int(x) for x in shape.group(2).split(",")) if shape else ()
    m = re.match(r"`([^`]+)\.\.([^`]+)`", cells[2])
    rng = (_int(m.group(1)), _int(m.group(2))) if m else None
    if rng is None:
        assert cells[2] == dtype, f"{cells[0]}: range cell {cells[2]!r} is neither `lo..hi` nor the dtype"
    return dtype, extra, rng, "(optional)" in cells[0]


def test_every_kind_has_a_docs_section():
    assert set(SECTIONS) == set(CORE_KINDS)


def test_docs_tables_are_generated_from_the_declarations():
    text = DOC.read_text()
    for (kind, group), block in kind_doc.blocks().items():
        assert block in text, f"docs/image-format.md is stale ({kind} {group}): run python -m neuromap.core_kinds.doc"
        assert block in _section(text, SECTIONS[kind])
    assert {k for k, _ in kind_doc.blocks()} == set(CORE_KINDS)
    # the generator follows the declarations: a field one off gives another table
    f = next(f for f in CORE_KINDS["truenorth"].fields if f.name == "tn_alpha")
    moved = [dataclasses.replace(x, hi=x.hi + 1) if x is f else x for x in CORE_KINDS["truenorth"].fields]
    assert kind_doc.table("truenorth", "neurons", moved) != kind_doc.table("truenorth", "neurons")
    assert kind_doc.width_text(-4096, 4095) == " (13 bit signed)"
    assert kind_doc.width_text(-255, 255) == " (sign + 8 bit)"
    assert kind_doc.int_text(2 ** 18 - 1) == "2^18-1" and kind_doc.int_text(-(2 ** 19)) == "-2^19"


@pytest.mark.parametrize("name", sorted(CORE_KINDS))
def test_docs_tables_match_the_declared_fields(name):
    kind = CORE_KINDS[name]
    rows = _rows(_section(DOC.read_text(), SECTIONS[name]))
    declared = {f.key: f for f in kind.fields}
    assert set(rows) - FORMAT_FIELDS == set(declared), "docs/image-format.md and the declarations list other fields"
    for key, f in declared.items():
        dtype, extra, rng, optional = _documented(rows[key])
        info = np.iinfo(f.dtype)
        assert dtype == np.dtype(f.dtype).name, key
        assert extra == f.extra, key
        assert optional == f.optional, key
        assert (rng or (int(info.min), int(info.max))) == f.bounds(), key
        if rng is None:
            assert f.lo is None and f.hi is None, f"{key}: declared range {f.bounds()} but docs give the dtype's"


def test_a_disagreeing_declaration_fails_the_comparison():
    """The comparison above can fail: a declaration one off from the docs is caught."""
    rows = _rows(_section(DOC.read_text(), SECTIONS["truenorth"]))
    f = next(f for f in CORE_KINDS["truenorth"].fields if f.name == "tn_alpha")
    wrong = dataclasses.replace(f, hi=f.hi + 1)
    assert _documented(rows[f.key])[2] == f.bounds() != wrong.bounds()


def test_every_runtime_has_every_kind():
    assert set(emulator.EMULATORS) == set(CORE_KINDS)
    assert set(lava_run.RUNNERS) == set(CORE_KINDS)


def test_kind_lookup():
    assert core_kind("truenorth").state_variables == ("v",) and core_kind("loihi_lif").state_variables == ("u", "v")
    with pytest.raises(ImageError, match="core kind 'spinnaker' is unknown .*known: loihi_lif, truenorth"):
        core_kind("spinnaker")

    class Img:
        core_kinds: list = []
    assert image_core_kind(Img()).name == DEFAULT_KIND
    Img.core_kinds = ["loihi_lif", "truenorth"]
    with pytest.raises(ImageError, match="mixing core kinds is not supported"):
        image_core_kind(Img())


def test_verify_dispatches_to_the_kind(monkeypatch):
    img = Image(target="loihi", constants={}, core_kinds=["loihi_lif"],
                populations=[PopulationMap("a", "neuron", "loihi_lif", 0, 1)], projections=[],
                probes=[ProbeMap("a", ("spikes",))],
                neurons={"core": np.zeros(1, np.int32), "slot": np.zeros(1, np.int32),
                         **{k: np.zeros(1, dt) for k, dt in (("du", np.uint16), ("dv", np.uint16),
                                                             ("vth", np.int32), ("bias_mant", np.int16),
                                                             ("bias_exp", np.int8), ("u_init", np.int32),
                                                             ("v_init", np.int32))}},
                cores={"kind": np.zeros(1, np.int8), "axon_ptr": np.zeros(2, np.int64)},
                axons={"proj": np.zeros(0, np.int32), "syn_ptr": np.zeros(1, np.int64)},
                synapses={"post": np.zeros(0, np.int32), "weight": np.zeros(0, np.int16),
                          "delay": np.zeros(0, np.uint8)},
                routes={"src_ptr": np.zeros(2, np.int64), "core": np.zeros(0, np.int32),
                        "axon": np.zeros(0, np.int32), "delay": np.zeros(0, np.uint8)},
                inputs={"spike_step": np.zeros(0, np.int64), "spike_index": np.zeros(0, np.int32),
                        "poisson_p": np.zeros(0)})
    img.verify()
    img.neurons["du"][0] = 4095      # Loihi's 12-bit maximum: fine
    img.verify()
    img.arithmetic = dataclasses.replace(img.arithmetic, decay_bits=8)   # the kind reads the image's widths
    with pytest.raises(ImageError, match=r"neurons.du holds 4095, outside \[0, 255\]"):
        img.verify()
    # TrueNorth's verify runs for a truenorth image: its fields are required
    tn = dataclasses.replace(img, core_kinds=["truenorth"], arithmetic=Image.arithmetic)
    tn.neurons = {**img.neurons, "du": np.zeros(1, np.uint16)}
    with pytest.raises(ImageError, match=r"neurons.tn_lambda is missing \(TrueNorth images need it"):
        tn.verify()
    with pytest.raises(ImageError, match="core kind 'spinnaker' is unknown"):
        dataclasses.replace(img, core_kinds=["spinnaker"]).verify()


def test_field_check_names_the_field():
    f = Field("neurons", "x", np.int16, -3, 3, extra=(2,))
    f.check({"x": np.zeros((4, 2), np.int16)}, 4, "fix")
    with pytest.raises(ImageError, match=r"neurons.x must be int16 of shape \(4, 2\)"):
        f.check({"x": np.zeros(4, np.int16)}, 4, "fix")
    with pytest.raises(ImageError, match=r"neurons.x holds 4, outside \[-3, 3\]"):
        f.check({"x": np.full((4, 2), 4, np.int16)}, 4, "fix")
    with pytest.raises(ImageError, match=r"neurons.x is missing \(fix\)"):
        f.check({}, 4, "fix")
    check_range(np.array([5]), 0, None, "y")
    with pytest.raises(ImageError, match=r"y holds -1, outside >= 0"):
        check_range(np.array([-1]), 0, None, "y")
