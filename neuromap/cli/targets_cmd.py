"""``neuromap targets``: list the built-in targets or show one target's constants."""
from __future__ import annotations

import json

import click

from neuromap.targets import list_targets, load_target, target_to_dict


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            rows.extend(_flatten(v, key))
        else:
            rows.append((key, v))
    return rows


@click.command("targets")
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the constants as JSON.")
def command(target: str | None, as_json: bool) -> None:
    """List built-in targets, or show the constants of TARGET (a name or a TOML file).

    \b
    Examples:
      neuromap targets
      neuromap targets loihi
      neuromap targets my_chip.toml --json
    """
    if target is None:
        names = list_targets()
        if as_json:
            click.echo(json.dumps(names))
            return
        for name in names:
            t = load_target(name)
            click.echo(f"{name:12s} {t.n_cores:6d} cores, mesh {t.mesh_shape[0]}x{t.mesh_shape[1]}")
        return
    data = target_to_dict(load_target(target))
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    rows = _flatten(data)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v}")
