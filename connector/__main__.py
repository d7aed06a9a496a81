"""The connector's command line: ``python -m connector <command> ...``.

Each command is a module listed in ``COMMANDS`` that adds its subparser (``register``), setting
``func`` to what runs it; adding a command is one line here. A ConnectorError (bad configuration,
an API refusal) is printed as one clear line and exits 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from connector.errors import ConnectorError

COMMANDS: tuple[str, ...] = (
    "connector.doctor.cli",  # python -m connector doctor
    "connector.webhooks.cli",  # python -m connector webhooks register|list|delete
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connector", description="The connector's command-line tools.")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConnectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
