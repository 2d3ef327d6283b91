"""``python -m paybill_infra.service <command>``: run the API or a worker, or manage API keys.

Settings come from ``PAYBILL_SERVICE_*`` (see :class:`~paybill_infra.service.settings.ServiceSettings`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from paybill_infra.service import worker
from paybill_infra.service.app import create_app
from paybill_infra.service.auth import create_api_key
from paybill_infra.service.models import Role
from paybill_infra.service.queue import queue_schema
from paybill_infra.service.settings import ServiceSettings
from paybill_infra.service.store import Store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paybill_infra.service")
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="serve the HTTP API (never runs the engine)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    run = commands.add_parser("worker", help="run queued operations on the control plane")
    run.add_argument("--name", default="paybill-worker")
    commands.add_parser("init", help="create the queue's and the service's tables")
    key = commands.add_parser("create-key", help="create an API key (printed once, stored hashed)")
    key.add_argument("--subject", required=True)
    key.add_argument("--role", choices=[r.value for r in Role], required=True)
    key.add_argument("--tenant", default=None)
    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id (the part after pbk_)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    settings = ServiceSettings.from_env()
    if args.command == "api":
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return 0
    if args.command == "worker":
        worker.run(settings, name=args.name)
        return 0
    store = Store.connect(settings.sqlalchemy_url())
    try:
        store.create_schema(queue_schema())
        if args.command == "create-key":
            secret = create_api_key(store, args.subject, Role(args.role), tenant=args.tenant)
            sys.stdout.write(secret.get_secret_value() + "\n")
        elif args.command == "revoke-key":
            store.revoke_key(args.key_id)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
