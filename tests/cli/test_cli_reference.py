"""docs/cli.md is generated from the click commands (``python -m neuromap.cli.reference > docs/cli.md``)
and must match the code; every command's --help carries an example."""
import os
import subprocess
import sys

import click
import pytest

from neuromap.cli import COMMANDS, cli
from neuromap.cli.reference import COMMAND_LINE, render

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "cli.md")


def test_docs_cli_md_is_up_to_date():
    with open(DOC, encoding="utf-8") as f:
        on_disk = f.read()
    assert on_disk == render(), f"docs/cli.md is out of date with the CLI: regenerate it with `{COMMAND_LINE}`"


def test_every_command_is_documented_with_an_example():
    text = render()
    for name in COMMANDS.values():
        section = text.split(f"## neuromap {name}\n", 1)[1].split("\n## ", 1)[0]
        assert "Usage: neuromap " + name in section
        assert "Example" in section and f"neuromap {name} " in section.split("Example", 1)[1], name


def test_an_option_change_changes_the_reference(monkeypatch):
    before = render()
    cmd = cli.get_command(None, "inspect")
    monkeypatch.setattr(cmd, "params", cmd.params + [click.Option(["--brand-new-flag"], is_flag=True)])
    assert "--brand-new-flag" in render() and "--brand-new-flag" not in before


def test_module_prints_the_reference():
    p = subprocess.run([sys.executable, "-m", "neuromap.cli.reference"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert p.returncode == 0 and p.stdout == render()


@pytest.mark.parametrize("name", list(COMMANDS.values()))
def test_help_exits_0(name, capsys):
    from neuromap.cli import main
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0 and "Example" in capsys.readouterr().out


def documented_commands() -> list[tuple[str, str]]:
    """(source, command line) for every ``neuromap ...`` line in README.md, docs/quickstart.md code blocks
    and the examples of every --help (comments and pipes cut off)."""
    found = []
    for rel in ("README.md", os.path.join("docs", "quickstart.md")):
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            in_block = False
            for line in f:
                if line.strip().startswith("```"):
                    in_block = not in_block
                elif in_block and line.strip().startswith("neuromap "):
                    found.append((rel, line.strip()))
    found += [("--help", line.strip()) for line in render().splitlines() if line.startswith("    neuromap ")]
    return [(src, cmd.split(" #")[0].split(" | ")[0].strip()) for src, cmd in found]


def test_documented_commands_parse():
    """Every command line the docs show is accepted by the CLI's parser (options, choices, ranges)."""
    import shlex
    cmds = documented_commands()
    assert len([c for s, c in cmds if s.endswith("quickstart.md")]) >= 8
    for src, line in cmds:
        args = shlex.split(line)[1:]
        with cli.make_context("neuromap", list(args), resilient_parsing=False) as ctx:
            name, cmd, rest = cli.resolve_command(ctx, ctx.protected_args + ctx.args)
            try:
                cmd.make_context(name, rest, parent=ctx)
            except click.UsageError as e:
                raise AssertionError(f"{src}: `{line}`: {e.format_message()}") from None
