"""`dlpk serve`: the model registry, the job REST API and the map page, in one process."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dlpk.cli.options import echo

TOKEN_ENV = "DLPK_TOKEN"  # also dlpk.serve.queue.TOKEN_ENV, kept from the jobs


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model registry, a job REST API (ArcGIS's raster analysis names) and a map",
        description="Start the service: packages are linted on the way in and kept by content "
        "hash, jobs run as job directories through the backend, a queue bounds how many run at "
        "once, and a restart loses no job. Every write needs the token. docs/service.md",
        epilog="Start it with `dlpk serve --data DIR --root FOLDER`; stop it with Ctrl-C "
        "(running jobs are queued again at the next start).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                        "127.0.0.1, this machine only)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--data", default="dlpk-data", metavar="DIR",
        help="where the database, packages and jobs are kept (default ./dlpk-data)",
    )  # fmt: skip
    parser.add_argument(
        "--root", action="append", default=[], metavar="DIR",
        help="a server folder whose files requests may name (rasters, features, packages); "
        "repeatable; without one, only uploads are taken",
    )  # fmt: skip
    parser.add_argument(
        "--database", metavar="URL",
        help="postgresql://USER@HOST/DB (default: SQLite in --data)",
    )  # fmt: skip
    parser.add_argument(
        "--token", help=f"the API token for writes (default: ${TOKEN_ENV}, else a random one, "
        "printed at start)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=("local", "docker", "ray", "in-process"), default="local",
        help="what runs each job (default local: a runner process per job)",
    )  # fmt: skip
    parser.add_argument("--max-jobs", type=int, default=2, metavar="N",
                        help="jobs running at once (default 2)")  # fmt: skip
    parser.add_argument("--max-queued", type=int, default=100, metavar="N",
                        help="jobs waiting at most; more are refused (default 100)")  # fmt: skip
    parser.add_argument("--max-upload-mb", type=int, default=1024, metavar="N",
                        help="largest request body, uploads included (default 1024)")  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="check the settings, create or upgrade the database, and exit",
    )  # fmt: skip
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from dlpk.serve.server import check, serve
    from dlpk.serve.settings import make_settings

    token = args.token or os.environ.get(TOKEN_ENV) or None
    settings = make_settings(
        Path(args.data),
        [Path(root) for root in args.root],
        token,
        database=args.database,
        backend=args.backend,
        max_jobs=args.max_jobs,
        max_queued=args.max_queued,
        max_upload_mb=args.max_upload_mb,
        host=args.host,
        port=args.port,
    )
    if args.check:
        version = check(settings)
        where = "SQLite in " + str(settings.data) if args.database is None else "the database"
        echo(f"dlpk serve: settings are valid; {where} is at schema version {version}")
        return 0

    def say(text: str) -> None:
        echo(text, sys.stderr)
        sys.stderr.flush()

    serve(settings, say, token_generated=token is None)
    return 0
