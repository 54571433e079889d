"""``pneumollm readings [--agreement [--csv [OUT.csv]] [--ratings-csv OUT.csv] | --queue] --json``: the signed ILO
readings the viewer keeps (double reading with adjudication, ``docs/ilo.md``).

Without a flag: how many images, readings and readers the store holds and how many images await adjudication.
``--agreement`` prints quadratic weighted kappa on the 12-point profusion scale, the major categories and
"abnormal", between every pair of readers and between each reader and the model's suggestion, with n and a 95 %
bootstrap interval; ``--csv`` prints that table as CSV (or writes it to OUT.csv), ``--ratings-csv`` writes the
ratings behind it. ``--queue`` lists the images waiting for a third, adjudicating reading. Readers appear as their
reader id (or a keyed pseudonym ``reader-…``) and images as hashed keys only. Reads the store; changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded

STDOUT = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--agreement", action="store_true",
                      help="weighted kappa between readers and between each reader and the model")
    what.add_argument("--queue", action="store_true", help="the images awaiting a third, adjudicating reading")
    parser.add_argument("--csv", nargs="?", const=STDOUT, metavar="OUT.csv",
                        help="with --agreement: the table as CSV, printed or written to OUT.csv")
    parser.add_argument("--ratings-csv", type=Path, metavar="OUT.csv",
                        help="with --agreement: write the ratings behind the table (hashed image keys, rater ids)")
    parser.add_argument("--store", type=Path, metavar="READINGS.sqlite",
                        help="the readings database (default: ilo_readings.sqlite in the data folder)")
    parser.add_argument("--rule", type=Path, metavar="RULE.json",
                        help="the programme's discordance rule (default: double_reading_rule.json in the data "
                             "folder, else the default rule; docs/ilo.md)")
    parser.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples for the interval (default 2000)")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.errors import PneumoError
        from engine.ilo import agreement
        from engine.ilo.double_reading import CaseStatus, all_cases, load_rule
        from engine.ilo.store import ReadingStore

        if (args.csv or args.ratings_csv) and not args.agreement:
            raise PneumoError("--csv and --ratings-csv go with --agreement.")
        if args.store is not None and not args.store.exists():
            raise PneumoError("The readings database does not exist.", path=args.store)
        rule = load_rule(args.rule)
        cases = all_cases(ReadingStore(args.store), rule)
        queue = [case for case in cases if case.status is CaseStatus.AWAITING_ADJUDICATION]
        payload: dict[str, Any] = {"ok": True, "error": None, "rule": rule.to_dict(), "images": len(cases),
                                   "readings": sum(len(case.readings) for case in cases),
                                   "readers": len({s.reader_key for case in cases for s in case.readings}),
                                   "awaiting_adjudication": len(queue)}
        if args.queue:
            payload["queue"] = [{"instance_key": case.instance_key, "reasons": list(case.reasons)} for case in queue]
        if args.agreement:
            rows = agreement.agreement_table(cases, rounds=args.rounds)
            payload["agreement"] = [row.to_json() for row in rows]
            if args.ratings_csv:
                agreement.write_ratings_csv(args.ratings_csv, cases)
            if args.csv == STDOUT and not args.json:
                _print_csv(agreement.TABLE_COLUMNS, payload["agreement"])
                return 0
            if args.csv and args.csv != STDOUT:
                agreement.write_table_csv(args.csv, rows)
            payload["table"] = agreement.format_table(rows)
        payload["rule_text"] = rule.describe()
        emit(payload, args.json, _text)
        return 0

    return guarded(args.json, body)


def _print_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: "" if row[column] is None else row[column] for column in columns} for row in rows)


def _text(payload: dict[str, Any]) -> str:
    lines = [f"{payload['images']} images, {payload['readings']} readings by {payload['readers']} readers; "
             f"{payload['awaiting_adjudication']} awaiting adjudication. {payload['rule_text']}"]
    for item in payload.get("queue", []):
        lines.append(f"{item['instance_key']}  {'; '.join(item['reasons'])}")
    if "table" in payload:
        lines.append(payload["table"] if payload["agreement"] else "No two raters share a rated image yet.")
    return "\n".join(lines)
