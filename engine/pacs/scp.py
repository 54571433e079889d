"""The Storage SCP: receive studies over DICOM (pynetdicom) into a store folder and the work queue.

Each received instance is written to disk atomically (temporary file, fsync, rename, fsync of the folder) and
committed to the queue **before** success is returned; any failure on the way returns a failure status, so a
peer never deletes a study we do not have. Every storage class is accepted (a PACS pushes whole studies); what is
not a radiograph to diagnose — SRs, presentation states, our own results coming back — is stored and listed as
skipped with the reason (``engine.pacs.intake``). An image whose pixel data is incomplete (a truncated file) is
answered C000 and never replaces an earlier copy. Log lines name the calling AE and keyed hashes of UIDs, never
patient attributes; refused associations are logged too.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import sqlite3
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.io.dicom import DECODABLE_TRANSFER_SYNTAXES
from engine.io.phi import hash_uid
from engine.pacs.intake import (
    CR_IMAGE_STORAGE,
    DX_FOR_PRESENTATION,
    DX_FOR_PROCESSING,
    RADIOGRAPH_SOP_CLASSES,
    pixel_data_problem,
    skip_reason,
)
from engine.pacs.queue import WorkQueue
from engine.paths import file_sha256, write_atomic

log = logging.getLogger(__name__)

__all__ = ["CR_IMAGE_STORAGE", "DX_FOR_PRESENTATION", "DX_FOR_PROCESSING", "RADIOGRAPH_SOP_CLASSES"]  # re-exported
VERIFICATION = "1.2.840.10008.1.1"

TRANSFER_SYNTAXES = DECODABLE_TRANSFER_SYNTAXES  # accepted: what the ingest path decodes

# C-STORE statuses (PS3.4 B.2.3)
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # disk full, database unavailable: the peer keeps the study and may retry
DOES_NOT_MATCH_SOP_CLASS = 0xA900  # e.g. an image object without pixel data
CANNOT_UNDERSTAND = 0xC000  # undecodable dataset, missing or malformed UIDs

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")  # also keeps a hostile UID from naming a path outside the store
STUDIES_DIR = "studies"


@dataclass(frozen=True)
class Received:
    """One instance the SCP accepted (for the worker's wake-up and the viewer's status bar)."""

    sop_instance_uid: str
    study_instance_uid: str
    path: Path
    queued: bool  # False for a duplicate already held, or an object kept as skipped


@dataclass(frozen=True)
class Incoming:
    """What a C-STORE request's dataset says about itself (read before anything is written)."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    has_pixels: bool


