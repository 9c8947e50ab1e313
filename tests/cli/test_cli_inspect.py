"""``neuromap inspect`` (text and --json) and the placement options of ``neuromap compile``."""
import json
import subprocess
import sys

import pytest

from tests.helpers.cli import run_cli

EX = "examples/lava_port_hw.yaml"


def cli(capsys, *args):
    return run_cli(args, capsys)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    d = tmp_path_factory.mktemp("b") / "build"
    subprocess.run([sys.executable, "-m", "neuromap", "compile", EX, "-o", str(d), "--placer", "cpsat",
                    "--time-limit", "0.3", "--seed", "2"], check=True, capture_output=True)
    return d


def test_compile_prints_placement_summary_and_json(capsys, tmp_path):
    code, out, _ = cli(capsys, "compile", EX, "-o", str(tmp_path / "a"), "--placer", "greedy")
    assert code == 0 and "placement (greedy" in out and "hop-weighted traffic" in out and "nJ/step" in out
    code, out, _ = cli(capsys, "compile", EX, "-o", str(tmp_path / "b"), "--placer", "sequential", "--json")
    d = json.loads(out)
    assert code == 0 and d["placement"]["method"] == "sequential" and d["cores"] == d["placement"]["cores_used"]


def test_inspect_json_keys(capsys, build):
    code, out, _ = cli(capsys, "inspect", str(build), "--json")
    d = json.loads(out)
    assert code == 0
    p = d["placement"]
    for k in ("hop_weighted_traffic", "sequential_hop_weighted_traffic", "bound", "gap", "method", "cores_used",
              "max_link_load", "energy_pj_per_step", "latency_ns_per_step", "mean_hops"):
        assert k in p
    assert p["method"] == "cpsat" and p["seed"] == 2 and p["time_limit"] == 0.3
    assert d["size"]["neurons"] == 48 and d["size"]["cores"] == p["cores_used"]
    assert d["binding"] in d["utilization"] and 0 < d["binding_fraction"] <= 1
    assert d["utilization"]["neurons"]["max"] == 48 and d["utilization"]["neurons"]["limit"] == 1024
    assert d["has_mesh_positions"] and d["quantization"] is None


def test_inspect_text(capsys, build):
    code, out, _ = cli(capsys, "inspect", str(build))
    assert code == 0
    for s in ("core utilization", "neurons", "synapse_memory_bits", "limited by: neurons", "placement (cpsat",
              "max link load", "nJ/step", "us/step", "quantization: none"):
        assert s in out


def test_inspect_shows_the_quantization_table(capsys, tmp_path):
    code, _, err = cli(capsys, "compile", "examples/ramp_lif.yaml", "-o", str(tmp_path / "q"), "--placer",
                       "sequential")
    if code != 0:
        pytest.skip(f"float example does not compile yet: {err.strip()}")
    code, out, _ = cli(capsys, "inspect", str(tmp_path / "q"))
    assert code == 0 and "quantization (rounding" in out and "projections:" in out


def test_inspect_bad_build_exit_2(capsys, tmp_path, build):
    code, out, err = cli(capsys, "inspect", str(tmp_path / "missing"))
    assert code == 2 and err.startswith("neuromap: error:") and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text((build / "manifest.json").read_text())
    (bad / "common.bin").write_bytes(b"not a bundle")
    code, _, err = cli(capsys, "inspect", str(bad))
    assert code == 2 and "common.bin" in err and len(err.strip().splitlines()) == 1


def _strip_pass_records(build):
    """Rewrite ``build`` as an image from before pass records were saved (no manifest ``pass_records``)."""
    from neuromap import image_files
    mf = build / "manifest.json"
    m = json.loads(mf.read_text())
    m.pop("pass_records")
    m.pop("manifest_sha256")
    m["manifest_sha256"] = image_files.manifest_digest(m)
    mf.write_text(json.dumps(m, indent=1) + "\n")


def test_inspect_shows_the_saved_pass_records_and_old_images_load(capsys, tmp_path):
    """The compile saves its per-pass records in the image (manifest ``pass_records``); ``inspect`` prints them
    as saved (text and --json: the same objects as ``compile --json``'s ``passes``, timings included, so nothing
    was recomputed); an image without them loads and shows none."""
    out_dir = tmp_path / "p"
    code, out, _ = cli(capsys, "compile", EX, "-o", str(out_dir), "--placer", "greedy", "--json")
    compiled = json.loads(out)["passes"]
    assert code == 0 and [r["name"] for r in compiled][-1] == "fidelity"
    code, out, _ = cli(capsys, "inspect", str(out_dir), "--json")
    assert code == 0 and json.loads(out)["passes"] == compiled          # same wall_s: read, not re-measured
    code, out, _ = cli(capsys, "inspect", str(out_dir))
    place = next(r for r in compiled if r["name"] == "place")
    assert "compiler passes (as recorded when compiled):" in out
    assert f"place (pass): {place['wall_s']:.3g} s" in out and "cores_used" in out
    _strip_pass_records(out_dir)
    code, out, _ = cli(capsys, "inspect", str(out_dir), "--json")
    assert code == 0 and json.loads(out)["passes"] is None
    code, out, _ = cli(capsys, "inspect", str(out_dir))
    assert code == 0 and "compiler passes" not in out


def test_malformed_pass_records_are_refused_in_one_line(capsys, tmp_path):
    from neuromap import image_files
    out_dir = tmp_path / "q"
    assert cli(capsys, "compile", EX, "-o", str(out_dir), "--placer", "greedy")[0] == 0
    mf = out_dir / "manifest.json"
    m = json.loads(mf.read_text())
    m["pass_records"][0]["kind"] = "magic"
    m.pop("manifest_sha256")
    m["manifest_sha256"] = image_files.manifest_digest(m)
    mf.write_text(json.dumps(m))
    code, out, err = cli(capsys, "inspect", str(out_dir))
    assert code == 2 and "pass_records[0].kind" in err and len(err.strip().splitlines()) == 1
