"""Make lava-nc 0.10.0 importable on Python 3.11: the shim lives in the foundation module
:mod:`neuromap.lava_import` (so the contract-level rule parser :mod:`neuromap.learning_rules` can use it
without importing the backend); this module keeps the backend's import path for it."""
from neuromap.lava_import import INSTALL_HINT, LavaMissingError, import_lava, lava_available

__all__ = ["INSTALL_HINT", "LavaMissingError", "import_lava", "lava_available"]
