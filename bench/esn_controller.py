"""Seed 000's ESN secretion controller vs the soma-pool baselines over many seeds (float, chip) and an oracle search.

The oracle searches schedules of the controller's action set.
The pool neuron protocol of examples/pool_esn.py (2400 steps repeated 5 times; metric: mean |C_soma - 0.3| over the
last repetition, C_soma recomputed from the output spikes with P13/P14). Parts (``--part``, each merged into
bench/results/esn_controller_seeds.json, the table into bench/results/esn_controller_seeds.md):

- ``float`` (float reference, numpy): per seed (the network's input seed and the ESN's seed) the laws
  ``functional`` (the seed's "functionally defined Pw", Pw_soma += g (1 - tanh C_soma), the example's g = 0.01),
  ``functional_g1`` (the same with the seed's literal gain g = 1), ``fixed`` (secr() with k_secr = 0: no production),
  ``esn`` (epsilon 0.1 throughout), ``esn_greedy`` (epsilon 0 in the measured last repetition), and the same
  functional / fixed / esn with the seed's literal demand (``pw_set`` 0, ``*_pw_set0``).
- ``chip`` (compiled for loihi, emulated; ESN = the ``esn_q`` embedded-core controller): functional, fixed, esn,
  esn_greedy.
- ``oracle`` (float): the ESN replaced by a scheduled action sequence on the same action set (keep / down / up of
  the level k_secr / dk every 10 steps, clipped to +-k_max), searched per seed: every constant level, quiet windows
  at one level and the other windows at another, and coordinate descent over a schedule of 12 segments of 200 steps
  (the same in every repetition) from level 0. For a fixed seed the run is deterministic, so every closed-loop
  policy is one action sequence: the search finds what schedules of this action set reach (a local search: it
  does not prove that no lower schedule exists).
- ``oracle_fine`` (float): no production in repetitions 1-4, the measured last repetition as 24 segments of 100
  steps, coordinate descent from level 0.
- ``drain`` (float and chip): "always down" without a learner, secr() at k_secr = -k_max (the soma store drained),
  against k_secr = 0, per seed.
- ``noise`` (float): the sd of the per-step distance under no production and the standard error of the mean of
  the controller's reward samples in the measured repetition.

``python bench/esn_controller.py --part float|chip|oracle|oracle_fine|noise|drain [--seeds 0 1 ...]`` (heavy: run
under the heavy-job lock); registered as ``esn_controller`` (``run(quick)``: float and chip on seeds 0, 1).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

import pool_esn  # noqa: E402
from pool_neuron import STEPS, WINDOWS  # noqa: E402

NAME = "esn_controller"
DESCRIPTION = __doc__.splitlines()[0]
RESULTS = ROOT / "bench" / "results"
REPS = 5
SEEDS = tuple(range(10))
#: law -> (example law, plasticity overrides, greedy in the last repetition)
FLOAT_LAWS = {
    "functional": ("functional", {}, False),
    "functional_g1": ("functional", {"g_soma": 1.0}, False),
    "fixed": ("fixed", {}, False),
    "fixed_drain": ("fixed", {"k_secr": -pool_esn.ESN["k_max"]}, False),
    "esn": ("esn", {}, False),
    "esn_greedy": ("esn", {}, True),
    "functional_pw_set0": ("functional", {"pw_set": 0.0}, False),
    "fixed_pw_set0": ("fixed", {"pw_set": 0.0}, False),
    "esn_pw_set0": ("esn", {"pw_set": 0.0}, False),
}
CHIP_LAWS = ("functional", "fixed", "esn", "esn_greedy")
QUIET = ("base", "base2", "base3", "base4")
PERIOD = pool_esn.ESN["period"]
LEVELS = int(round(pool_esn.ESN["k_max"] / pool_esn.ESN["dk"]))


def _dev(spikes: np.ndarray, params: dict) -> tuple[float, dict]:
    cs = pool_esn.soma_calcium(spikes, params)
    last = slice((REPS - 1) * STEPS, REPS * STEPS)
    rates = {k: round(float(spikes[last][a:b].mean()), 4) for k, (a, b) in WINDOWS.items()}
    return float(np.abs(cs[last] - pool_esn.C_OPT).mean()), rates


def run_law(law: str, seed: int, chip: bool) -> tuple[float, dict]:
    """(mean |C_soma - c_opt| over the last repetition, output rate per window) of ``law`` on ``seed``."""
    base, over, greedy = FLOAT_LAWS[law]
    net = pool_esn.build(base, REPS, seed, esn_seed=seed, greedy_last=greedy)
    net.projections[0].plasticity = dict(net.projections[0].plasticity, **over)
    return _dev(pool_esn.output_spikes(net, REPS * STEPS, chip), net.projections[0].plasticity)


class _Scheduled:
    """Stands in for the ESN (:class:`neuromap.controllers.esn_pool.EsnQController`): at decision k it moves the
    level one step toward ``targets[k]`` (keep / down / up, the ESN's action set)."""

    targets = np.zeros(1, int)

    def __init__(self, n, *args, **kw):
        self.level, self.k, self.epsilon = int(round(pool_esn.ESN["k_secr"] / pool_esn.ESN["dk"])), 0, 0.0

    def act(self, obs, reward):
        tg = int(self.targets[min(self.k, self.targets.size - 1)])
        self.k += 1
        a = 0 if tg == self.level else (2 if tg > self.level else 1)
        self.level = max(-LEVELS, min(LEVELS, self.level + (0, -1, 1)[a]))
        return np.full(obs.shape[0], a)


def run_schedule(levels_per_decision: np.ndarray, seed: int) -> tuple[float, dict]:
    """The example's ``esn`` network with the ESN replaced by the level schedule (float reference)."""
    from neuromap.controllers import esn_pool
    _Scheduled.targets = np.asarray(levels_per_decision, int)
    with mock.patch.object(esn_pool, "EsnQController", _Scheduled):
        net = pool_esn.build("esn", REPS, seed, esn_seed=seed)
        return _dev(pool_esn.output_spikes(net, REPS * STEPS, False), net.projections[0].plasticity)


def _per_rep(one: np.ndarray) -> np.ndarray:
    return np.tile(one, REPS)


def _descend(evaluate, lv: np.ndarray, best: float, levels, max_sweeps: int, log):
    """Coordinate descent over the segment levels ``lv`` (value ``best``): segment by segment, each of ``levels``
    in turn, a change kept when ``evaluate`` gives less; sweeps until one keeps nothing or ``max_sweeps``.
    Returns (levels, value, sweeps, evaluations)."""
    improved, sweeps, n = True, 0, 0
    while improved and sweeps < max_sweeps:
        improved, sweeps = False, sweeps + 1
        for i in range(lv.size):
            for c in levels:
                if c == lv[i]:
                    continue
                trial = lv.copy()
                trial[i] = c
                d = evaluate(trial)
                n += 1
                if d < best - 1e-12:
                    best, lv, improved = d, trial, True
                    log(lv.tolist(), d)
    return lv, best, sweeps, n


def oracle(seed: int, log=print) -> dict:
    """The schedule search of the module docstring on ``seed``: best deviation found and by which schedule."""
    n_dec = STEPS // PERIOD
    tried: list[tuple[float, str]] = []

    def ev(sched, label):
        d, rates = run_schedule(sched, seed)
        tried.append((d, label))
        return d, rates

    const = {lv: ev(np.full(REPS * n_dec, lv), f"constant {lv}")[0] for lv in range(-LEVELS, LEVELS + 1)}
    for q, h in itertools.product((1, 2, 4, 8), (-8, 0, 1)):
        one = np.full(n_dec, h)
        for w in QUIET:
            a, b = WINDOWS[w]
            one[a // PERIOD:b // PERIOD] = q
        ev(_per_rep(one), f"quiet windows {q}, others {h}")
    seg = 200

    def seg_sched(v):
        return _per_rep(np.repeat(v, seg // PERIOD))

    lv, _, sweeps, _ = _descend(lambda v: ev(seg_sched(v), f"segments {v.tolist()}")[0],
                                np.zeros(STEPS // seg, int), const[0], (-8, 0, 1, 2, 4), 3,
                                lambda v, d: log(f"  seed {seed}: segments {v} -> {d:.4f}"))
    d_best, label = min(tried)
    return {"constant_levels": {str(k): round(v, 5) for k, v in const.items()},
            "best_constant": round(min(const.values()), 5),
            "best_constant_level": int(min(const, key=const.get)),
            "no_production": round(const[0], 5),
            "best": round(d_best, 5), "best_schedule": label, "schedules_tried": len(tried),
            "segment_sweeps": sweeps,
            "beats_no_production_by": round(const[0] - d_best, 5)}


def oracle_fine(seed: int, log=print) -> dict:
    """The finer search: no production (level 0) in repetitions 1-4, then the measured last repetition as 24
    segments of 100 steps, coordinate descent from level 0 (levels -8, 0, 1, 2; at most 2 sweeps)."""
    n_dec, seg = STEPS // PERIOD, 100
    lv = np.zeros(STEPS // seg, int)

    def sched(v):
        return np.concatenate([np.zeros((REPS - 1) * n_dec, int), np.repeat(v, seg // PERIOD)])

    base = run_schedule(sched(lv), seed)[0]
    lv, best, sweeps, n = _descend(lambda v: run_schedule(sched(v), seed)[0], lv, base, (-8, 0, 1, 2), 2,
                                   lambda v, d: log(f"  seed {seed}: last repetition {v} -> {d:.4f}"))
    return {"no_production": round(base, 5), "best": round(best, 5), "best_last_repetition": lv.tolist(),
            "schedules_tried": n + 1, "sweeps": sweeps, "beats_no_production_by": round(base - best, 5)}


def reward_noise(seeds) -> dict:
    """How well a learner can see a policy's margin: the sd of the per-step distance abs(C_soma - c_opt) in the
    measured repetition under no production (float), and the standard error of the mean of the reward samples
    the controller gets there (every ``period``-th step)."""
    sd, se = [], []
    for s in seeds:
        net = pool_esn.build("fixed", REPS, s)
        spikes = pool_esn.output_spikes(net, REPS * STEPS, False)
        d = np.abs(pool_esn.soma_calcium(spikes, pool_esn.LAWS["fixed"])[(REPS - 1) * STEPS:] - pool_esn.C_OPT)
        sd.append(float(d.std()))
        se.append(float(d[::PERIOD].std() / np.sqrt(d[::PERIOD].size)))
    return {"seeds": list(seeds), "per_step_sd": [round(x, 4) for x in sd],
            "decision_mean_se": [round(x, 4) for x in se], "decisions": STEPS // PERIOD}


def _stats(v: list[float]) -> dict:
    a = np.asarray(v)
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if a.size > 1 else 0.0, 4)}


def part_rows(part: str, seeds, log=print) -> dict:
    laws = FLOAT_LAWS if part == "float" else CHIP_LAWS
    out: dict = {"seeds": list(seeds), "per_seed": {}, "rates": {}}
    for law in laws:
        devs = []
        for s in seeds:
            t = time.time()
            d, rates = run_law(law, s, part == "chip")
            devs.append(round(d, 4))
            out["rates"][f"{law}/{s}"] = rates
            log(f"  {part} {law} seed {s}: {d:.4f} ({time.time() - t:.1f} s)")
        out["per_seed"][law] = devs
        out[law] = _stats(devs)
    for law in ("esn", "esn_greedy"):
        e = np.asarray(out["per_seed"][law])
        for base in ("functional", "fixed"):
            out[f"{law}_below_{base}_seeds"] = int(np.sum(e < np.asarray(out["per_seed"][base])))
    return out


def drain_rows(seeds, log=print) -> dict:
    """"Always down" without a learner: secr() at k_secr = -k_max (the soma store drained, the best constant level
    of the oracle) against k_secr = 0 (no production), float and chip, per seed."""
    out: dict = {"seeds": list(seeds)}
    for side in ("float", "chip"):
        rows = {law: [round(run_law(law, s, side == "chip")[0], 5) for s in seeds] for law in ("fixed", "fixed_drain")}
        gap = np.asarray(rows["fixed"]) - np.asarray(rows["fixed_drain"])
        out[side] = {"per_seed": rows, "below_seeds": int(np.sum(gap > 0)), "equal_seeds": int(np.sum(gap == 0)),
                     "margin": _stats(list(gap)), **{law: _stats(v) for law, v in rows.items()}}
        log(f"  drain {side}: {out[side]['below_seeds']} below, margin {out[side]['margin']}")
    return out


def run(quick: bool = False) -> dict:
    seeds = (0, 1) if quick else SEEDS
    res = {}
    for part in ("float", "chip"):
        r = part_rows(part, seeds, log=lambda *a: None)
        for law in (FLOAT_LAWS if part == "float" else CHIP_LAWS):
            res[f"{part}_{law}_mean"] = r[law]["mean"]
            res[f"{part}_{law}_sd"] = r[law]["sd"]
        res[f"{part}_esn_below_functional_seeds"] = r["esn_below_functional_seeds"]
        res[f"{part}_esn_below_fixed_seeds"] = r["esn_below_fixed_seeds"]
    res["seeds"] = len(seeds)
    return res


def _table(title: str, cols, rows) -> list[str]:
    """A markdown section: title, header, rows."""
    return ([f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(map(str, r)) + " |" for r in rows] + [""])


def _md(res: dict) -> str:
    lines = ["# esn_controller (bench/esn_controller.py)", "", DESCRIPTION, "",
             "Mean |C_soma - 0.3| over the last of 5 repetitions of the 2400-step protocol; per seed (input and ESN "
             "seed); mean ± sample sd; 'below' counts the seeds where the ESN's value is smaller.", ""]
    for part in ("float", "chip"):
        if part not in res:
            continue
        r = res[part]
        lines += [f"## {part} (seeds {', '.join(map(str, r['seeds']))}; {r['measured']}, load {r['load']})", "",
                  "| law | per seed | mean ± sd |", "|---|---|---|"]
        for law, v in r["per_seed"].items():
            lines.append(f"| {law} | {', '.join(f'{x:.3f}' for x in v)} | {r[law]['mean']:.3f} ± {r[law]['sd']:.3f} |")
        lines += ["", f"ESN below functional on {r['esn_below_functional_seeds']} of {len(r['seeds'])} seeds, below "
                      f"fixed (no production) on {r['esn_below_fixed_seeds']}; greedy-last ESN: "
                      f"{r['esn_greedy_below_functional_seeds']} / {r['esn_greedy_below_fixed_seeds']}. Paired "
                      "differences per seed (mean ± sd): " + "; ".join(
                          f"{law} - {base} {d['mean']:+.4f} ± {d['sd']:.4f}" for law in ("esn", "esn_greedy")
                          for base in ("functional", "fixed")
                          for d in [_stats(list(np.asarray(r["per_seed"][law]) - np.asarray(r["per_seed"][base])))])
                  + ".", ""]
    if "oracle" in res:
        lines += _table("oracle: schedules on the ESN's action set (float)",
                        ("seed", "no production (level 0)", "best constant (level)", "best schedule found", "its value",
                         "below no production by", "schedules tried"),
                        [(s, f"{o['no_production']:.4f}", f"{o['best_constant']:.4f} ({o['best_constant_level']})",
                          o["best_schedule"], f"{o['best']:.4f}", f"{o['beats_no_production_by']:.4f}",
                          o["schedules_tried"]) for s, o in sorted(res["oracle"].items(), key=lambda kv: int(kv[0]))])
    if "drain" in res:
        r = res["drain"]
        lines += _table(f"always down: k_secr -4 (drained) vs 0 (no production), seeds {r['seeds']}",
                        ("side", "k_secr 0 per seed", "k_secr -4 per seed", "seeds below / equal", "margin mean ± sd"),
                        [(side, ", ".join(f"{x:.4f}" for x in r[side]["per_seed"]["fixed"]),
                          ", ".join(f"{x:.4f}" for x in r[side]["per_seed"]["fixed_drain"]),
                          f"{r[side]['below_seeds']} / {r[side]['equal_seeds']}",
                          f"{r[side]['margin']['mean']:.4f} ± {r[side]['margin']['sd']:.4f}")
                         for side in ("float", "chip")])
    if "noise" in res:
        r = res["noise"]
        lines += ["## reward noise under no production (float)", "",
                  f"sd of the per-step abs(C_soma - 0.3) in the measured repetition, seeds {r['seeds']}: "
                  f"{', '.join(f'{x:.3f}' for x in r['per_step_sd'])}; standard error of the mean of its "
                  f"{r['decisions']} decision samples: {', '.join(f'{x:.4f}' for x in r['decision_mean_se'])}.", ""]
    if "oracle_fine" in res:
        lines += _table("oracle, finer: repetitions 1-4 at level 0, the last one as 24 segments of 100 steps (float)",
                        ("seed", "no production", "best found", "below no production by", "last repetition's levels",
                         "schedules tried"),
                        [(s, f"{o['no_production']:.4f}", f"{o['best']:.4f}", f"{o['beats_no_production_by']:.4f}",
                          o["best_last_repetition"], o["schedules_tried"])
                         for s, o in sorted(res["oracle_fine"].items(), key=lambda kv: int(kv[0]))])
    return "\n".join(lines)


def _merge(out: Path, key: str, value, seed: int | None = None) -> dict:
    """Write ``value`` under ``key`` (or ``key``/``seed``) into the results file, re-read just before (other parts
    may have written it meanwhile), and the table beside it; returns the whole results."""
    res = json.loads(out.read_text()) if out.exists() else {}
    if seed is None:
        res[key] = value
    else:
        res.setdefault(key, {})[str(seed)] = value
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(_md(res))
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=DESCRIPTION)
    ap.add_argument("--part", choices=("float", "chip", "oracle", "oracle_fine", "noise", "drain"), required=True)
    ap.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    ap.add_argument("--out", default=str(RESULTS / f"{NAME}_seeds.json"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if a.part in ("oracle", "oracle_fine"):
        for s in a.seeds:
            with contextlib.redirect_stdout(sys.stderr):
                o = (oracle if a.part == "oracle" else oracle_fine)(s)
            res = _merge(out, a.part, dict(o, measured=stamp), s)
            print(f"{a.part} seed {s}: no production {o['no_production']:.4f}, best {o['best']:.4f}")
    elif a.part == "drain":
        res = _merge(out, "drain", dict(drain_rows(a.seeds), measured=stamp, load=load))
    elif a.part == "noise":
        res = _merge(out, "noise", dict(reward_noise(a.seeds), measured=stamp))
    else:
        res = _merge(out, a.part, dict(part_rows(a.part, a.seeds), measured=stamp, load=load))
    print(_md(res))


if __name__ == "__main__":
    main()
