"""Running the ``neuromap`` command line inside the test process."""
from __future__ import annotations

import pytest

from neuromap.cli import main


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """``neuromap ARGV`` through the console entry point (its exit-code mapping): (exit code, stdout, stderr)
    (``capsys``: the test's pytest fixture; arguments are turned into strings)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return info.value.code, out, err
