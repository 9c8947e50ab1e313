"""Fuzz every command with hostile and mutated inputs (tests/helpers/fuzz_inputs.py): no tracebacks, hangs, memory
exhaustion or crashes. The default run is small (the hand-written hostile files plus a few mutations of
each kind); ``-m slow`` runs a larger corpus."""
from __future__ import annotations

import pytest

from tests.helpers.fuzz_inputs import build_corpus, format_table, run_cases, summarize

BAD = ("traceback", "hang", "memory", "crash")


def _fuzz(tmp_path, per_kind: int, seed: int) -> None:
    cases = build_corpus(tmp_path / "corpus", per_kind, seed)
    results = run_cases(cases, timeout=60.0, mem_gb=4.0, workdir=tmp_path)
    table = summarize(results)
    print(format_table(table, 4.0))
    bad = [f"{r['outcome']}: {r['name']} {r['argv'][0]}: {r.get('detail', '')}" for r in results
           if r["outcome"] in BAD]
    assert not bad, "\n".join(bad[:20])
    assert all(table[k]["tried"] for k in table)
    assert sum(c["clean"] for c in table.values()) > len(results) // 2   # the corpus is mostly hostile


def test_fuzz_small(tmp_path):
    _fuzz(tmp_path, per_kind=40, seed=1)


@pytest.mark.slow
def test_fuzz_large(tmp_path):
    _fuzz(tmp_path, per_kind=400, seed=2)
