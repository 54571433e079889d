"""DICOMweb as the second transport (``dicomweb-client``): QIDO-RS study search and WADO-RS study retrieve.

Same query and same answers as the DIMSE SCU (``engine.pacs.scu``): ``StudyQuery`` in, the same study dicts
out; retrieved instances land in ``OUT/<study UID>/<SOP instance UID>.dcm`` as the PACS holds them (any
transfer syntax is accepted, so nothing is transcoded on the way).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from engine.errors import PneumoError
from engine.io.phi import hash_uid
from engine.pacs.peer import PacsError
from engine.pacs.scu import STUDY_KEYS, RetrieveSummary, StudyQuery, check_study_uid, study_json
from engine.paths import write_atomic

log = logging.getLogger(__name__)


def _client(url: str, timeout: float) -> Any:
    from dicomweb_client.api import DICOMwebClient

    if not url.startswith(("http://", "https://")):
        raise PneumoError(f"{url!r} is not a DICOMweb base URL (e.g. http://pacs:8042/dicom-web).")
    return DICOMwebClient(url.rstrip("/"), timeout=timeout)


def _failed(url: str, exc: Exception) -> PacsError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = f"HTTP {status}" if status else type(exc).__name__
    return PacsError(f"The DICOMweb service at {url} did not answer the request ({detail}) — check the URL and "
                     "that the PACS serves DICOMweb there.")


def echo_web(url: str, *, timeout: float = 30.0) -> None:
    """The DICOMweb counterpart of C-ECHO: one QIDO-RS study search with ``limit=1``; raises PacsError when the
    service does not answer it."""
    import requests

    client = _client(url, timeout)
    try:
        client.search_for_studies(limit=1, fields=["StudyInstanceUID"])
    except requests.RequestException as exc:
        raise _failed(url, exc) from exc


def find_studies_web(url: str, query: StudyQuery, *, timeout: float = 30.0) -> list[dict[str, Any]]:
    """QIDO-RS ``/studies`` with the query's filters; one dict per study (the keys of ``scu.STUDY_KEYS``)."""
    import requests
    from pydicom.dataset import Dataset

    filters = {"PatientID": query.patient_id, "PatientName": query.patient_name, "StudyDate": query.date_range,
               "AccessionNumber": query.accession_number, "StudyInstanceUID": query.study_instance_uid}
    client = _client(url, timeout)
    try:
        found = client.search_for_studies(search_filters={k: v for k, v in filters.items() if v},
                                          fields=list(STUDY_KEYS), get_remaining=True)
    except requests.RequestException as exc:
        raise _failed(url, exc) from exc
    return [study_json(Dataset.from_json(study)) for study in found]


def retrieve_study_web(url: str, study_uid: str, out: str | Path, *, timeout: float = 60.0) -> RetrieveSummary:
    """WADO-RS ``/studies/{uid}``: every instance, in the transfer syntax the PACS holds it in."""
    import requests

    check_study_uid(study_uid)
    out = Path(out)
    client = _client(url, timeout)
    summary = RetrieveSummary(study_uid, str(out), "wado-rs")
    try:
        for dataset in client.iter_study(study_uid, media_types=(("application/dicom", "*"),)):
            sop = str(dataset.SOPInstanceUID)
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=True)
            path = out / study_uid / f"{sop}.dcm"
            write_atomic(path, buffer.getvalue())
            summary.files.append(str(path))
            log.debug("retrieved instance %s over DICOMweb", hash_uid(sop))
    except requests.RequestException as exc:
        raise _failed(url, exc) from exc
    summary.stored = summary.completed = len(summary.files)
    return summary
