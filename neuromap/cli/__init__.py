"""The ``neuromap`` command line (click).

One module per subcommand in this package; each defines a click command named
``command``. Add a subcommand by adding its module name to ``COMMANDS``.

Exit codes: 0 ok; 1 validation mismatch; 2 bad input or usage (one line on
stderr, no traceback; ``--debug`` shows it).
"""
from __future__ import annotations

import importlib
import sys

import click

from neuromap.errors import NeuromapError, ValidationMismatch
from neuromap.io import ALLOW_OUTSIDE_FILES

# module name in neuromap.cli -> command name (order = order in --help)
COMMANDS: dict[str, str] = {
    "targets_cmd": "targets",
    "simulate_cmd": "simulate",
    "compare_cmd": "compare",
    "compile_cmd": "compile",
    "run_cmd": "run",
    "validate_cmd": "validate",
    "export_lava_cmd": "export-lava",
    "export_nir_cmd": "export-nir",
    "plot_cmd": "plot",
    "inspect_cmd": "inspect",
    "report_cmd": "report",
}


def _allow_outside(ctx, param, value):
    token = ALLOW_OUTSIDE_FILES.set(bool(value))
    ctx.call_on_close(lambda: ALLOW_OUTSIDE_FILES.reset(token))   # only for this command (in-process callers)
    return value


#: ``--allow-outside-files`` of the commands that read network files (SECURITY.md)
allow_outside_option = click.option(
    "--allow-outside-files", is_flag=True, expose_value=False, callback=_allow_outside,
    help="Let file: references in the network file point outside its directory (by default they must "
         "resolve inside it).")

#: ``--quiet/-q`` of the long-running commands (the bar is drawn only on a terminal anyway)
quiet_option = click.option("--quiet", "-q", is_flag=True,
                            help="No progress bar (none is drawn when stdout/stderr is not a terminal).")


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS.values())

    def get_command(self, ctx, name):
        for module, cmd in COMMANDS.items():
            if cmd == name:
                return importlib.import_module(f"neuromap.cli.{module}").command
        return None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="neuromap")
@click.pass_context
def cli(ctx, debug):
    """neuromap: put spiking networks with plasticity on neuromorphic cores.

    \b
    Example (compile, run, check against Lava; `neuromap COMMAND --help` for each):
      neuromap compile examples/lava_port_hw.yaml --target loihi -o build/port
      neuromap run build/port --steps 200 -o port.npz
      neuromap validate build/port --steps 200
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv=None):
    """Console entry point: maps errors to exit codes (2 bad input, 1 mismatch)."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        rv = cli.main(args=args, prog_name="neuromap", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        # usage errors: one line, exit 2, pointing at the command's --help (which has examples)
        msg = e.format_message().splitlines()[0] if e.format_message() else str(e)
        ctx = getattr(e, "ctx", None)
        if isinstance(e, click.UsageError) and ctx is not None:
            msg += f" (see `{ctx.command_path} --help`)"
        click.echo(f"neuromap: error: {msg}", err=True)
        sys.exit(2)
    except ValidationMismatch as e:
        if debug:
            raise
        click.echo(str(e), err=True)
        sys.exit(1)
    except NeuromapError as e:
        if debug:
            raise
        click.echo(f"neuromap: error: {e}", err=True)
        sys.exit(2)
    except MemoryError:   # past the input estimates (neuromap/input_limits.py): still one line, exit 2
        if debug:
            raise
        click.echo("neuromap: error: out of memory (the input asks for more than this machine or its "
                   "memory limit holds; use a smaller network or fewer steps)", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
