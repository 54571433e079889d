"""The audit log: one JSON line per reviewed case in the user's data folder. No PHI: the study UID is
hashed, file paths are not recorded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from engine.diagnoser import DiagnosisResult
from engine.io import ImageMeta
from engine.io.phi import hash_uid
from engine.paths import data_dir

ACTIONS = ("accepted", "overridden")


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "audit.jsonl"

    def record(self, meta: ImageMeta, result: DiagnosisResult, action: str, *, final_decision: bool | None = None,
               threshold: float | None = None) -> dict[str, Any]:
        """Append one entry. ``action``: accepted (the reader agrees) or overridden (the reader decided the
        opposite; ``final_decision`` then holds the reader's decision)."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}")
        used_threshold = result.threshold if threshold is None else threshold
        model_decision = result.probability >= used_threshold
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "study_uid_hash": hash_uid(meta.study_uid) if meta.study_uid else None,
            "image_hash": hash_uid(meta.sop_instance_uid or str(meta.path)),
            "model_id": result.model_id,
            "profile": result.profile,
            "probability": round(result.probability, 6),
            "threshold": round(used_threshold, 6),
            "decision": "flagged" if model_decision else "not flagged",
            "action": action,
            "final_decision": ("flagged" if (final_decision if final_decision is not None else model_decision)
                               else "not flagged") if action == "overridden" else
                              ("flagged" if model_decision else "not flagged"),
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
