"""Query / retrieve towards a PACS (pynetdicom SCU): C-ECHO, C-FIND at study level, C-GET and C-MOVE of a study.

Retrieved instances are written (atomically) to ``OUT/<study UID>/<SOP instance UID>.dcm``, the layout of the
Storage SCP's store, so ``pneumollm triage OUT`` works on them. C-GET needs nothing configured on the PACS;
C-MOVE needs the PACS to know our AE title, host and port (its "modalities" list) — we listen on that port for
the length of the retrieve.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import PneumoError
from engine.io.phi import hash_uid
from engine.pacs.peer import Destination, PacsError, apply_timeouts, associate
from engine.pacs.scp import CANNOT_UNDERSTAND, OUT_OF_RESOURCES, SUCCESS, TRANSFER_SYNTAXES, UID_PATTERN, read_incoming
from engine.paths import write_atomic

log = logging.getLogger(__name__)

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
VERIFICATION = "1.2.840.10008.1.1"
# What a chest study holds: CR, DX (presentation, processing), secondary captures, SRs, presentation states.
RETRIEVE_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1",
                        "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.22",
                        "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.11.1")
PENDING = (0xFF00, 0xFF01)
_DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")

# C-FIND return keys at study level -> JSON names. Patient attributes are returned to the caller (it asked for
# them), never logged.
STUDY_KEYS = {"StudyInstanceUID": "study_instance_uid", "PatientID": "patient_id", "PatientName": "patient_name",
              "StudyDate": "study_date", "AccessionNumber": "accession_number",
              "StudyDescription": "study_description", "ModalitiesInStudy": "modalities_in_study",
              "NumberOfStudyRelatedInstances": "number_of_instances"}


@dataclass(frozen=True)
class StudyQuery:
    patient_id: str = ""
    patient_name: str = ""  # DICOM wildcards allowed: DOE^*
    date_range: str = ""  # YYYYMMDD, YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-
    accession_number: str = ""
    study_instance_uid: str = ""

    def __post_init__(self) -> None:
        if not _DATE.match(self.date_range):
            raise PneumoError(f"--date {self.date_range!r} is not YYYYMMDD or YYYYMMDD-YYYYMMDD.")


@dataclass
class RetrieveSummary:
    study_instance_uid: str
    out: str
    method: str  # "get" | "move"
    stored: int = 0
    completed: int = 0
    failed: int = 0
    warning: int = 0
    status: int = 0
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"study_instance_uid": self.study_instance_uid, "out": self.out, "method": self.method,
                "stored": self.stored, "completed": self.completed, "failed": self.failed, "warning": self.warning,
                "status": f"0x{self.status:04X}"}


def _ae(calling_ae: str, timeout: float) -> Any:
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    ae.maximum_pdu_size = 0
    apply_timeouts(ae, timeout)
    return ae


def echo(peer: Destination, *, calling_ae: str = "PNEUMOLLM", timeout: float = 10.0) -> int:
    """C-ECHO; the status (0 = the peer is there and talks DICOM to us)."""
    ae = _ae(calling_ae, timeout)
    ae.add_requested_context(VERIFICATION)
    assoc = associate(ae, peer)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    return int(status.Status) if "Status" in status else -1


def find_studies(peer: Destination, query: StudyQuery, *, calling_ae: str = "PNEUMOLLM",
                 timeout: float = 30.0) -> list[dict[str, Any]]:
    """C-FIND at STUDY level (Study Root); one dict per matching study (JSON names of ``STUDY_KEYS``)."""
    from pydicom.dataset import Dataset

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    for keyword in STUDY_KEYS:
        setattr(identifier, keyword, "")
    identifier.PatientID = query.patient_id
    identifier.PatientName = query.patient_name
    identifier.StudyDate = query.date_range
    identifier.AccessionNumber = query.accession_number
    identifier.StudyInstanceUID = query.study_instance_uid
    ae = _ae(calling_ae, timeout)
    ae.add_requested_context(STUDY_ROOT_FIND)
    assoc = associate(ae, peer)
    studies: list[dict[str, Any]] = []
    final = -1
    try:
        for status, found in assoc.send_c_find(identifier, STUDY_ROOT_FIND):
            final = int(status.Status) if "Status" in status else -1
            if final in PENDING and found is not None:
                studies.append(study_json(found))
    finally:
        assoc.release()
    if final != 0:
        raise PacsError(f"{peer} ended the query with status {_status_text(final)}.")
    return studies


def study_json(found: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for keyword, name in STUDY_KEYS.items():
        value = found.get(keyword, "")
        if keyword == "ModalitiesInStudy":
            out[name] = [str(v) for v in value] if isinstance(value, Iterable) and not isinstance(value, str) \
                else [str(value)] if value else []
        elif keyword == "NumberOfStudyRelatedInstances":
            out[name] = int(value) if str(value).strip().isdigit() else None
        else:
            out[name] = str(value) if value is not None else ""
    return out


def _status_text(status: int) -> str:
    return "none (no answer)" if status < 0 else f"0x{status:04X}"


class _Writer:
    """C-STORE handler that writes each received instance into ``out`` (sub-operations of C-GET / C-MOVE)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> int:
        incoming = read_incoming(event)
        if incoming is None:  # refused; the rest of the study continues
            return CANNOT_UNDERSTAND
        study, sop = incoming.study_instance_uid, incoming.sop_instance_uid
        data = event.encoded_dataset()
        path = self.out / study / f"{sop}.dcm"
        try:
            write_atomic(path, data)
        except OSError as exc:
            log.error("could not write retrieved instance %s (%s)", hash_uid(sop), exc.strerror)
            return OUT_OF_RESOURCES
        with self._lock:
            self.files.append(str(path))
        log.debug("retrieved instance %s", hash_uid(sop))
        return SUCCESS