def read_incoming(event: Any) -> Incoming | None:
    """The UIDs of an EVT_C_STORE event's dataset; None when it cannot be decoded or its SOP instance / study UID
    is missing or malformed (answer CANNOT_UNDERSTAND)."""
    sop_uid = str(event.request.AffectedSOPInstanceUID or "")
    try:
        dataset = event.dataset
        study_uid = str(dataset.get("StudyInstanceUID", "") or "")
        series_uid = str(dataset.get("SeriesInstanceUID", "") or "")
        has_pixels = any(k in dataset for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    except Exception:  # noqa: BLE001 — any decoding failure is the peer's malformed dataset
        return None
    if not (UID_PATTERN.match(sop_uid) and UID_PATTERN.match(study_uid)):
        return None
    return Incoming(sop_uid, study_uid, series_uid, has_pixels)


def instance_path(store: Path, study_uid: str, sop_uid: str) -> Path:
    return store / STUDIES_DIR / study_uid / f"{sop_uid}.dcm"


def adopt_orphans(store: Path, queue: WorkQueue) -> int:
    """Queue instances that reached the disk but not the queue (a kill between the two; the peer was never told
    success, but the file is complete — ``write_atomic`` renames only finished files). How many."""
    known = queue.known_paths()
    adopted = 0
    for path in sorted((store / STUDIES_DIR).glob("*/*.dcm")):
        if str(path) in known:
            continue
        study, sop = path.parent.name, path.stem
        if UID_PATTERN.match(study) and UID_PATTERN.match(sop):
            adopted += queue.enqueue(sop, study, "", path, file_sha256(path), received_at=path.stat().st_mtime,
                                     skipped=_stored_skip_reason(path))
    if adopted:
        log.info("queued %d stored instance(s) a previous run had not queued", adopted)
    return adopted


def _stored_skip_reason(path: Path) -> str | None:
    """Why a stored file is kept without diagnosis (as the SCP decided when it arrived), or None."""
    from pydicom import dcmread

    try:
        return skip_reason(dcmread(path, stop_before_pixels=True))
    except Exception:  # noqa: BLE001 — an unreadable file is queued: the worker then records why it is unreadable
        return None


class StorageServer:
    """A pynetdicom Storage SCP writing to ``store`` and queueing into ``queue``.

    Args:
        store: the folder instances are written to (``studies/<study UID>/<SOP instance UID>.dcm``).
        queue: the work queue of that folder.
        ae_title: our AE title.
        port: TCP port (0: any free port; ``address`` tells which).
        host: the address to listen on (127.0.0.1 by default; a clinic's node listens on its LAN address).
        allow: calling AE titles allowed to associate (None or empty: any).
        on_received: called (on the association's thread) after each accepted instance.
        ssl_context: a server-side TLS context (DICOM TLS, PS3.15 B.1), or None for plain TCP.
        uid_key: the key of the UID hashes in log lines (``engine.io.phi.hash_uid``; the node's own).
    """

    def __init__(self, store: str | Path, queue: WorkQueue, *, ae_title: str = "PNEUMOLLM", port: int = 11112,
                 host: str = "127.0.0.1", allow: Sequence[str] | None = None,
                 on_received: Callable[[Received], None] | None = None,
                 ssl_context: ssl.SSLContext | None = None, uid_key: bytes | None = None) -> None:
        from pynetdicom import AE, AllStoragePresentationContexts

        self.store = Path(store)
        self.queue = queue
        self.on_received = on_received
        self._uid_key = uid_key
        self._host, self._port, self._ssl = host, port, ssl_context
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_pdu_size = 0  # unlimited: radiographs are tens of megabytes
        if allow:
            self.ae.require_calling_aet = [title.strip() for title in allow if title.strip()]
        # Every storage class: a study-level push carries SRs, presentation states and screen captures too,
        # and a PACS fails the whole push when one of them has no accepted context.
        for context in AllStoragePresentationContexts:
            self.ae.add_supported_context(context.abstract_syntax, list(TRANSFER_SYNTAXES))
        self.ae.add_supported_context(VERIFICATION)
        self._server: Any = None
        # What was refused, newest last, for a GUI to say (one line each, no patient data: UIDs are hashed).
        self.refusals: deque[str] = deque(maxlen=50)
        self.refused_count = 0

    def _refuse(self, message: str, *args: object) -> None:
        """Log a refusal (as before) and keep its line for ``refusals``."""
        log.warning(message, *args)
        self.refusals.append(message % args)
        self.refused_count += 1

    @property
    def ae_title(self) -> str:
        return str(self.ae.ae_title)

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the server is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> tuple[str, int]:
        """Start listening in the background; the (host, port) it listens on."""
        from pynetdicom import evt

        (self.store / STUDIES_DIR).mkdir(parents=True, exist_ok=True)
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda event: SUCCESS),
                    (evt.EVT_CONN_OPEN, self._on_open), (evt.EVT_REJECTED, self._on_rejected)]
        self._server = self.ae.start_server((self._host, self._port), block=False, evt_handlers=handlers,
                                            ssl_context=self._ssl)
        host, port = self.address
        log.info("storage SCP %s listening on %s:%d", self.ae_title, host, port)
        return host, port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_open(self, event: Any) -> None:
        log.debug("connection from %s:%s", *event.address[:2])

    def _hash(self, uid: str) -> str | None:
        return hash_uid(uid, self._uid_key)

    def _on_rejected(self, event: Any) -> None:
        """An association we refused: who asked and why (AE titles and addresses only; nothing of a patient)."""
        requestor = event.assoc.requestor
        calling = str(requestor.ae_title).strip()
        allowed = [title.strip() for title in self.ae.require_calling_aet]
        if allowed and calling not in allowed:
            reason = "its calling AE title is not in --allow"
        elif len([a for a in self.ae.active_associations if a.is_acceptor]) > self.ae.maximum_associations:
            reason = "too many associations at once"
        else:
            reason = "refused by the association negotiation"
        self._refuse("refused an association from AE %r at %s:%s: %s", calling[:16], requestor.address,
                     requestor.port, reason)

    def _on_store(self, event: Any) -> int:
        """Check, write, then queue, then answer; every exit that is not SUCCESS leaves the peer holding the study
        (and leaves an earlier copy of the instance as it was)."""
        calling = str(event.assoc.requestor.ae_title).strip()
        incoming = read_incoming(event)
        if incoming is None:
            self._refuse("refused an instance from %s: undecodable, or its SOP instance / study UID is missing or "
                         "malformed", calling)
            return CANNOT_UNDERSTAND
        sop_uid, study_uid, series_uid = incoming.sop_instance_uid, incoming.study_instance_uid, \
            incoming.series_instance_uid
        try:
            skipped = skip_reason(event.dataset)
            problem = None if skipped else pixel_data_problem(event.dataset, str(event.context.transfer_syntax))
        except Exception:  # noqa: BLE001 — an element that does not decode: the peer's malformed dataset
            self._refuse("refused instance %s from %s: a header element does not decode", self._hash(sop_uid),
                         calling)
            return CANNOT_UNDERSTAND
        if problem is not None and not incoming.has_pixels:
            self._refuse("refused instance %s from %s: an image object without pixel data", self._hash(sop_uid),
                         calling)
            return DOES_NOT_MATCH_SOP_CLASS
        if problem is not None:
            self._refuse("refused instance %s from %s: %s; an earlier copy is kept as it was", self._hash(sop_uid),
                         calling, problem)
            return CANNOT_UNDERSTAND
        data = event.encoded_dataset()  # the bytes as sent (preamble, file meta, dataset): nothing re-encoded
        digest = hashlib.sha256(data).hexdigest()[:32]  # as engine.paths.file_sha256 of the file it becomes
        path = instance_path(self.store, study_uid, sop_uid)
        earlier = self.queue.find(sop_uid)
        if earlier is not None and earlier.sha256 == digest and Path(earlier.path).is_file():
            log.info("instance %s from %s is already stored (same content); acknowledged, not queued again",
                     self._hash(sop_uid), calling)
            return SUCCESS
        try:
            write_atomic(path, data)
            _fsync_dir(path.parent)  # the rename itself must survive a power cut before we say success
        except OSError as exc:
            reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or type(exc).__name__
            log.error("could not store instance %s from %s (%s); answered out of resources", self._hash(sop_uid),
                      calling, reason)
            return OUT_OF_RESOURCES
        try:
            queued = self.queue.enqueue(sop_uid, study_uid, series_uid, path, digest, skipped=skipped)
        except sqlite3.Error as exc:
            log.error("could not queue instance %s (%s); answered out of resources", self._hash(sop_uid), exc)
            return OUT_OF_RESOURCES
        if earlier is not None:
            log.warning("instance %s from %s replaces an earlier copy with other content; %s", self._hash(sop_uid),
                        calling, "kept as skipped" if skipped else "queued again")
        if skipped:
            log.info("stored instance %s of study %s from %s, not to diagnose: %s", self._hash(sop_uid),
                     self._hash(study_uid), calling, skipped)
        else:
            log.info("stored instance %s of study %s from %s", self._hash(sop_uid), self._hash(study_uid), calling)
        if self.on_received:
            self.on_received(Received(sop_uid, study_uid, path, queued and not skipped))
        return SUCCESS


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; NTFS journals the rename
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def tls_server_context(cert: str | Path, key: str | Path, ca: str | Path | None = None) -> ssl.SSLContext:
    """A server TLS context; with ``ca``, peers must present a certificate it signed (mutual TLS)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if ca:
        context.load_verify_locations(str(ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context
