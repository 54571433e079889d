"""What the Worklist table shows for each received instance: who and which study first (patient, accession,
study date, as a worklist does), then the model's part. The queue keeps UIDs only, so the identity is read from
each stored file's header once (``engine.io.identity``) and kept by file and content hash. The reads run off the GUI
thread (the Worklist tab's worker): an archive's first refresh can name thousands of files, and a cell whose header
is not read yet says so (``PENDING``) instead of blocking the window."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from engine.decision import Verdict
from engine.io.identity import PatientIdentity, read_identity
from engine.pacs.queue import WorkItem
from viewer.row_table import Column, number

_SENT = {"": "", "pending": "waiting", "sent": "sent", "failed": "FAILED"}
HIDDEN = "—"  # the de-identified display: no identity in the list either
PENDING = "…"  # the header is being read
BATCH = 200  # headers per progress step: the first screenful fills in well under a second

Key = tuple[str, str]  # (path, content hash): a file replaced under the same name is read again


class IdentityCache:
    """Each stored instance's patient identity (None: no identity, e.g. a PNG). ``of`` never reads a file: the
    headers are read by ``read`` in a worker (``unread`` names them), and ``store`` keeps what it found."""

    def __init__(self, read: Callable[[str], PatientIdentity | None] = read_identity) -> None:
        self._read = read
        self._known: dict[Key, PatientIdentity | None] = {}
        self._asked: set[Key] = set()  # handed to a worker, not back yet

    @staticmethod
    def key(item: WorkItem) -> Key:
        return (item.path, item.sha256)

    def known(self, item: WorkItem) -> bool:
        return self.key(item) in self._known

    def of(self, item: WorkItem) -> PatientIdentity | None:
        return self._known.get(self.key(item))

    def unread(self, items: Iterable[WorkItem]) -> list[Key]:
        """The keys nobody has read or is reading yet; marked as asked, so one worker reads each."""
        keys = list(dict.fromkeys(self.key(item) for item in items))
        missing = [key for key in keys if key not in self._known and key not in self._asked]
        self._asked.update(missing)
        return missing

    def read(self, keys: list[Key]) -> Iterator[dict[Key, PatientIdentity | None]]:
        """Read the headers in batches (the worker's job; touches no Qt and none of the cache's state)."""
        for start in range(0, len(keys), BATCH):
            yield {key: self._read_one(key[0]) for key in keys[start:start + BATCH]}

    def _read_one(self, path: str) -> PatientIdentity | None:
        try:
            return self._read(path)
        except Exception:  # noqa: BLE001 - a file that went away or broke shows no identity, not a failed list
            return None

    def store(self, found: dict[Key, PatientIdentity | None]) -> None:
        self._known.update(found)
        self._asked.difference_update(found)

    def forget_asked(self) -> None:
        """A worker stopped early: what it did not read may be asked again."""
        self._asked.clear()


def worklist_columns(identities: IdentityCache, hidden: Callable[[], bool]) -> tuple[Column[WorkItem], ...]:
    """The table's columns; ``hidden()`` is True while the display is de-identified."""

    def who(field: Callable[[PatientIdentity], str]) -> Callable[[WorkItem], str]:
        def text(item: WorkItem) -> str:
            if hidden():
                return HIDDEN
            if not identities.known(item):
                return PENDING
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
