"""What the Worklist table shows for each received instance: who and which study first (patient, accession,
study date, as a worklist does), then the model's part. The queue keeps UIDs only, so the identity is read from
each stored file's header once (``engine.io.identity``) and kept by file and content hash."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.decision import Verdict
from engine.io.identity import PatientIdentity, read_identity
from engine.pacs.queue import WorkItem
from viewer.row_table import Column, number

_SENT = {"": "", "pending": "waiting", "sent": "sent", "failed": "FAILED"}
HIDDEN = "—"  # the de-identified display: no identity in the list either


class IdentityCache:
    """Each stored instance's patient identity, read from its header on first sight (None: no identity)."""

    def __init__(self, read: Callable[[str], PatientIdentity | None] = read_identity) -> None:
        self._read = read
        self._known: dict[tuple[str, str], PatientIdentity | None] = {}

    def of(self, item: WorkItem) -> PatientIdentity | None:
        key = (item.path, item.sha256)
        if key not in self._known:
            self._known[key] = self._read(item.path)
        return self._known[key]


def worklist_columns(identities: IdentityCache, hidden: Callable[[], bool]) -> tuple[Column[WorkItem], ...]:
    """The table's columns; ``hidden()`` is True while the display is de-identified."""

    def who(field: Callable[[PatientIdentity], str]) -> Callable[[WorkItem], str]:
        def text(item: WorkItem) -> str:
            if hidden():
                return HIDDEN
            identity = identities.of(item)
            return field(identity) if identity is not None else ""
        return text

    return (
        Column("Received", lambda item: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.received_at))),
        Column("Patient", who(lambda identity: " · ".join(part for part in (identity.name, identity.patient_id)
                                                           if part))),
        Column("Accession", who(lambda identity: identity.accession)),
        Column("Study date", who(lambda identity: identity.study_date)),
        Column("State", lambda item: item.state),
        Column("Decision", lambda item: item.decision or ""),
        Column("Probability", lambda item: "" if item.decision == Verdict.NOT_DIAGNOSED else number(item.probability)),
        Column("Study UID", lambda item: item.study_instance_uid),
        Column("Result sent", lambda item: _SENT.get(item.send_state, item.send_state)),
        Column("Note", lambda item: "; ".join(part for part in (item.error, item.warnings, item.send_error) if part)),
    )


RECEIVED, PATIENT, ACCESSION, STUDY_DATE, STATE, DECISION, PROBABILITY, STUDY, SENT, NOTE = range(10)
