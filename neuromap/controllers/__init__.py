"""Controllers of the float reference simulator (reference-only; they do not map to hardware)."""
