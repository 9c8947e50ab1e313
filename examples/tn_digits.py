"""A TrueNorth-mapped feed-forward classifier: scikit-learn's 8x8 digits (issue 9 item 6).

Offline (numpy): a linear softmax classifier, 64 pixels + bias -> 10 classes, trained on the first
1200 samples (``N_TRAIN``), evaluated on the other 597. Its weights are quantized to integers
-3..3 (one scale per matrix, chosen on the training set: ``quantize``).

On chip: every test sample is shown for ``T`` steps (1 ms), then ``GAP`` steps without pixel input (clear phase).

* ``pixels`` (65 ``spike_source`` neurons, the last one the bias): pixel intensity x in [0, 1]
  (value / 16) is rate coded as a regular spike train of ``PMAX * x`` spikes per step with a
  random phase (one seeded generator per sample, so a sample's spikes do not depend on how many
  samples are shown).
* ``out`` (10 ``if`` neurons, threshold ``THETA`` = 17, reset to 0): class = argmax of the spike
  counts in the sample's window (steps ``k*P + 1 .. k*P + T``, P = T + GAP; input spikes arrive one
  step after they are emitted); ties go to the lowest class index (``np.argmax``).
* TrueNorth gives each neuron one signed weight per axon type (4 types) and a binary crossbar, so
  the integer weight q in -3..3 is split over three projections whose weights are the same for
  every synapse: ``plus1`` (+1), ``plus2`` (+2) and ``minus3`` (3, ``inh``); q = 3: +1 +2,
  q = -1: -3 +2, q = -2: -3 +1 (Eedn-style input copies: a pixel drives up to three axons). The
  fourth type is ``clear``: ``N_CLEAR`` sources firing through the gap with weight THETA push every
  output over threshold each step, so it ends the gap at exactly V = 0 (reset) whatever the
  window left; ``window_layout`` checks that the gap is long enough for every sample shown.
  With weights 1, 2, 3, 17 and threshold 17 the TrueNorth scale is exactly 15 (hw weights 15, 30,
  -45, 255, alpha 255) and the crossbar is legal without error.

``build(n_test)`` is the network for the CLI
(``neuromap compile examples/tn_digits.py:build --target truenorth -o build/digits``), ``small()``
the 20-sample version the tests use, ``main()`` (``python examples/tn_digits.py [N]``) measures the
accuracy of the float model, the float spiking reference, the TrueNorth image and the Loihi image.
``build(encoding="signed")`` puts the integer weights in one mixed-sign projection instead and lets
the compiler's crossbar legalization choose the 4 levels per neuron (for comparison).
"""
from __future__ import annotations

import functools
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

N_TRAIN = 1200          # first samples train, the rest (597) test
LEVELS = 3              # integer weights -LEVELS..LEVELS
T = 32                  # steps per sample window
GAP = 8                 # silent steps after each window (clear phase)
PERIOD = T + GAP
PMAX = 0.5              # spikes per step of a pixel at full intensity
THETA = 17.0            # output threshold (weight units); a clear spike adds THETA
N_CLEAR = 4             # clear sources
SEED = 9                # input spike generator
N_SMALL = 20            # test samples of small()


@functools.lru_cache(maxsize=None)
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); x in [0, 1] with a constant bias column appended (65 features)."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = np.hstack([d.data / 16.0, np.ones((len(d.data), 1))])
    return x[:N_TRAIN], d.target[:N_TRAIN], x[N_TRAIN:], d.target[N_TRAIN:]


@functools.lru_cache(maxsize=None)
def train(iters: int = 2000, lr: float = 0.5, l2: float = 1e-3) -> np.ndarray:
    """Softmax regression by full-batch gradient descent from zero (deterministic): W (65, 10)."""
    x, y, _, _ = data()
    w = np.zeros((x.shape[1], 10))
    onehot = np.eye(10)[y]
    for _ in range(iters):
        z = x @ w
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w -= lr * (x.T @ (p - onehot) / len(x) + l2 * w)
    return w


