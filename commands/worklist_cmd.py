"""``pneumollm worklist --store DIR --json``: what a DICOM node (``pneumollm serve``) received and found.

Prints ``{"ok": true, "items": [{"sop_instance_uid", "study_instance_uid", "state", "probability", "decision",
"error", ...}, ...]}``, flagged first by default (``--order newest`` for arrival order). Reads the store's queue
while the node runs and changes nothing, except with ``--resend failed|SOP_UID``: every failed send (or that
instance's results) due again — a running ``pneumollm serve --forward`` on the store sends them within a second,
otherwise the next one does when it starts (``"resent"`` in the JSON says how many).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.pacs.queue import FLAGGED_FIRST, ORDERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, required=True, help="the folder `pneumollm serve --store` uses")
    parser.add_argument("--order", choices=tuple(ORDERS), default=FLAGGED_FIRST,
                        help="flagged first, highest score first (default), or newest first")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="also write the worklist as a triage CSV")
    parser.add_argument("--resend", metavar="failed|SOP_UID",
                        help="send again: every send that failed, or the results of one instance (by SOP Instance "
                             "UID); the node serving this store sends them")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.errors import PneumoError
        from engine.pacs.queue import WorkQueue
        from engine.pacs.worklist import write_worklist_csv

        try:
            queue = WorkQueue.in_store(args.store, readonly=True)
        except FileNotFoundError as exc:
            raise PneumoError(f"{args.store} holds no worklist — is it the folder given to `pneumollm serve "
                              "--store`?") from exc
        if args.resend:  # the one change this command makes: reopen as a writer
            queue.close()
            queue = WorkQueue.in_store(args.store)
        try:
            resent = _resend(queue, args.resend) if args.resend else None
            items = queue.items(args.order)
            counts = queue.counts()
        finally:
            queue.close()
        if args.csv:
            write_worklist_csv(args.csv, items)
        payload = {"ok": True, "error": None, "counts": counts, "items": [item.to_json() for item in items]}
        if resent is not None:
            payload["resent"] = resent
        emit(payload, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"items": []})


def _resend(queue: Any, which: str) -> int:
    """Make sends due again: every failed one (``failed``) or one instance's; how many."""
    from engine.errors import PneumoError

    if which.strip().lower() == "failed":
        return int(queue.resend_failed())
    item = queue.find(which.strip())
    if item is None:
        raise PneumoError(f"No instance {which!r} in this worklist (give its SOP Instance UID, or 'failed').")
    if not item.result_files:
        raise PneumoError(f"Instance {which} has no result objects to send (was the node started with --forward, "
                          "and is it finished?).")
    queue.resend(item.id)
    return 1


def _text(payload: dict[str, Any]) -> str:
    lines = [", ".join(f"{n} {state}" for state, n in payload["counts"].items())]
    if "resent" in payload:
        lines.insert(0, f"{payload['resent']} send(s) due again: the node serving this store sends them")
    for item in payload["items"]:
        score = "" if item["probability"] is None else f"{item['probability']:.3f}"
        detail = item["error"] or item["send_error"] or ""
        lines.append(f"{item['state']:<8} {item['decision'] or '':<14} {score:>6}  {item['study_instance_uid']}"
                     f"  {item['sop_instance_uid']}  {detail}".rstrip())
    return "\n".join(lines)
