"""The audit log: one JSON line per reviewed case in the user's data folder. No PHI: the study UID is
hashed, file paths are not recorded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from engine.decision import Verdict
from engine.flags import codes
from engine.io import ImageMeta
from engine.io.phi import hash_uid
from engine.paths import data_dir
from engine.result import DiagnosisResult

ACTIONS = ("accepted", "overridden")


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "audit.jsonl"

    def record(self, meta: ImageMeta, result: DiagnosisResult, action: str, *,
               final_decision: bool | None = None) -> dict[str, Any]:
        """Append one entry for the result as the reader saw it (its decision and the threshold it used).

        ``action``: accepted (the reader agrees) or overridden (the reader decided otherwise; ``final_decision``
        then says whether the reader flags the case, default: the opposite of a flagged/not-flagged verdict).
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}")
        decision = result.decision
        if action == "accepted":
            final = decision.verdict.value
        else:
            flags_it = (not decision.flagged) if final_decision is None else final_decision
            final = Verdict.FLAGGED.value if flags_it else Verdict.NOT_FLAGGED.value
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "study_uid_hash": hash_uid(meta.study_uid) if meta.study_uid else None,
            "image_hash": hash_uid(meta.sop_instance_uid or str(meta.path)),
            "model_id": result.model_id,
            "profile": result.profile,
            "probability": round(result.probability, 6),
            "threshold": round(decision.threshold, 6),
            "threshold_source": decision.threshold_source.value,
            "decision": decision.verdict.value,
            "flags": codes(result.flags),
            "action": action,
            "final_decision": final,
            "at_readers_request": codes(decision.review_overridden),  # flags the reader diagnosed despite
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return entry

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
