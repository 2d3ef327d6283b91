"""``python -m paybill_infra.service <command>``: run the API or a worker, migrate the database, or manage API
keys (``create-key``, ``revoke-key``, ``list-keys``: the same commands as ``paybill service``).

Settings come from ``PAYBILL_SERVICE_*`` (see :class:`~paybill_infra.service.settings.ServiceSettings`); a
missing or bad variable is one line naming it, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from paybill_infra.cli_service import service_app
from paybill_infra.errors import PaybillError
from paybill_infra.service import worker
from paybill_infra.service.app import create_app
from paybill_infra.service.migrate import migrate
from paybill_infra.service.settings import ServiceSettings

KEY_COMMANDS = ("create-key", "revoke-key", "list-keys")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in KEY_COMMANDS:
        service_app(args_list, prog_name="python -m paybill_infra.service")
        return 0
    parser = argparse.ArgumentParser(prog="python -m paybill_infra.service")
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="serve the HTTP API (never runs the engine)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    run = commands.add_parser("worker", help="run queued operations on the control plane")
    run.add_argument("--name", default="paybill-worker")
    commands.add_parser("migrate", help="create or upgrade the queue's, the registry's and the service's tables")
    for name in KEY_COMMANDS:
        commands.add_parser(name, help="API keys: see `paybill service --help`")
    args = parser.parse_args(args_list)

    try:
        settings = ServiceSettings.from_env()
    except PaybillError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    if args.command == "api":
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return 0
    if args.command == "worker":
        worker.run(settings, name=args.name)
        return 0
    migrate(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
