"""Benchmarks (``make bench`` = ``python -m bench.run``); results in bench/results/.

Each benchmark is a module with ``NAME``, ``DESCRIPTION`` and ``run(quick: bool) -> dict``
(flat dict of numbers/strings; keys ending in ``_s`` are seconds), registered in
``bench.run.BENCHMARKS``. Never used by the tests (no timed assertions anywhere).
"""
