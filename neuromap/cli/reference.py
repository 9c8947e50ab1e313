"""The CLI reference (docs/cli.md), generated from the click commands themselves.

``python -m neuromap.cli.reference > docs/cli.md`` rewrites it; a test fails when
the file and the code disagree. Help text is rendered at a fixed width (100
columns) so the output does not depend on the terminal.
"""
from __future__ import annotations

import sys

import click

from neuromap.cli import COMMANDS, cli

WIDTH = 100
COMMAND_LINE = "python -m neuromap.cli.reference > docs/cli.md"


def _help(cmd: click.Command, name: str, parent: click.Context | None) -> tuple[str, click.Context]:
    ctx = click.Context(cmd, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH,
                        **cmd.context_settings)
    return cmd.get_help(ctx), ctx


def render() -> str:
    """docs/cli.md: the group's --help, then every command's --help in ``COMMANDS`` order."""
    top, root = _help(cli, "neuromap", None)
    out = ["# CLI reference", "",
           f"<!-- generated from the click commands by `{COMMAND_LINE}`; do not edit by hand -->", "",
           "Exit codes: 0 ok, 1 validation mismatch (`validate`), 2 bad input or usage: one line on stderr",
           "naming the file or field and the fix, no traceback (`neuromap --debug COMMAND ...` shows it).",
           "Progress bars go to stderr, only when stdout and stderr are terminals; `--quiet` turns them off.",
           "", "Commands: " + ", ".join(f"[`{n}`](#neuromap-{n})" for n in COMMANDS.values()) + ".", "",
           "## neuromap", "", "```text", top.rstrip(), "```", ""]
    for name in COMMANDS.values():
        text, _ = _help(cli.get_command(root, name), name, root)
        out += [f"## neuromap {name}", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