@functools.lru_cache(maxsize=None)
def quantize() -> np.ndarray:
    """Integer weights Q (65, 10) in -LEVELS..LEVELS: round(W / c) clipped, with the step c (one for
    the matrix) that maximizes training accuracy (first best on a grid)."""
    x, y, _, _ = data()
    w = train()
    best = (-1.0, None)
    for c in np.abs(w).max() / LEVELS * np.linspace(0.05, 2.0, 80):
        q = np.clip(np.rint(w / c), -LEVELS, LEVELS)
        acc = float(np.mean(np.argmax(x @ q, axis=1) == y))
        if acc > best[0]:
            best = (acc, q)
    return best[1].astype(np.int64)


def planes(q: np.ndarray) -> dict[str, np.ndarray]:
    """Split integer weights -3..3 into 0/1 matrices of the projections plus1, plus2, minus3
    (q = plus1 + 2 plus2 - 3 minus3)."""
    neg = q < 0
    r = np.where(neg, q + 3, q)
    out = {"plus1": r & 1, "plus2": r >> 1, "minus3": neg.astype(np.int64)}
    assert np.array_equal(out["plus1"] + 2 * out["plus2"] - 3 * out["minus3"], q)
    return out


def encode(x: np.ndarray, first: int = 0) -> np.ndarray:
    """bool (len(x), T, 65) input spikes: a regular train of PMAX * x spikes per step with a random phase
    drawn from a generator seeded by (SEED, sample index); ``first``: index of x[0] in the test set."""
    out = np.zeros((len(x), T, x.shape[1]), bool)
    t = np.arange(1, T + 1)[:, None]
    for k, xs in enumerate(x):
        phase = np.random.default_rng([SEED, first + k]).random(xs.size)
        p = PMAX * xs
        out[k] = np.floor(phase + t * p) > np.floor(phase + (t - 1) * p)
    return out


