"""The compiler: a network in, a hardware image (:mod:`neuromap.image`) out.

:func:`compile_network` runs the pass list of :mod:`neuromap.compiler.pipeline`
(each pass a small pure function followed by its verifier).
"""
from neuromap.compiler.pipeline import PASSES, CompileState, Pass, compile_network

__all__ = ["compile_network", "CompileState", "Pass", "PASSES"]
