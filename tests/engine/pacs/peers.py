"""Real DICOM peers for the PACS tests, on 127.0.0.1 with ephemeral ports: copies of real radiographs with
fresh UIDs, and a small pynetdicom query/retrieve SCP (C-FIND / C-GET / C-MOVE over a list of files)."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from engine.pacs.scp import TRANSFER_SYNTAXES
from engine.pacs.scu import RETRIEVE_SOP_CLASSES


def relabelled_copies(source: Path, out: Path, count: int, *, study_uid: str | None = None,
                      **attributes: Any) -> list[Path]:
    """``count`` copies of a real DICOM file, each a new instance (new SOP instance UID; a new study unless
    ``study_uid``); pixel data is kept as encoded. Extra keyword arguments become attributes."""
    out.mkdir(parents=True, exist_ok=True)
    ds = dcmread(source)
    paths = []
    study = study_uid or generate_uid()
    for index in range(count):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study if study_uid or index == 0 else generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        path = out / f"{source.stem}_{index}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


class QueryRetrievePeer:
    """A pynetdicom Query/Retrieve SCP over ``files``: study-level C-FIND by PatientID (wildcards), StudyDate
    (range), AccessionNumber, StudyInstanceUID; C-GET and C-MOVE of a study. ``destinations`` maps the AE titles
    it may C-MOVE to onto (host, port)."""

    def __init__(self, files: list[Path], *, ae_title: str = "QRSCP",
                 destinations: dict[str, tuple[str, int]] | None = None) -> None:
        self.headers = [(path, dcmread(path, stop_before_pixels=True)) for path in files]
        self.destinations = destinations or {}
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_pdu_size = 0
        self.ae.add_supported_context(Verification)
        for model in (StudyRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelGet,
                      StudyRootQueryRetrieveInformationModelMove):
            self.ae.add_supported_context(model)
        for sop_class in RETRIEVE_SOP_CLASSES:  # C-GET sends on the requestor's association, in the SCU role
            self.ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES), scu_role=True, scp_role=True)
        for _, header in self.headers:  # C-MOVE opens its own association to the destination
            self.ae.add_requested_context(header.SOPClassUID, header.file_meta.TransferSyntaxUID)
        self.server: Any = None
        self.port = 0

    def start(self) -> int:
        handlers = [(evt.EVT_C_FIND, self._find), (evt.EVT_C_GET, self._get), (evt.EVT_C_MOVE, self._move)]
        self.server = self.ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        self.port = int(self.server.server_address[1])
        return self.port

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    def _matches(self, query: Dataset, header: Dataset) -> bool:
        patient = str(query.get("PatientID", "") or "")
        if patient and not fnmatch.fnmatchcase(str(header.get("PatientID", "")), patient):
            return False
        dates = str(query.get("StudyDate", "") or "")
        if dates:
            low, _, high = dates.partition("-") if "-" in dates else (dates, "", dates)
            date = str(header.get("StudyDate", ""))
            if (low and date < low) or (high and date > high):
                return False
        for keyword in ("AccessionNumber", "StudyInstanceUID"):
            wanted = str(query.get(keyword, "") or "")
            if wanted and str(header.get(keyword, "")) != wanted:
                return False
        return True

    def _studies(self, query: Dataset) -> dict[str, list[tuple[Path, Dataset]]]:
        studies: dict[str, list[tuple[Path, Dataset]]] = {}
        for path, header in self.headers:
            if self._matches(query, header):
                studies.setdefault(str(header.StudyInstanceUID), []).append((path, header))
        return studies

    def _find(self, event: Any) -> Any:
        query = event.identifier
        for uid, members in self._studies(query).items():
            header = members[0][1]
            found = Dataset()
            found.QueryRetrieveLevel = "STUDY"
            found.StudyInstanceUID = uid
            for keyword in ("PatientID", "PatientName", "StudyDate", "AccessionNumber", "StudyDescription"):
                setattr(found, keyword, header.get(keyword, ""))
            found.ModalitiesInStudy = sorted({str(h.get("Modality", "")) for _, h in members})
            found.NumberOfStudyRelatedInstances = len(members)
            yield 0xFF00, found

    def _instances(self, event: Any) -> list[Path]:
        return [path for members in self._studies(event.identifier).values() for path, _ in members]

    def _get(self, event: Any) -> Any:
        paths = self._instances(event)
        yield len(paths)
        for path in paths:
            yield 0xFF00, dcmread(path)

    def _move(self, event: Any) -> Any:
        destination = self.destinations.get(str(event.move_destination).strip())
        if destination is None:
            yield None, None  # unknown move destination: pynetdicom answers 0xA801
            return
        yield destination
        paths = self._instances(event)
        yield len(paths)
        for path in paths:
            yield 0xFF00, dcmread(path)
