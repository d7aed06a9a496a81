"""The connector's command line: ``python -m connector <command> ...``.

Each command is a module with ``configure(parser)`` (its arguments) and ``run(args) -> int`` (its
exit code), listed in ``COMMANDS``; adding a command is one line here. A ConnectorError (bad
configuration, an API refusal) is printed as one clear line and exits 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from connector.errors import ConnectorError

# name: (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "webhooks": ("connector.webhooks.cli", "manage the Coverbase webhook subscription of the write-back"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connector", description="The connector's command line.")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(module)
        cmd = sub.add_parser(name, help=help_text, description=mod.__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(cmd)
        cmd.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConnectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
