"""The compiler: a network in, a hardware image (:mod:`neuromap.image`) and typed reports out.

:func:`compile_network` runs the one pass list of :mod:`neuromap.compiler.pipeline` (each pass a small
pure function followed by its verifier) and returns a :class:`CompileResult` (``.image``, ``.reports``,
``.passes``; :mod:`neuromap.compiler.result`). The compiler imports no runtime: passes that run an image
take the ``runner`` the application layer gives (:func:`neuromap.toolchain.compile_network` gives the
emulator).
"""
from neuromap.compiler.pipeline import PASSES, CompileState, Pass, compile_network, core_kind
from neuromap.compiler.result import (CompileOptions, CompileReports, CompileResult, ImageRunner, PassRecord,
                                      Statistic)

__all__ = ["compile_network", "core_kind", "CompileState", "Pass", "PASSES", "CompileOptions", "CompileReports",
           "CompileResult", "ImageRunner", "PassRecord", "Statistic"]
