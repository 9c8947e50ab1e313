"""Mutation check of the learning engines' rounding and saturation sites: does the default test suite notice?

Each mutant changes one site of one engine's numba kernel (its one implementation) the way a slip would:
round half up -> floor, ``>> n`` -> ``>> (n - 1)``, a saturation or clip bound off by one, a strict comparison
made non-strict. For each, a copy of the tree (``git archive`` of ``--tree``, default HEAD of this checkout) gets
the one edit (one copy reused, the file restored after each mutant), numba's caches of the learning engines and
the fused loop are cleared (an inlined helper's edit is not noticed by numba's cache), and the engine's
default-suite tests run (``-m "not slow and not lava"``, stop at
the first failure): first its fast selection; a mutant that survives it runs every default learning test (all of
``tests/learning``) before it counts as surviving. Results: ``bench/results/kernel_mutations.json`` and ``.md``.

    python bench/kernel_mutations.py [--only ID_PREFIXES] [--tree REV] [--budget SECONDS] [--list]

Run under the heavy lock (each mutant recompiles the engine kernels); ``--budget`` stops starting mutants after
that many seconds, results accumulate in the JSON over runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LE = "neuromap/learning_engines/"

#: (id, engine, file, original text, mutated text, occurrence of the original (0-based), what the slip is)
MUTANTS = [
    # homeostatic_stdp / nn_stdp
    ("H1", "homeostatic", LE + "homeostatic_stdp.py", "(h * w + k * s + (1 << 29)) >> 30", "(h * w + k * s) >> 30", 0,
     "weight step rounds down instead of half up"),
    ("H2", "homeostatic", LE + "homeostatic_stdp.py", "return w, sign * ((w + 32768) >> 16)",
     "return w, sign * (w >> 16)", 0, "stored weight rounds down"),
    ("H3", "homeostatic", LE + "homeostatic_stdp.py", "w = lo if w < lo else (hi if w > hi else w)",
     "w = lo if w < lo else (hi - 1 if w > hi else w)", 0, "upper clip one below w_hi"),
    ("H4", "homeostatic", LE + "homeostatic_stdp.py", "ltp[qb + u] = ((a_plus if arr[pb + u] else ltp[qb + u]) * kp + 32768) >> 16",  # noqa: E501
     "ltp[qb + u] = ((a_plus if arr[pb + u] else ltp[qb + u]) * kp) >> 16", 0, "ltp decay floors (post-major rows)"),
    ("H5", "homeostatic", LE + "homeostatic_stdp.py", "ltp[qb + u] = ((a_plus if a else ltp[qb + u]) * kp + 32768) >> 16",  # noqa: E501
     "ltp[qb + u] = ((a_plus if a else ltp[qb + u]) * kp) >> 16", 0, "ltp decay floors (pre-major rows)"),
    ("H6", "homeostatic", LE + "homeostatic_stdp.py", "x = ((a_plus if arr[i] else old) * kp + 32768) >> 16",
     "x = ((a_plus if arr[i] else old) * kp) >> 16", 0, "ltp decay floors (any layout)"),
    ("H7", "homeostatic", LE + "homeostatic_stdp.py", "ltd[m] = (ltd[m] * km + 32768) >> 16",
     "ltd[m] = (ltd[m] * km + 32768) >> 15", 0, "ltd decay shift one short"),
    ("H8", "homeostatic", LE + "homeostatic_stdp.py", "rring[r] = post_spk[m]", "rring[r] = False", 0,
     "rate window forgets to record a spike (count never drops)"),
    ("H9", "homeostatic", LE + "homeostatic_stdp.py", "x if lp >= last_pre[pb + u] else nltd",
     "x if lp > last_pre[pb + u] else nltd", 0, "causal test strict (post-major rows)"),
    # vogels_isp
    ("V1", "vogels", LE + "vogels_isp.py", "x_post[m] = (x_post[m] * keep + 32768) >> 16",
     "x_post[m] = (x_post[m] * keep) >> 16", 0, "post trace decay floors"),
    ("V2", "vogels", LE + "vogels_isp.py", "x = (x_pre[q] * keep + 32768) >> 16", "x = (x_pre[q] * keep) >> 16", 0,
     "pre trace decay floors"),
    ("V3", "vogels", LE + "vogels_isp.py", "w += (eta_m * dd * w + (1 << 27)) >> 28", "w += (eta_m * dd * w) >> 28",
     0, "multiplicative step floors"),
    ("V4", "vogels", LE + "vogels_isp.py", "w += (eta * dd + (1 << 11)) >> 12", "w += (eta * dd + (1 << 11)) >> 11", 0,
     "additive step shift one short"),
    ("V5", "vogels", LE + "vogels_isp.py", "x = min(x + one, TRACE_MAX)", "x = min(x + one, TRACE_MAX + 1)", 0,
     "pre trace saturates one above 65535"),
    ("V6", "vogels", LE + "vogels_isp.py", "x_post[m] = min(x_post[m] + one, TRACE_MAX)",
     "x_post[m] = min(x_post[m] + one, TRACE_MAX + 1)", 0, "post trace saturates one above 65535"),
    # pool_stdp
    ("P1", "pool", LE + "pool_stdp.py", "xp = 1 << XF if a else _rr(x_pre[q] * keep_p, 16)",
     "xp = 1 << XF if a else (x_pre[q] * keep_p) >> 16", 0, "x_pre decay floors"),
    ("P2", "pool", LE + "pool_stdp.py", "y_post[m] = _rr(y_post[m] * keep_m, 16)", "y_post[m] = (y_post[m] * keep_m) >> 16",  # noqa: E501
     0, "y_post decay floors"),
    ("P3", "pool", LE + "pool_stdp.py", "pot = _rr((hi - w) * a_plus * xp, 16 + XF) if post_spk[m] else 0",
     "pot = ((hi - w) * a_plus * xp) >> (16 + XF) if post_spk[m] else 0", 0, "potentiation floors"),
    ("P4", "pool", LE + "pool_stdp.py", "dep = _rr((w - lo) * a_minus * y_post[m], 16 + XF) if a else 0",
     "dep = _rr((w - lo) * a_minus * y_post[m], 15 + XF) if a else 0", 0, "depression shift one short"),
    ("P5", "pool", LE + "pool_stdp.py", "pot_q[q] = pot_q[q] * one_minus[m] // max(pot_sum[m], 1)",
     "pot_q[q] = (pot_q[q] * one_minus[m] + pot_sum[m] // 2) // max(pot_sum[m], 1)", 0,
     "pool cap rounds half up instead of floor"),
    ("P6", "pool", LE + "pool_stdp.py", "ratio = (goal[m] << 16) // max(w_sum[m], 1) if w_sum[m] > 0 else one",
     "ratio = (goal[m] << 16) // max(w_sum[m], 1) + 1 if w_sum[m] > 0 else one", 0, "scaling ratio one too large"),
    ("P7", "pool", LE + "pool_stdp.py", "one_minus[m] = max(one - ratio, -15 * one)",
     "one_minus[m] = max(one - ratio, -14 * one)", 0, "1 - ratio saturates at -14 instead of -15"),
    ("P8", "pool", LE + "pool_stdp.py", "c_in = _rr(x_sum[m] * c_per_w, 32)", "c_in = (x_sum[m] * c_per_w) >> 32", 0,
     "calcium input floors"),
    ("P9", "pool", LE + "pool_stdp.py", "ss = _rr(alpha_ss * w * one_minus[m], 32)", "ss = _rr(alpha_ss * w * one_minus[m], 31)",  # noqa: E501
     0, "scaling shift one short"),
    ("P10", "pool", LE + "pool_stdp.py", "pw[m] = min(max(pw_new, 0), POOL_MAX)", "pw[m] = min(max(pw_new, 1), POOL_MAX)", 0,  # noqa: E501
     "pool clip one above 0"),
    ("P11", "pool", LE + "pool_stdp.py",
     "c_dend[m] = min(max(c_dend[m] + c_in - _lut(decay_lut, db, dn, c_dend[m]), 0), c_max)",
     "c_dend[m] = min(max(c_dend[m] + c_in - _lut(decay_lut, db, dn, c_dend[m]), 0), c_max - 1)", 0,
     "dendritic calcium saturates one below c_max"),
    ("P12", "pool", LE + "pool_stdp.py", "use = pot_sum[m] - _rr(alpha_r * dep_sum[m], 16)",
     "use = pot_sum[m] - ((alpha_r * dep_sum[m]) >> 16)", 0, "pool use rounds down"),
    ("P13", "pool", LE + "pool_stdp.py", "demand = max(-_rr(s * (pw[m] - use - degr - pw_set), 16), 0)",
     "demand = max(-((s * (pw[m] - use - degr - pw_set)) >> 16), 0)", 0, "demand rounds down"),
    # clopath
    ("C1", "clopath", LE + "clopath.py", "vq = rshift_round(post_v[m], v_shift)", "vq = post_v[m] >> v_shift", 0,
     "vq floors"),
    ("C2", "clopath", LE + "clopath.py", "return rshift_round(u * keep + (vq << UF) * (KEEP_ONE - keep), 16)",
     "return (u * keep + (vq << UF) * (KEEP_ONE - keep)) >> 16", 0, "voltage filter floors"),
    ("C3", "clopath", LE + "clopath.py", "ltd[m] = rshift_round((lm if lm > 0 else 0) * ltd_m, ltd_sh)",
     "ltd[m] = ((lm if lm > 0 else 0) * ltd_m) >> ltd_sh", 0, "LTD amount floors"),
    ("C4", "clopath", LE + "clopath.py", "fac[m] = rshift_round((dv if dv > 0 else 0) * (lp if lp > 0 else 0) * ltp_m, ltp_sh)",  # noqa: E501
     "fac[m] = ((dv if dv > 0 else 0) * (lp if lp > 0 else 0) * ltp_m) >> ltp_sh", 0, "LTP factor floors"),
    ("C5", "clopath", LE + "clopath.py", "x = rshift_round(xbar[q] * keep_x, 16)", "x = (xbar[q] * keep_x) >> 16", 0,
     "xbar decay floors"),
    ("C6", "clopath", LE + "clopath.py", "w += rshift_round(rshift_round(x, XB - XF) * fac[m], XF + FF)",
     "w += rshift_round((x >> (XB - XF)) * fac[m], XF + FF)", 0, "xbar read floors"),
    ("C7", "clopath", LE + "clopath.py", "w += rshift_round(rshift_round(x, XB - XF) * fac[m], XF + FF)",
     "w += (rshift_round(x, XB - XF) * fac[m]) >> (XF + FF)", 0, "LTP step floors"),
    ("C8", "clopath", LE + "clopath.py", "x = min(x + (1 << XB), XBAR_MAX)", "x = min(x + (1 << XB), XBAR_MAX + 1)", 0,
     "xbar saturates one above 2**24 - 1"),
    ("C9", "clopath", LE + "clopath.py", "late = ub + ((tt + 1) % d1) * 2 * n_post",
     "late = ub + (tt % d1) * 2 * n_post", 0, "late u read from this step's row (delay_u off by one)"),
    # shared helpers (every seed rule)
    ("S1", "shared", LE + "packing.py", "weights[q] = sign * ((w + 32768) >> 16)", "weights[q] = sign * (w >> 16)", 0,
     "clip_store: stored weight rounds down"),
    ("S2", "shared", LE + "packing.py", "    elif w > hi:\n        w = hi", "    elif w > hi:\n        w = hi - 1", 0,
     "clip_store: upper clip one below w_hi"),
    ("S3", "shared", LE + "fixed.py", "return (x + (np.int64(1) << (n - 1))) >> n", "return x >> n", 0,
     "rshift_round floors"),
    ("S4", "shared", LE + "fixed.py", "    if i >= last:\n        return table[base + last]",
     "    if i > last:\n        return table[base + last]", 0, "lut_interp: last entry test off by one"),
    ("S5", "shared", LE + "packing.py", "        base = np.uint64(dr_base + (t % d) * n_pre)\n"
     "        for i in range(n):\n            arr[pb + i] = dring[base + i]\n",
     "        base = np.uint64(dr_base + (t % d) * n_pre)\n"
     "        for i in range(n):\n            dring[base + i] = pre_spk[pb + i]\n"
     "        for i in range(n):\n            arr[pb + i] = dring[base + i]\n", 0,
     "pre delay ring written before it is read (delays vanish)"),
    # loihi (Lava's learning engine)
    ("L1", "loihi", LE + "loihi_numba.py", "if r_conn < rem / 128.0:", "if r_conn <= rem / 128.0:", 0,
     "stochastic weight rounding compares <= instead of <"),
    ("L2", "loihi", LE + "loihi_numba.py", "h[s, k, n] = np.int64(fl) + (1 if r_dec < v - fl else 0)",
     "h[s, k, n] = np.int64(fl) + (1 if r_dec <= v - fl else 0)", 0, "stochastic trace decay <= instead of <"),
    ("L3", "loihi", LE + "loihi_numba.py", "cur = cur >> prods[p, 4]", "cur = cur >> (prods[p, 4] + 1)", 0,
     "product right shift one too many"),
    ("L4", "loihi", LE + "loihi_numba.py", "acc[g] = _clip(acc[g] + cur, -32769, 32767)",
     "acc[g] = _clip(acc[g] + cur, -32768, 32767)", 0, "accumulator lower saturation off by one"),
    ("L5", "loihi", LE + "loihi_numba.py", "x[k, i] = _clip(x[k, i] + xi[k] + (1 if 0 < xf[k] else 0), 0, 127)",
     "x[k, i] = _clip(x[k, i] + xi[k] + (1 if 0 < xf[k] else 0), 0, 128)", 0, "pre trace saturates at 128"),
    ("L6", "loihi", LE + "loihi_numba.py", "tag_1[s] = _clip(q, -257, 255)", "tag_1[s] = _clip(q, -256, 255)", 0,
     "tag_1 lower saturation off by one"),
]

_DEFAULT = ["-m", "not slow and not lava"]
L = "tests/learning/"
#: per engine: the fast selection of default-suite tests run first (pytest arguments)
FAST = {
    "homeostatic": [L + "test_plastic_fused.py", L + "test_seed_rules_int.py", L + "test_seed_rule_oracles.py"],
    "vogels": [L + "test_plastic_fused.py", L + "test_seed_rules_int.py", L + "test_seed_rule_oracles.py"],
    "pool": [L + "test_plastic_fused.py", L + "test_seed_rules_int.py", L + "test_seed_rule_oracles.py"],
    "clopath": [L + "test_plastic_fused.py", L + "test_clopath_int.py", L + "test_seed_rule_oracles.py"],
    "shared": [L + "test_plastic_fused.py", L + "test_seed_rules_int.py", L + "test_clopath_int.py",
               L + "test_seed_rule_oracles.py"],
    "loihi": [L + "test_learning_engine.py", L + "test_stdp_loihi_engine.py"],
}
#: every default learning test (what a surviving mutant must also survive; Lava's are not in the default-fast
#: selection here: they compare with the same oracles the emulator tests use)
FULL = ["tests/learning"]


def apply(tree: Path, m) -> None:
    mid, _, rel, old, new, occ, _ = m
    p = tree / rel
    text = p.read_text()
    at = -1
    for _ in range(occ + 1):
        at = text.find(old, at + 1)
        if at < 0:
            raise SystemExit(f"{mid}: {rel} has no occurrence {occ} of {old!r} (update the mutant)")
    p.write_text(text[:at] + new + text[at + len(old):])


def clear_kernel_caches(tree: Path) -> None:
    """Drop numba's caches of everything a learning kernel may be compiled into (the engines, their inlined
    helpers in packing/fixed, the plastic loops and the generated fused loops); the rest stays cached."""
    shutil.rmtree(tree / "neuromap" / "learning_engines" / "__pycache__", ignore_errors=True)
    shutil.rmtree(tree / ".fused", ignore_errors=True)
    shutil.rmtree(tree / "examples" / "__pycache__", ignore_errors=True)
    for f in (tree / "emulator" / "__pycache__").glob("plastic*"):
        f.unlink()


def run_tests(tree: Path, args: list[str], timeout: int) -> tuple[str, float, str]:
    """pytest ``args`` in ``tree`` (one process: each worker would compile the kernels again), stop at the first
    failure: (killed | survived | error | timeout, seconds, the first failing test or the summary line)."""
    env = dict(os.environ, PYTHONPATH=str(tree), NEUROMAP_FUSED_DIR=str(tree / ".fused"))
    env.pop("NUMBA_CACHE_DIR", None)
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
                            *_DEFAULT, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t, ""
    last = (p.stdout.strip().splitlines() or [""])[-1]
    if p.returncode == 0:
        return "survived", time.perf_counter() - t, last
    if p.returncode == 1:
        failed = [ln for ln in p.stdout.splitlines() if ln.startswith("FAILED")]
        return "killed", time.perf_counter() - t, failed[0] if failed else last
    return "error", time.perf_counter() - t, last


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="mutant ids starting with this (comma-separated prefixes)")
    ap.add_argument("--tree", default="HEAD", help="git revision of this checkout to mutate")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--budget", type=float, default=540.0, help="stop starting mutants after this many seconds")
    ap.add_argument("--list", action="store_true", help="list the mutants and check each applies")
    ap.add_argument("--out", default="kernel_mutations")
    a = ap.parse_args(argv)
    prefixes = [p for p in a.only.split(",") if p]
    todo = [m for m in MUTANTS if not prefixes or any(m[0].startswith(p) for p in prefixes)]
    if a.list:
        with tempfile.TemporaryDirectory() as d:
            for m in todo:
                (Path(d) / m[2]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / m[2], Path(d) / m[2])
                apply(Path(d), m)
                print(f"{m[0]:4s} {m[1]:12s} {m[2]}: {m[6]}")
        return 0
    tree = Path(tempfile.gettempdir()) / f"neuromap-mutants-{a.tree}"      # kept: numba's caches of the rest
    if not tree.exists():
        tree.mkdir()
        arch = subprocess.run(["git", "archive", a.tree], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=arch, check=True)
    out_json = ROOT / "bench" / "results" / f"{a.out}.json"
    results = json.loads(out_json.read_text())["mutants"] if out_json.exists() else {}
    rev = subprocess.run(["git", "rev-parse", "--short", a.tree], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    start = time.perf_counter()
    for m in todo:
        if time.perf_counter() - start > a.budget:
            print(f"budget spent: stopped before {m[0]}", flush=True)
            break
        src = tree / m[2]
        original = src.read_text()
        try:
            apply(tree, m)
            clear_kernel_caches(tree)
            status, sec, detail = run_tests(tree, FAST[m[1]], a.timeout)
            stage = "fast"
            if status == "survived":
                status, sec2, detail = run_tests(tree, FULL, a.timeout)
                sec += sec2
                stage = "full"
        finally:
            src.write_text(original)
        results[m[0]] = {"engine": m[1], "file": m[2], "slip": m[6], "status": status, "stage": stage,
                         "seconds": round(sec, 1), "detail": detail, "tree": rev,
                         "loadavg_1min": round(os.getloadavg()[0], 2)}
        print(f"{m[0]}: {status} ({stage}, {sec:.0f} s) {detail}", flush=True)
        out_json.write_text(json.dumps({"mutants": results}, indent=1) + "\n")
    clear_kernel_caches(tree)
    write_table(results, ROOT / "bench" / "results" / f"{a.out}.md")
    return 0


def write_table(results: dict, path: Path) -> None:
    order = [m[0] for m in MUTANTS]
    rows = ["# Kernel mutations (bench/kernel_mutations.py)", "",
            "One slip per row in a learning engine's numba kernel; `killed`: the default suite fails (the first "
            "failing test shown), `survived`: every default learning test passes.", "",
            "| id | engine | file | slip | result | caught by | s |", "|---|---|---|---|---|---|---|"]
    for mid in sorted(results, key=lambda k: order.index(k) if k in order else 999):
        r = results[mid]
        caught = r["detail"].replace("FAILED ", "").split(" - ")[0].replace("|", "\\|")
        rows.append(f"| {mid} | {r['engine']} | `{Path(r['file']).name}` | {r['slip']} | {r['status']} | "
                    f"{caught if r['status'] == 'killed' else ''} | {r['seconds']} |")
    n = len(results)
    killed = sum(r["status"] == "killed" for r in results.values())
    rows += ["", f"{killed} of {n} killed."]
    path.write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    sys.exit(main())
