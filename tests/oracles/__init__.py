"""Independent test oracles: small, plainly written scalar references in plain Python ints.

Each module is written from the *documented* equations (docs/emulator.md, docs/targets.md *Neuron
arithmetic*, docs/quantization.md *Plastic projections*, docs/learning.md and the engine module docstrings,
which are the spec), one neuron or synapse at a time, one step at a time; none imports or transcribes the
emulator's kernels. Tests compare the emulator (numpy engine, numba engine, fused plastic loop) and the
Lava backend with them every step.

- :mod:`oracles.fixed_point`: round half up, int32 wrap, decay toward zero, saturation.
- :mod:`oracles.loihi_core`: a whole image of ``loihi_lif`` cores (LIF update, refractory, inputs,
  route walk, delays, weight exponents, dendrite sums) plus its plastic projections.
- :mod:`oracles.seed_rules`: one class per integer seed learning engine (``homeostatic_stdp`` incl.
  ``nn_stdp``, ``vogels_isp``, ``pool_stdp``, ``clopath``).
- :mod:`oracles.loihi_learning`: the ``loihi`` learning engine as an array reference written from Lava's source
  (vectorized like Lava's own model; not scalar, but independent of the engine's numba kernel).
- :mod:`oracles.poisson`: the documented Poisson input stream.
- :mod:`oracles.cases`: small networks and random engine constants the oracle tests share.

The TrueNorth neuron (Cassidy et al. 2013) already has its scalar oracle, written from the paper's equations
term by term: ``emulator.truenorth.reference_step`` (the ``reference`` engine of ``emulator.truenorth.run``
and of TrueNorth images); tests/truenorth/test_truenorth_neuron.py pins it with hand-computed vectors of every mode and
compares the numpy and numba engines with it, tests/backends/test_lava_backend_truenorth.py the Lava process.
"""
