"""The learning engines' typed image schemas (neuromap/learning_engines): docs/image-format.md agrees with the
declarations, every compiled learning dict round-trips unchanged (same keys in the same order, same values:
the on-disk format), and a bad field is refused in one line naming it."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap import learning_engines
from neuromap.errors import ImageError
from neuromap.learning_engines import doc
from neuromap.learning_engines.schema import SeedRuleSchema

#: learning dicts as the compiler of db1b808 wrote them (key order included), one per seed engine / variant
COMPILED = {
    "nn_stdp": {"engine": "homeostatic_stdp", "rule": "nn_stdp", "sign": 1, "delay": 1, "w_lo": 0, "w_hi": 255,
                "keep_plus": 62339, "keep_minus": 64453, "a_plus": 1706, "a_minus": 563, "homeostasis": False,
                "wf": 16, "af": 16, "xf": 12},
    "homeostatic_stdp": {"engine": "homeostatic_stdp", "rule": "homeostatic_stdp", "sign": 1, "delay": 1, "w_lo": 0,
                         "w_hi": 255, "keep_plus": 62339, "keep_minus": 64453, "a_plus": 1706, "a_minus": 563,
                         "homeostasis": True, "window": 100, "wf": 16, "af": 16, "xf": 12},
    "vogels_isp": {"engine": "vogels_isp", "rule": "vogels_isp", "sign": -1, "delay": 1, "w_lo": 0, "w_hi": 200,
                   "keep": 62339, "alpha": 819, "multiplicative": False, "eta": 150000, "wf": 16, "af": 16, "xf": 12},
    "pool_stdp": {"engine": "pool_stdp", "rule": "pool_stdp", "sign": 1, "delay": 1, "w_lo": 0, "w_hi": 255,
                  "keep_plus": 53656, "keep_minus": 53656, "a_plus": 3277, "a_minus": 3277, "alpha_r": 32768,
                  "k_pw": 3277, "alpha_ss": 655, "pw_init": 5000000, "pw_soma_init": 1000000, "pw_set": 3000000,
                  "w_goal": 0, "k_cg": 2048, "c_per_w": 123456, "pool_update": "conserve", "wf": 16, "af": 16,
                  "xf": 12},
    "clopath": {"engine": "clopath", "rule": "clopath", "sign": 1, "delay": 1, "w_lo": 0, "w_hi": 255, "v_shift": 8,
                "delay_u": 0, "theta_plus": -2000, "theta_minus": -300000, "u_init": -400000, "keep_minus": 58000,
                "keep_plus": 61000, "keep_x": 65000, "ltd_m": 40000, "ltd_sh": 20, "ltp_m": 50000, "ltp_sh": 30,
                "wf": 16, "af": 16, "xf": 12},
}


def test_image_format_doc_matches_the_schemas():
    text = doc.DOC.read_text()
    assert doc.block() in text, "docs/image-format.md is stale: run python -m neuromap.learning_engines.doc"
    for name, mod in learning_engines.ENGINES.items():
        if issubclass(mod.Schema, SeedRuleSchema):
            assert f"#### `{name}`" in doc.block()


@pytest.mark.parametrize("case", COMPILED)
def test_compiled_dicts_round_trip_unchanged(case):
    d = COMPILED[case]
    cfg = learning_engines.schema(d, "image projection 0 (p)")
    out = cfg.to_dict()
    assert out == d and list(out) == list(d)


@pytest.mark.parametrize("case", COMPILED)
def test_every_field_is_checked(case):
    d = COMPILED[case]
    cls = learning_engines.ENGINES[d["engine"]].Schema
    for f in cls.fields():
        if f.name not in d:
            continue
        meta = f.metadata
        bad = {"int": meta.get("hi", 0) + 1, "bool": 1, "enum": "nope", "const": meta.get("value", 0) + 1}[meta["kind"]]
        if meta["kind"] == "int" and f.name == "sign":
            bad = 0
        with pytest.raises(ImageError, match=f"image projection 0 \\(p\\): .*{f.name}") as e:
            learning_engines.schema({**d, f.name: bad}, "image projection 0 (p)")
        assert "\n" not in str(e.value)
        missing = {k: v for k, v in d.items() if k != f.name}
        if f.name != "engine":
            with pytest.raises(ImageError, match=f.name):
                learning_engines.schema(missing, "image projection 0 (p)")


def test_cross_field_rules():
    h = COMPILED["homeostatic_stdp"]
    with pytest.raises(ImageError, match="window exactly when homeostasis"):
        learning_engines.schema({**h, "homeostasis": False}, "p")
    with pytest.raises(ImageError, match="w_lo 9 exceeds w_hi 8"):
        learning_engines.schema({**COMPILED["vogels_isp"], "w_lo": 9, "w_hi": 8}, "p")
    v = {k: x for k, x in COMPILED["vogels_isp"].items() if k != "eta"}
    with pytest.raises(ImageError, match="multiplicative=False has no eta"):
        learning_engines.schema(v, "p")
    cfg = learning_engines.schema(h, "p")
    with pytest.raises(ImageError, match="needs array 'k_lut'"):
        cfg.check_arrays({"h_lut": np.zeros(101, np.int64)}, 5, "p")
    with pytest.raises(ImageError, match="k_lut has shape"):
        cfg.check_arrays({"h_lut": np.zeros(101, np.int64), "k_lut": np.zeros(7, np.int64)}, 5, "p")
    cfg.check_arrays({"h_lut": np.zeros(101, np.int64), "k_lut": np.zeros(101, np.int64)}, 5, "p")


def test_registry_refuses_incomplete_or_duplicate_engines():
    with pytest.raises(TypeError, match="lacks"):
        learning_engines.register(object())
    import types
    dup = types.SimpleNamespace(ENGINE="vogels_isp", READS_V=False, Schema=None, make_state=None, step=None)
    with pytest.raises(ValueError, match="registered already"):
        learning_engines.register(dup)


def test_every_engine_quantizes_through_the_registry():
    """Every registered engine has ``quantize(q, params, ctx)``, the loihi engine included: pair stdp through
    the same interface as the seed rules (fields, errors and its report entries)."""
    from neuromap.learning_engines.schema import QuantizeContext, Quantized
    for mod in learning_engines.ENGINES.values():     # loihi3f: the compiler maps R-STDP (reward schedule);
        # loihi3f_us: the compiler maps Urbanczik-Senn (the post population's compartment scales and tables)
        assert mod.ENGINE in ("loihi3f", "loihi3f_us") or callable(mod.quantize), mod.ENGINE
    p = {"rule": "stdp", "tau_plus": 20.0, "tau_minus": 20.0, "A_plus": 0.01, "A_minus": 0.012, "w_min": 0.0,
         "w_max": 0.3, "bound": "soft"}
    q = Quantized()
    learning_engines.ENGINES["loihi"].quantize(q, p, QuantizeContext(ws=600.0, dt=1.0, where="projections[0]",
                                                                      sign=1, delay=1, field_max=255))
    cfg = learning_engines.schema(q.fields, "p")
    assert q.fields["engine"] == "loihi" and cfg.to_dict() == q.fields
    assert q.report["w_range"] == [0, 180] and q.report["rule"] == q.fields["rules"]["dw"]
    assert {"A_plus", "A_minus", "w_max", "same_step"} <= set(q.errors) and q.errors["A_plus"] < 1e-3
    q0 = Quantized()
    learning_engines.ENGINES["loihi"].quantize(q0, {**p, "A_plus": 0.0, "A_minus": 0.0},
                                                QuantizeContext(ws=600.0, dt=1.0, where="p", field_max=255))
    assert q0.fields == {}                      # nothing learns: the compiler freezes the projection
