"""``python -m connector <command>``: the connector's command-line tools.

Each command lives in its own module and registers its subparser here (``register``), setting
``func`` to what runs it; ``main`` returns that function's exit code.
"""

from __future__ import annotations

import argparse
import sys

from connector.doctor import cli as doctor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector", description="The connector's command-line tools.")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    doctor.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
