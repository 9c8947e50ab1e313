"""Lava-side failures (issue 19 item 4): an image with a core that has no synapses runs in Lava (it died in
Lava's shared memory with ``'size' must be a positive number``, exit 1), and any exception raised inside
Lava becomes one line, exit 2 (exit 1 stays reserved for a validation mismatch)."""
from __future__ import annotations

import numpy as np
import pytest

from backends.lava.compat import lava_available
from neuromap.cli import main
from neuromap.network import Network

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")]


def _net_with_an_axonless_core() -> Network:
    """TrueNorth: population ``a`` (bias only, no incoming synapse) fills core 0, which gets no axon."""
    net = Network(name="axonless", seed=1)
    net.add_population("inp", 3, {"model": "spike_source", "times": [[0, 2, 5], [1, 5], [3]]})
    net.add_population("a", 2, "if", v_th=1.0, bias=0.3)
    net.add_population("b", 2, "if", v_th=1.0)
    net.connect("inp", "b", "all_to_all", weight=0.6)
    return net


@pytest.fixture(scope="module")
def axonless_build(tmp_path_factory):
    from neuromap.toolchain import compile_network
    img = compile_network(_net_with_an_axonless_core(), "truenorth", tn_time_limit=0.5).image
    assert np.diff(img.cores["axon_ptr"])[0] == 0        # the case: core 0 has no axon, no synapse
    out = tmp_path_factory.mktemp("lava") / "axonless"
    img.save(out)
    return str(out)


def test_a_core_without_synapses_validates_against_the_emulator(axonless_build, capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate", axonless_build, "--steps", "12"])
    out = capsys.readouterr()
    assert info.value.code == 0, out.err
    assert out.out.startswith("identical: 12 steps")


def test_an_exception_inside_lava_is_one_line_exit_2(axonless_build, capsys, monkeypatch):
    from lava.magma.core.process.process import AbstractProcess

    def broken_run(self, *a, **k):
        raise ValueError("'size' must be a positive number different from zero")
    monkeypatch.setattr(AbstractProcess, "run", broken_run)
    for argv in (["validate", axonless_build, "--steps", "5"],
                 ["run", axonless_build, "--backend", "lava", "--steps", "5"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err.strip()
        assert info.value.code == 2
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "image 'axonless'" in err and "TrueNorthCore processes" in err and "ValueError" in err


def test_a_loihi_build_failure_names_the_process(capsys, monkeypatch, tmp_path):
    import backends.lava.build as build
    from neuromap.toolchain import compile_network
    net = Network(name="tiny", seed=0)
    net.add_population("inp", 2, {"model": "spike_source", "times": [[0], [1]]})
    net.add_population("h", 2, "lif", v_th=1.0)
    net.connect("inp", "h", "all_to_all", weight=0.5, name="inp_h")
    compile_network(net, "loihi", placer="sequential").image.save(tmp_path / "b")

    def broken(*args, **kwargs):
        raise RuntimeError("port shapes do not match")
    monkeypatch.setattr(build, "make_connection", broken)
    with pytest.raises(SystemExit) as info:
        main(["run", str(tmp_path / "b"), "--backend", "lava", "--steps", "3"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1
    assert "creating connection process 'inp_h:inp->h'" in err and "RuntimeError" in err
