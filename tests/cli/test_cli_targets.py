"""`neuromap targets`: listing, showing, JSON, and the exit-2 one-line error."""
import json
import subprocess
import sys

from click.testing import CliRunner

from neuromap.cli.targets_cmd import command


def test_lists_builtin_targets():
    out = CliRunner().invoke(command, ["--json"])
    assert out.exit_code == 0
    assert {"loihi", "truenorth"} <= set(json.loads(out.output))


def test_show_loihi_constants_as_json():
    out = CliRunner().invoke(command, ["loihi", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["name"] == "loihi"
    assert data["core"]["max_neurons"] == 1024


def test_unknown_target_is_one_line_exit_2():
    p = subprocess.run([sys.executable, "-m", "neuromap", "targets", "nosuch"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0
    assert "nosuch" in p.stderr and "Traceback" not in p.stderr
