"""Our codes, declared: the private coding scheme ``99PNEUMOLLM``, its Coding Scheme Identification item, the
standard codes we use for the finding, and the algorithm's identity (IHE AIR asks every result to name it).

Standard codes come first (SNOMED CT for the disorder, the lung zones and presence; DCM for the report's
structure); ``99PNEUMOLLM`` holds only what has no standard code (the model's probability, its operating
threshold, the screening decision). Every object that uses a private scheme declares it in its Coding Scheme
Identification Sequence, so a reader can look the scheme up (``docs/dicom_conformance.md`` lists its codes).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from engine.notices import MANUFACTURER

if TYPE_CHECKING:
    import highdicom as hd

    from engine.result import DiagnosisResult

SCHEME = "99PNEUMOLLM"
SCHEME_NAME = "PneumoLLM Viewer screening result concepts"
SCHEME_VERSION = "1"
ALGORITHM = "PneumoLLM"

# Disorders with a SNOMED CT concept, by the head's positive label (lower case). Other labels get a private code.
FINDINGS_SCT = {"pneumoconiosis": ("40122008", "Pneumoconiosis"), "silicosis": ("805002", "Silicosis"),
                "asbestosis": ("22607003", "Asbestosis")}


class Identified(Protocol):
    """What names the head behind a result: a ``DiagnosisResult``, or a ``HeadIdentity`` when there is none."""

    @property
    def profile(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def positive_label(self) -> str: ...


@dataclass(frozen=True)
class HeadIdentity:
    """The head that looked at a case it did not diagnose (no result to take its identity from)."""

    profile: str
    model_id: str
    positive_label: str


def software_version() -> str:
    try:
        return importlib.metadata.version("pneumollm-viewer")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def concept(code: str, meaning: str) -> hd.sr.CodedConcept:
    """A ``99PNEUMOLLM`` concept; Code Value is SH (16 characters), Code Meaning LO (64)."""
    import highdicom as hd

    return hd.sr.CodedConcept(code[:16], SCHEME, meaning[:64])


def coding_scheme_identification(scheme: str = SCHEME, name: str = SCHEME_NAME,
                                 version: str = SCHEME_VERSION) -> Dataset:
    """One Coding Scheme Identification Sequence item declaring a private scheme (PS3.3 C.12.1.1.3)."""
    item = Dataset()
    item.CodingSchemeDesignator = scheme
    item.CodingSchemeName = name
    item.CodingSchemeVersion = version
    item.CodingSchemeResponsibleOrganization = MANUFACTURER
    return item


def declare_scheme(dataset: Dataset, item: Dataset | None = None) -> None:
    """Add the private scheme to ``dataset``'s Coding Scheme Identification Sequence (once)."""
    from pydicom.sequence import Sequence

    item = item or coding_scheme_identification()
    existing = dataset.get("CodingSchemeIdentificationSequence") or Sequence()
    if not any(entry.CodingSchemeDesignator == item.CodingSchemeDesignator for entry in existing):
        existing.append(item)
    dataset.CodingSchemeIdentificationSequence = existing


def finding_concept(result: Identified) -> hd.sr.CodedConcept:
    """The disorder the head screens for: SNOMED CT when there is a concept for its label, else private."""
    import highdicom as hd

    label = result.positive_label
    if label.lower() in FINDINGS_SCT:
        code, meaning = FINDINGS_SCT[label.lower()]
        return hd.sr.CodedConcept(code, "SCT", meaning)
    return concept("FINDING", f"Finding: {label}")


def device_uid(result: Identified) -> str:
    """A stable UID for the algorithm as an observer device: one per installed head, the same on every run."""
    return generate_uid(entropy_srcs=[ALGORITHM, result.model_id])


def algorithm_parameters(result: DiagnosisResult) -> dict[str, str]:
    return {"profile": result.profile, "head": result.model_id, "threshold": f"{result.threshold:.6f}",
            "threshold source": result.decision.threshold_source.value}


def sr_algorithm(result: DiagnosisResult) -> hd.sr.AlgorithmIdentification:
    """TID 4019 Algorithm Identification: name, version (the software's) and the head as parameters."""
    return head_algorithm(algorithm_parameters(result))


def head_algorithm(parameters: dict[str, str]) -> hd.sr.AlgorithmIdentification:
    """TID 4019 for ``parameters`` (profile, head, and the threshold when a decision was made)."""
    import highdicom as hd

    return hd.sr.AlgorithmIdentification(name=ALGORITHM, version=software_version(),
                                         parameters=[f"{key}={value}" for key, value in parameters.items()],
                                         manufacturer=MANUFACTURER)


def segment_algorithm(result: DiagnosisResult) -> hd.AlgorithmIdentificationSequence:
    """The Segmentation's Algorithm Identification Sequence (PS3.3 C.8.20.2): the lung segmenter of this head."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.AlgorithmIdentificationSequence(name=f"{ALGORITHM} lung segmenter", version=software_version(),
                                              family=codes.DCM.ArtificialIntelligence, source=MANUFACTURER,
                                              parameters={"head": result.model_id, "profile": result.profile})