def window_layout(spikes: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Check that the clear phase resets every output (raise otherwise); returns the inhibition each
    window can leave at most (per sample). A window ends at V >= -sum of its inhibitory inputs; the
    gap adds N_CLEAR * THETA per step; once V reaches THETA the neuron fires (V = 0) every gap step after."""
    inhib = np.einsum("kti,ij->kj", spikes.astype(np.int64), np.minimum(q, 0)).min(axis=1)
    need = np.ceil((THETA - inhib) / (N_CLEAR * THETA))
    if need.size and need.max() > GAP:
        raise ValueError(f"GAP = {GAP} steps cannot clear an inhibition of {-inhib.min()} (needs {int(need.max())})")
    return -inhib


def build(n_test: int | None = None, encoding: str = "planes", seed: int = 1,
          q: np.ndarray | None = None) -> neuromap.Network:
    """The classifier network showing the first ``n_test`` test samples (default: all 597).
    ``encoding``: ``planes`` (three single-weight projections, exact on TrueNorth) or ``signed`` (one
    mixed-sign projection with the integer weights, legalized by the compiler). ``q``: integer
    weights (65, 10) to use instead of the trained ones (tests: a broken mapping must lose accuracy).
    ``seed``: the Network's seed (``neuromap compile --seed``); the input spikes are fixed by SEED."""
    _, _, xt, _ = data()
    xt = xt[: len(xt) if n_test is None else int(n_test)]
    q = quantize() if q is None else np.asarray(q, np.int64)
    spikes = encode(xt)
    window_layout(spikes, q)
    k, t, i = np.nonzero(spikes)
    step = k * PERIOD + t
    times = [sorted(step[i == n].astype(float).tolist()) for n in range(q.shape[0])]
    net = neuromap.Network(name=f"tn_digits_{encoding}", dt=1.0, seed=seed)
    net.add_population("pixels", q.shape[0], "spike_source", times=times)
    clear = [float(kk * PERIOD + T + g) for kk in range(len(xt)) for g in range(GAP)]
    net.add_population("clear", N_CLEAR, "spike_source", times=[clear] * N_CLEAR)
    net.add_population("out", 10, "if", v_th=THETA, v_reset=0.0)
    if encoding == "planes":
        for name, m in planes(q).items():
            if m.any():
                w = m.T.astype(float) * (3.0 if name == "minus3" else float(name[-1]))
                net.connect("pixels", "out", {"rule": "matrix", "matrix": w}, delay=1,
                            target="inh" if name == "minus3" else "exc", name=name)
    elif encoding == "signed":
        net.connect("pixels", "out", {"rule": "matrix", "matrix": q.T.astype(float)}, delay=1, name="signed")
    else:
        raise ValueError(f"encoding {encoding!r}: use planes or signed")
    net.connect("clear", "out", "all_to_all", weight=THETA, delay=1, name="clear")
    net.add_probe("out", "spikes")
    return net


def small(seed: int = 1) -> neuromap.Network:
    """The first N_SMALL test samples (tests)."""
    return build(N_SMALL, seed=seed)


def n_steps(n_test: int) -> int:
    """Steps to run ``n_test`` samples (the last window's spikes land one step after its inputs)."""
    return n_test * PERIOD + 1


def classify(steps: np.ndarray, neurons: np.ndarray, n_test: int) -> np.ndarray:
    """Predicted class per sample from ``out`` spikes (step, neuron): argmax of the counts in the sample's
    window (steps k*PERIOD + 1 .. k*PERIOD + T), ties -> lowest index."""
    steps, neurons = np.asarray(steps, np.int64), np.asarray(neurons, np.int64)
    k, r = np.divmod(steps - 1, PERIOD)
    m = (r < T) & (k < n_test) & (steps >= 1)
    counts = np.zeros((n_test, 10), np.int64)
    np.add.at(counts, (k[m], neurons[m]), 1)
    return np.argmax(counts, axis=1)


def labels(n_test: int) -> np.ndarray:
    return data()[3][:n_test]


def accuracy_float() -> tuple[float, float]:
    """Test accuracy of the trained float model and of its integer weights (non-spiking)."""
    _, _, x, y = data()
    return float(np.mean(np.argmax(x @ train(), 1) == y)), float(np.mean(np.argmax(x @ quantize(), 1) == y))


def run_float(net: neuromap.Network, n_test: int) -> np.ndarray:
    """Predictions of the float spiking reference (neuromap.simulate)."""
    res = neuromap.simulate(net, n_steps(n_test))
    return classify(*res.spikes["out"], n_test)


def compile_image(net: neuromap.Network, target: str):
    from neuromap.toolchain import compile_network
    return compile_network(net, target).image


def run_image(image, n_test: int, engine: str = "numba") -> np.ndarray:
    """Predictions of a compiled image on the emulator."""
    from backends.emulator import run
    sp = run(image, n_steps(n_test), engine=engine).spikes["out"]
    return classify(sp[:, 0], sp[:, 1], n_test)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else len(data()[3])
    y = labels(n)
    t0 = time.perf_counter()
    acc_w, acc_q = accuracy_float()
    rows = [("float softmax (non-spiking), 597 samples", acc_w, time.perf_counter() - t0),
            (f"integer weights -{LEVELS}..{LEVELS} (non-spiking), 597 samples", acc_q, 0.0)]
    for enc in ("planes", "signed"):
        net = build(n, encoding=enc)
        if enc == "planes":
            t0 = time.perf_counter()
            rows.append((f"float spiking reference, {n} samples", float(np.mean(run_float(net, n) == y)),
                         time.perf_counter() - t0))
        for target in (("truenorth", "loihi") if enc == "planes" else ("truenorth",)):
            t0 = time.perf_counter()
            img = compile_image(net, target)
            tc = time.perf_counter() - t0
            t0 = time.perf_counter()
            acc = float(np.mean(run_image(img, n) == y))
            err = (f", crossbar L1 error {100 * img.options['truenorth']['crossbar']['totals']['rel_error']:.1f} %"
                   if target == "truenorth" else "")
            rows.append((f"{target} image, {enc} weights, emulator, {n} samples (compile {tc:.1f} s{err})", acc,
                         time.perf_counter() - t0))
    w = max(len(r[0]) for r in rows)
    print(f"{'model':<{w}}  accuracy  time (s)")
    for name, acc, sec in rows:
        print(f"{name:<{w}}  {acc:8.4f}  {sec:8.2f}")


if __name__ == "__main__":
    main()
