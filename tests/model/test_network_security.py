"""Network files read as untrusted input (issue 19: hostile but small inputs, file disclosure, merge keys,
JSON duplicate keys): every case is a one-line NetworkFormatError, refused before it costs memory."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from neuromap.cli import main
from neuromap.errors import NetworkFormatError
from neuromap.io import load_network

HEAD = "format: neuromap/1\nname: h\n"
POPS = "populations:\n  a: {size: 4, neuron: {model: lif}}\n"
LAUGHS = HEAD + "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi")) + POPS

CASES = {  # file name -> (text, substrings of the one-line error)
    "laughs.yaml": (LAUGHS, ["aliases expand to more than"]),
    "deep_1000.yaml": (HEAD + "description: " + "[" * 1000 + "]" * 1000 + "\n" + POPS, ["nesting deeper than 64"]),
    "deep_100000.yaml": (HEAD + "description: " + "[" * 100000 + "]" * 100000 + "\n" + POPS, ["nesting deeper"]),
    "deep_dash.yaml": (HEAD + "description:\n" + "- " * 100000 + "x\n" + POPS, ["nesting deeper"]),
    "deep_1000.json": ('{"format": "neuromap/1", "x": ' + "[" * 1000 + "]" * 1000 + "}", ["nesting 1001 levels"]),
    "deep_100000.json": ('{"format": "neuromap/1", "x": ' + "[" * 100000 + "]" * 100000 + "}", ["nesting"]),
    "digits.yaml": (HEAD + "seed: " + "9" * 5000 + "\n" + POPS, ["integer literal of 5000"]),
    "digits.json": ('{"format": "neuromap/1", "seed": ' + "9" * 5000 + "}", ["5000 digits"]),
    "dup.json": ('{"format": "neuromap/1", "name": "a", "name": "b"}', ["'name' appears twice"]),
    "dt_tiny.yaml": (HEAD + "dt: 1.0e-300\n" + POPS, ["dt", "outside"]),
    "dt_huge.yaml": (HEAD + "dt: 1.0e+300\n" + POPS, ["dt", "outside"]),
    "times.yaml": (HEAD + "populations:\n  s: {size: 1, neuron: {model: spike_source, times: [[1.0e+300]]}}\n",
                   ["times[0][0]", "beyond"]),
    "size.yaml": (HEAD + "populations:\n  a: {size: 2147483647, neuron: {model: lif}}\n",
                  ["populations.a.size", "2147483647 neurons", "GiB"]),
    "pair.yaml": (HEAD + "populations:\n  a: {size: 1000000, neuron: {model: lif}}\n  b: {size: 1000000, neuron: "
                  "{model: lif}}\nprojections:\n- {pre: a, post: b, connect: {rule: all_to_all}, weight: 1.0}\n",
                  ["projections[0].connect", "1e+12 synapses", "GiB"]),
    "delay.yaml": (HEAD + "populations:\n  a: {size: 10, neuron: {model: lif}}\nprojections:\n"
                   "- {pre: a, post: a, connect: {rule: all_to_all}, weight: 1.0, delay: 1000000000}\n",
                   ["projections[0].delay", "1000000000 steps", "GiB"]),
    "empty.yaml": (HEAD + "populations: {}\n", ["no populations"]),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_network_files_are_refused_fast(tmp_path, name):
    text, match = CASES[name]
    (tmp_path / name).write_text(text)
    t = time.monotonic()
    with pytest.raises(NetworkFormatError) as e:
        load_network(tmp_path / name)
    assert time.monotonic() - t < 10
    msg = str(e.value)
    assert "\n" not in msg and name in msg
    for s in match:
        assert s in msg, msg


def test_merge_key_with_override_is_valid_yaml(tmp_path):
    (tmp_path / "m.yaml").write_text(HEAD + "populations:\n  a: &a {size: 2, neuron: {model: lif, tau_m: 10.0}}\n"
                                     "  b: {<<: *a, size: 3}\n")
    net = load_network(tmp_path / "m.yaml")
    assert net.populations["b"].size == 3 and net.populations["a"].size == 2
    assert net.populations["b"].neuron["tau_m"] == 10.0
    (tmp_path / "d.yaml").write_text(HEAD + POPS + "  b: {size: 2, size: 3, neuron: {model: lif}}\n")
    with pytest.raises(NetworkFormatError, match="'size' appears twice"):
        load_network(tmp_path / "d.yaml")


SECRET = "root:x:0:0:topsecret"


@pytest.mark.parametrize("ref", ["/etc/passwd", "/proc/self/environ", "../outside.csv", "link.csv"])
def test_file_references_stay_inside_the_network_directory(tmp_path, ref):
    (tmp_path / "outside.csv").write_text(SECRET + "\n")
    d = tmp_path / "net"
    d.mkdir()
    os.symlink(tmp_path / "outside.csv", d / "link.csv")
    (d / "n.yaml").write_text(HEAD + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                              f"- {{pre: a, post: a, connect: {{rule: all_to_all}}, weight: {{file: '{ref}'}}}}\n")
    with pytest.raises(NetworkFormatError) as e:
        load_network(d / "n.yaml")
    assert "outside the network file's directory" in str(e.value) and "--allow-outside-files" in str(e.value)


def test_allow_outside_files_and_no_content_in_errors(tmp_path, capsys):
    (tmp_path / "outside.csv").write_text(SECRET + "\n")
    (tmp_path / "w.csv").write_text("1,2\n3,4\n")
    d = tmp_path / "net"
    d.mkdir()
    for name, ref in (("bad.yaml", "../outside.csv"), ("good.yaml", "../w.csv")):
        (d / name).write_text(HEAD + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                              f"- {{pre: a, post: a, connect: {{rule: matrix, file: '{ref}'}}}}\n")
    for argv, code in ((["simulate", str(d / "bad.yaml"), "-n", "2"], 2),
                       (["simulate", str(d / "bad.yaml"), "-n", "2", "--allow-outside-files"], 2),
                       (["simulate", str(d / "good.yaml"), "-n", "2"], 2),
                       (["simulate", str(d / "good.yaml"), "-n", "2", "--allow-outside-files"], 0)):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        assert e.value.code == code, err
        assert "topsecret" not in err and "root:x" not in err
        if code == 2:
            assert len(err.strip().splitlines()) == 1
    from neuromap.io import ALLOW_OUTSIDE_FILES
    assert ALLOW_OUTSIDE_FILES.get() is False      # the flag lasts one command, also in-process
    # inside the directory, an unreadable file is named, its content is not quoted
    (d / "s.csv").write_text(SECRET + "\n")
    (d / "s.yaml").write_text(HEAD + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                              "- {pre: a, post: a, connect: {rule: matrix, file: s.csv}}\n")
    with pytest.raises(NetworkFormatError) as e:
        load_network(d / "s.yaml")
    assert "s.csv" in str(e.value) and "topsecret" not in str(e.value) and "root:x" not in str(e.value)


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "n.yaml")
    with pytest.raises(NetworkFormatError, match="not a regular file"):
        load_network(tmp_path / "n.yaml")
    os.mkfifo(tmp_path / "w.npy")
    (tmp_path / "m.yaml").write_text(HEAD + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                                     "- {pre: a, post: a, connect: {rule: all_to_all}, weight: {file: w.npy}}\n")
    with pytest.raises(NetworkFormatError, match="not a regular file"):
        load_network(tmp_path / "m.yaml")


def test_inside_files_still_load(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((2, 2)))
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "v.npy", np.full(4, 0.5))
    (tmp_path / "m.yaml").write_text(HEAD + "populations:\n  a: {size: 2, neuron: {model: lif}}\nprojections:\n"
                                     "- {pre: a, post: a, connect: {rule: matrix, file: w.npy}}\n"
                                     "- {pre: a, post: a, connect: {rule: all_to_all}, weight: {file: sub/v.npy}}\n")
    net = load_network(tmp_path / "m.yaml")
    assert net.projections[0].n_synapses == 4 and np.all(net.projections[1].weight == 0.5)


def test_nir_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "g.nir")
    with pytest.raises(NetworkFormatError, match="not a regular file"):
        load_network(tmp_path / "g.nir")


def test_nir_parameter_of_the_wrong_shape_is_a_clean_error(tmp_path):
    """An exported graph whose neuron parameter is replaced by an empty array (fuzz input): one line."""
    import nir

    from neuromap.nir_io import _read_graph, write_nir
    write_nir(load_network(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                        "examples", "ramp_lif.yaml")), tmp_path / "g.nir")
    g = _read_graph(str(tmp_path / "g.nir"))
    node = next(n for n in g.nodes.values() if type(n).__name__ == "CubaLIF")
    node.w_in = np.zeros((0,))
    nir.write(str(tmp_path / "bad.nir"), g)
    with pytest.raises(NetworkFormatError, match="w_in: has 0 values"):
        load_network(tmp_path / "bad.nir")


def test_rates_file_is_bounded_like_network_files(tmp_path):
    from neuromap.placement.rates_file import load_rates
    (tmp_path / "r.yaml").write_text(LAUGHS.replace(POPS, "rates: {a: 1}\n"))
    t = time.monotonic()
    with pytest.raises(NetworkFormatError, match="cannot parse: .*aliases expand"):
        load_rates(tmp_path / "r.yaml", {"a": 4}, 1.0)
    assert time.monotonic() - t < 10
    (tmp_path / "d.json").write_text('{"rates": {"a": 1}, "rates": {"a": 2}}')
    with pytest.raises(NetworkFormatError, match="appears twice"):
        load_rates(tmp_path / "d.json", {"a": 4}, 1.0)


def test_nir_reader_crash_is_a_clean_error(tmp_path, monkeypatch):
    """libhdf5 segfaults on some corrupted files (fuzz find: a byte-flipped .nir killed the process); the
    file is read first in a forked child, and a crash there is a one-line error."""
    import signal

    from neuromap import nir_io
    nir_io.write_nir(load_network(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                               "examples", "ramp_lif.yaml")), tmp_path / "g.nir")
    monkeypatch.setattr(nir_io, "_read_graph_unchecked", lambda path: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(NetworkFormatError, match="HDF5 library crashed reading it"):
        load_network(tmp_path / "g.nir")


def test_huge_probe_index_is_a_clean_error(tmp_path, capsys):
    """A probe index of 1e300 was cast to int64 first (RuntimeWarning on stderr, then a wrapped index)."""
    (tmp_path / "p.yaml").write_text(HEAD + POPS + "probes:\n- {population: a, variables: [v], neurons: [1.0e+300]}\n")
    with pytest.raises(SystemExit) as e:
        main(["simulate", str(tmp_path / "p.yaml"), "-n", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "index 1e+300 is outside 0..3" in err[0], err
