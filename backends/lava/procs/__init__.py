"""Custom Lava processes with fixed_pt Python models (Lava searches this directory for their models)."""
