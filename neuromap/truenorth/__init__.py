"""TrueNorth-style target passes: crossbar legalization (:mod:`.crossbar`, :mod:`.report`) and fan-out
legalization (:mod:`.fanout`). Plain numpy in, plain dataclasses out; docs/truenorth.md."""
