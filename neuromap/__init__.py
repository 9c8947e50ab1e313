"""neuromap: spiking integrate-and-fire networks with plasticity on neuromorphic cores.

Pipeline: network (API | YAML/JSON | NIR) -> compiler passes -> hardware image
-> emulator / Lava. See docs/concepts.md.
"""
from neuromap.errors import NetworkFormatError, NeuromapError  # noqa: F401
from neuromap.network import Network, Population, Probe, Projection  # noqa: F401
from neuromap.simulator import SimResult, simulate  # noqa: F401

__version__ = "0.1.0"
