"""Partition of a convolutional SNN: the stacked spatial tiling (``tiles``, neuromap/placement/conv_tiles.py) against
the other placers and against ``cpsat`` without it (the default before it), on ``examples/conv_snn.py`` (2 conv +
sum pool + dense on 28x28; float and hardware-unit builds) for loihi.

``python bench/conv_tiles.py [--out bench/results/conv_tiles.json]`` (heavy: run under the heavy-job lock). Every
run is ``place_graph`` on the network's synapse graph with uniform rates (every fan-out edge counts, the compile's
default) and the compile's default deterministic budget, so the numbers repeat exactly; the wall times are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import conv_snn  # noqa: E402

from neuromap.compiler.place import conv_layers  # noqa: E402
from neuromap.placement import SynapseGraph, place_graph  # noqa: E402
from neuromap.placement.budget import Budget, default_time_limit  # noqa: E402
from neuromap.targets import load_target  # noqa: E402

RUNS = (("sequential", False), ("greedy", False), ("tiles", True), ("cpsat", False), ("cpsat", True))


def run(units: str) -> list[dict]:
    net = conv_snn.build(units=units)
    g = SynapseGraph.from_network(net)
    tgt = load_target("loihi")
    layers = conv_layers(net)
    out = []
    for method, tiled in RUNS:
        t = time.perf_counter()
        r = place_graph(g, tgt, method, budget=Budget(default_time_limit(g.n_synapses), True),
                        conv_layers=layers if tiled else None).report
        out.append({"units": units, "placer": method, "conv_layers": tiled,
                    "label": {("cpsat", False): "cpsat without tiles (old default)",
                              ("cpsat", True): "cpsat with the tiles start (new default)"}.get((method, tiled), method),
                    "inter_core_packets": r.inter_core_packets, "hop_weighted_traffic": r.hop_weighted_traffic,
                    "cores": r.n_cores, "max_link_load": r.max_link_load, "mean_hops": round(r.mean_hops, 3),
                    "partition_start": (r.stats.get("partition") or {}).get("start"),
                    "wall_s": round(time.perf_counter() - t, 1)})
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "conv_tiles.json"))
    args = ap.parse_args()
    rows = run("float") + run("hw")
    doc = {"bench": "conv_tiles", "load_average": os.getloadavg(), "rows": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