def get_study(peer: Destination, study_uid: str, out: str | Path, *, calling_ae: str = "PNEUMOLLM",
              timeout: float = 60.0) -> RetrieveSummary:
    """C-GET a whole study into ``out`` over one association (we take the storage SCP role)."""
    from pydicom.dataset import Dataset
    from pynetdicom import build_role, evt

    check_study_uid(study_uid)
    out = Path(out)
    writer = _Writer(out)
    ae = _ae(calling_ae, timeout)
    ae.add_requested_context(STUDY_ROOT_GET)
    # The PACS sends each instance as it holds it, on a context accepted for that exact transfer syntax: so
    # one context per (SOP class, compressed syntax), plus one for the uncompressed ones (81 of the 128 allowed).
    uncompressed, compressed = TRANSFER_SYNTAXES[:4], TRANSFER_SYNTAXES[4:]
    for sop_class in RETRIEVE_SOP_CLASSES:
        ae.add_requested_context(sop_class, list(uncompressed))
        for syntax in compressed:
            ae.add_requested_context(sop_class, [syntax])
    roles = [build_role(sop_class, scp_role=True) for sop_class in RETRIEVE_SOP_CLASSES]
    assoc = associate(ae, peer, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, writer)])
    summary = RetrieveSummary(study_uid, str(out), "get")
    try:
        _drain(assoc.send_c_get(_retrieve_identifier(Dataset(), study_uid), STUDY_ROOT_GET), summary)
    finally:
        assoc.release()
    return _finished(summary, writer, peer)


def move_study(peer: Destination, study_uid: str, out: str | Path, *, move_ae: str, move_port: int,
               calling_ae: str = "PNEUMOLLM", listen_host: str = "127.0.0.1", timeout: float = 60.0
               ) -> RetrieveSummary:
    """C-MOVE a whole study to ``move_ae``, which we run on ``listen_host:move_port`` for the duration and which
    the PACS must know under that title, host and port."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt

    check_study_uid(study_uid)
    out = Path(out)
    writer = _Writer(out)
    receiver = AE(ae_title=move_ae)
    receiver.maximum_pdu_size = 0
    for sop_class in RETRIEVE_SOP_CLASSES:
        receiver.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
    try:
        server = receiver.start_server((listen_host, move_port), block=False,
                                       evt_handlers=[(evt.EVT_C_STORE, writer)])
    except OSError as exc:
        raise PacsError(f"Cannot listen on {listen_host}:{move_port} for the C-MOVE ({exc.strerror}) — choose "
                        "another --move-port.") from exc
    summary = RetrieveSummary(study_uid, str(out), "move")
    try:
        ae = _ae(calling_ae, timeout)
        ae.add_requested_context(STUDY_ROOT_MOVE)
        assoc = associate(ae, peer)
        try:
            _drain(assoc.send_c_move(_retrieve_identifier(Dataset(), study_uid), move_ae, STUDY_ROOT_MOVE), summary)
        finally:
            assoc.release()
    finally:
        server.shutdown()
    return _finished(summary, writer, peer)


def _retrieve_identifier(identifier: Any, study_uid: str) -> Any:
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def check_study_uid(study_uid: str) -> None:
    if not UID_PATTERN.match(study_uid):
        raise PneumoError(f"{study_uid!r} is not a study instance UID (digits and dots).")


def _drain(responses: Any, summary: RetrieveSummary) -> None:
    for status, _identifier in responses:
        if "Status" not in status:
            summary.status = -1
            continue
        summary.status = int(status.Status)
        summary.completed = int(status.get("NumberOfCompletedSuboperations", summary.completed) or 0)
        summary.failed = int(status.get("NumberOfFailedSuboperations", summary.failed) or 0)
        summary.warning = int(status.get("NumberOfWarningSuboperations", summary.warning) or 0)


def _finished(summary: RetrieveSummary, writer: _Writer, peer: Destination) -> RetrieveSummary:
    summary.files = sorted(writer.files)
    summary.stored = len(summary.files)
    if summary.status < 0:
        raise PacsError(f"{peer} stopped answering during the retrieve ({summary.stored} instance(s) received).")
    if summary.status not in (0x0000, 0xB000) and not 0xFF00 <= summary.status <= 0xFF01:
        raise PacsError(f"{peer} ended the retrieve with status 0x{summary.status:04X} ({summary.stored} "
                        "instance(s) received; for a C-MOVE, the PACS must know our AE title, host and port).")
    return summary
