"""`mi-starter`: the command-line entry point.

    mi-starter list                         the starters by research area, and their status
    mi-starter run <slug> [--preset ...]    run one starter (see `mi-starter run --help`)
    mi-starter new <slug> --area AREA       add a question: its starter, test and registry entries
    mi-starter merge DIR DIR ... --out OUT  combine the shard folders of one `--shard i/n` run
    mi-starter reanalyse RUN --out NEW      a finished run's rows analysed by today's code
    mi-starter validate <slug>              does its metric recover truth planted in the organism?
    mi-starter neuronpedia feature|search   look up SAE latents on Neuronpedia
    mi-starter data list|fetch              public releases of real R1 data, fetched with checksums
    mi-starter public <question>            a question answered on those releases (no model)
    mi-starter doctor                       what is installed, which device, what works offline

Each sub-command lives in its own module (`starter/commands/<name>.py`) exposing `configure(parser)`
and `main(args) -> int`; this file only wires them up. Modules are imported lazily so that
`mi-starter neuronpedia ...` never pays for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from starter.errors import StarterError

# name -> (module, one-line help). A registry, not an if-chain: adding a command is one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("starter.commands.list_starters", "list the starters and their status"),
    "run": ("starter.commands.run", "run one starter"),
    "new": ("starter.commands.new", "add a question: starter, test, registry and page entries"),
    "merge": ("starter.commands.merge", "combine the shard folders of one --shard run"),
    "reanalyse": ("starter.commands.reanalyse", "analyse a finished run again (no sampling)"),
    "validate": ("starter.commands.validate", "check a starter's metric on planted truth"),
    "neuronpedia": ("starter.commands.neuronpedia", "look up SAE latents on Neuronpedia"),
    "data": ("starter.commands.data", "list and fetch the public releases of real R1 data"),
    "doctor": ("starter.commands.doctor", "check the installation, device and offline assets"),
    "public": ("starter.commands.public", "answer a question on public R1-distill data (no model)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep its message to one `error:` line plus usage."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mi-starter", description="Starter kit for MI research on thinking models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.main(args) or 0)
    except StarterError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a filesystem failure (a full disk) nothing below named: one line
        if err.filename is None:  # not a filesystem error (a network library's): not ours to print
            raise
        from starter.experiment import os_error_line

        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return StarterError.exit_code
    except KeyboardInterrupt:
        print("interrupted: results written so far are kept; run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
