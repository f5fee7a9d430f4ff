"""``python -m livetranslate_gateway.keys``: issue, list and revoke API keys.

    python -m livetranslate_gateway.keys issue --tenant acme --name "acme's web app"
    python -m livetranslate_gateway.keys list [--tenant acme]
    python -m livetranslate_gateway.keys revoke <key id>

``issue`` prints the key once, on stdout alone (so ``KEY=$(... issue ...)`` works); only its
digest is stored. The database is the one the gateways use (``DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

import psycopg

from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.settings import DatabaseSettings
from livetranslate_gateway.adapters.api_keys import (
    issue_api_key,
    list_api_keys,
    revoke_api_key,
)
from livetranslate_gateway.core.access import TENANT_PATTERN


def issue_key_for(
    database_url: str, *, tenant_id: str, name: str = "issued", operator: bool = False
) -> str:
    """Issue a key for ``tenant_id`` in the database at ``database_url`` (migrating it first,
    if needed) and return the whole key. Not for use inside a running event loop."""
    if re.match(TENANT_PATTERN, tenant_id) is None:
        raise ValueError(f"a tenant id matches {TENANT_PATTERN}")

    async def issue() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await apply_migrations(conn)
            issued = await issue_api_key(conn, tenant_id=tenant_id, name=name, operator=operator)
            return issued.token

    return asyncio.run(issue())


def _tenant(value: str) -> str:
    if re.match(TENANT_PATTERN, value) is None:
        raise argparse.ArgumentTypeError(f"a tenant id matches {TENANT_PATTERN}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m livetranslate_gateway.keys", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="issue a key and print it (once)")
    issue.add_argument("--tenant", type=_tenant, required=True, help="the tenant it acts for")
    issue.add_argument("--name", default="issued", help="what the key is for")
    issue.add_argument(
        "--operator", action="store_true", help="may also read figures across tenants"
    )
    listing = commands.add_parser("list", help="the keys (never their secrets)")
    listing.add_argument("--tenant", type=_tenant)
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser


async def _run(args: argparse.Namespace, url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        return await _command(conn, args)


async def _command(conn: psycopg.AsyncConnection[Any], args: argparse.Namespace) -> int:
    if args.command == "issue":
        issued = await issue_api_key(
            conn, tenant_id=args.tenant, name=args.name, operator=args.operator
        )
        print(issued.token)
        print(
            f"key {issued.key_id} for tenant {issued.tenant_id}: keep it secret; it is not"
            " shown again",
            file=sys.stderr,
        )
        return 0
    if args.command == "list":
        for row in await list_api_keys(conn, tenant_id=args.tenant):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            role = " operator" if row.is_operator else ""
            print(f"{row.key_id}  {row.tenant_id}  {state}{role}  {row.name}")
        return 0
    if await revoke_api_key(conn, args.key_id):
        print(f"key {args.key_id} revoked (gateways stop taking it within their cache time)")
        return 0
    print(f"no active key {args.key_id}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return asyncio.run(_run(args, DatabaseSettings().url))


if __name__ == "__main__":
    sys.exit(main())
