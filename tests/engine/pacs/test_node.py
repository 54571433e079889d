"""The whole node on 127.0.0.1: real radiographs in over C-STORE, triaged by the Diagnoser as they arrive, the
DICOM SR sent back to a pynetdicom peer; a dead destination stays visible as a failed send."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from engine.diagnoser import Diagnoser
from engine.pacs.forward import store_files
from engine.pacs.node import NodeConfig, PacsNode
from engine.pacs.peer import Destination
from engine.segment import LungSegmenter
from tests.dicom_factory import content_items
from tests.engine.pacs.peers import relabelled_copies
from tests.head_factory import make_tiny_head

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture(scope="module")
def diagnoser(tmp_path_factory: pytest.TempPathFactory) -> Diagnoser:
    head = make_tiny_head(tmp_path_factory.mktemp("head") / "head", with_map=False)
    return Diagnoser(head, segmenter=LungSegmenter(weights=None))


class ResultsPeer:
    """The PACS that receives our SRs: a pynetdicom Storage SCP keeping what it gets."""

    def __init__(self) -> None:
        self.received: list[Dataset] = []
        self.lock = threading.Lock()
        self.ae = AE(ae_title="ARCHIVE")
        self.ae.add_supported_context(COMPREHENSIVE_SR)
        self.ae.add_supported_context(SECONDARY_CAPTURE)
        self.server = self.ae.start_server(("127.0.0.1", 0), block=False,
                                           evt_handlers=[(evt.EVT_C_STORE, self._store)])
        self.port = int(self.server.server_address[1])

    def _store(self, event: Any) -> int:
        with self.lock:
            self.received.append(event.dataset)
        return 0


@pytest.fixture()
def archive() -> Iterator[ResultsPeer]:
    peer = ResultsPeer()
    yield peer
    peer.server.shutdown()


def start_node(store: Path, diagnoser: Diagnoser, forward: Destination | None, **options: Any) -> PacsNode:
    node = PacsNode(NodeConfig(store=store, port=0, forward=forward, batch_size=2, **options), diagnoser)
    node.start()
    return node


def test_received_studies_are_triaged_and_results_sent_back(diagnoser: Diagnoser, archive: ResultsPeer,
                                                            dicom_dir: Path, tmp_path: Path) -> None:
    frontal = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 3)
    lateral = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "lat", 1, ViewPosition="LL")
    node = start_node(tmp_path / "store", diagnoser, Destination("127.0.0.1", archive.port, "ARCHIVE"),
                      result_kinds=("sr", "sc"))
    try:
        port = node.server.address[1]
        assert store_files(Destination("127.0.0.1", port, "PNEUMOLLM"), frontal + lateral) == [0, 0, 0, 0]
        assert node.wait_idle(timeout=120)
        for _ in range(200):  # the forwarder polls once a second
            if all(item.send_state == "sent" for item in node.queue.items() if item.result_files):
                break
            threading.Event().wait(0.1)
        items = {item.sop_instance_uid: item for item in node.queue.items()}
    finally:
        node.stop()
    described = {}
    for path in frontal:
        item = items[str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)]
        expected = diagnoser.predict(path)  # the same Diagnoser on the same file: the worklist says what it says
        described[item.sop_instance_uid] = expected.decision.describe()
        assert item.state == "done"
        assert item.probability == pytest.approx(expected.probability, abs=1e-6)
        assert item.decision == expected.decision.verdict.value and item.threshold == expected.threshold
        assert item.send_state == "sent"
    refused = items[str(dcmread(lateral[0], stop_before_pixels=True).SOPInstanceUID)]
    assert (refused.state, refused.decision, refused.probability) == ("done", "not diagnosed", None)
    assert "lateral" in refused.warnings.lower() and not refused.error and refused.send_state == ""  # held back
    reports = [ds for ds in archive.received if ds.SOPClassUID == COMPREHENSIVE_SR]
    captures = [ds for ds in archive.received if ds.SOPClassUID == SECONDARY_CAPTURE]
    assert len(reports) == len(captures) == 3 and len(archive.received) == 6
    studies = {str(dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in frontal}
    assert {str(sc.StudyInstanceUID) for sc in captures} == studies  # a new series in the source's study
    assert all(sc.BurnedInAnnotation == "YES" and sc.PhotometricInterpretation == "RGB" for sc in captures)
    sources = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in frontal}
    for sr in reports:
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        referenced = str(evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        assert referenced in sources
        texts = [str(item.get("TextValue", "")) for item in content_items(sr)]  # TID 1500 nests them
        assert any("Not for diagnostic use" in text for text in texts)
        assert described[referenced] in texts  # the SR states the decision the worklist shows
        assert sr.PatientID == dcmread(frontal[0], stop_before_pixels=True).PatientID  # files under its patient


def test_a_dead_destination_is_retried_then_shown_failed(diagnoser: Diagnoser, dicom_dir: Path,
                                                         tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    frontal = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1)
    node = start_node(tmp_path / "store", diagnoser, Destination("127.0.0.1", dead_port, "GONE"),
                      send_attempts=2, send_first_delay=0.05)
    try:
        assert store_files(Destination("127.0.0.1", node.server.address[1], "PNEUMOLLM"), frontal) == [0]
        assert node.wait_idle(timeout=120)
        for _ in range(300):
            [item] = node.queue.items()
            if item.send_state == "failed":
                break
            threading.Event().wait(0.1)
    finally:
        node.stop()
    assert item.state == "done" and item.send_state == "failed" and item.send_attempts == 2
    assert "GONE" in (item.send_error or "") and all(Path(path).is_file() for path in item.result_files)
