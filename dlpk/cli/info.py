"""`dlpk schema` and `dlpk rules`: the published schemas and the lint rule registry."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dlpk.errors import UsageError

SCHEMA_NAMES = ("emd", "job", "result", "conformance")


def register(subparsers: Any) -> None:
    schema = subparsers.add_parser("schema", help="print a published JSON Schema")
    schema.add_argument("name", choices=SCHEMA_NAMES)
    schema.set_defaults(func=cmd_schema)

    rules = subparsers.add_parser("rules", help="list lint rules with their explanations")
    rules.add_argument("codes", nargs="*", metavar="CODE")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(func=cmd_rules)


def cmd_schema(args: argparse.Namespace) -> int:
    from dlpk.spec.publish import schema_text

    sys.stdout.write(schema_text(args.name))
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from dlpk.validator.rules import RULES

    chosen = [r for r in RULES.values() if not args.codes or r.code in args.codes]
    unknown = set(args.codes or []) - set(RULES)
    if unknown:
        raise UsageError(f"unknown rule code(s): {', '.join(sorted(unknown))}", "see `dlpk rules`")
    if args.format == "json":
        rows = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity.value,
                "summary": r.summary,
                "fix": r.fix,
            }
            for r in chosen
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for r in chosen:
        fix = f" [{r.fix} fix]" if r.fix else ""
        print(f"{r.code}  {r.name:<32} {r.severity.value:<8}{r.summary}{fix}")
    return 0
