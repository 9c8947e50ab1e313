"""Backends turn a hardware image into something runnable: the emulator and Lava."""
