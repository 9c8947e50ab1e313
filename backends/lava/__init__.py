"""Lava backend: run a neuromap hardware image as Lava processes (fixed_pt).

Import :mod:`backends.lava.compat` first; it makes lava-nc 0.10.0 importable on Python 3.11.
"""
from backends.lava.compat import LavaMissingError, import_lava, lava_available  # noqa: F401
