"""The whole node on 127.0.0.1: real radiographs in over C-STORE, triaged by the Diagnoser as they arrive, the
result objects (SR, SC, presentation state, SEG) sent back to a pynetdicom peer, a not-diagnosed SR for a case
outside the intended use; a dead destination stays visible as a failed send and is retried when the node starts
again; the node's log hashes UIDs with its own key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
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
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"


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
        for sop_class in (COMPREHENSIVE_SR, SECONDARY_CAPTURE, GSPS, SEGMENTATION):
            self.ae.add_supported_context(sop_class)
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
                      result_kinds=("sr", "sc", "pr", "seg"))
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
    lateral_uid = str(dcmread(lateral[0], stop_before_pixels=True).SOPInstanceUID)
    refused = items[lateral_uid]
    assert (refused.state, refused.decision, refused.probability) == ("done", "not diagnosed", None)
    assert "lateral" in refused.warnings.lower() and not refused.error and refused.send_state == "sent"
    assert [Path(path).name for path in refused.result_files] == [f"{lateral_uid}.sr.dcm"]  # the SR alone
    reports = [ds for ds in archive.received if ds.SOPClassUID == COMPREHENSIVE_SR]
    captures = [ds for ds in archive.received if ds.SOPClassUID == SECONDARY_CAPTURE]
    states = [ds for ds in archive.received if ds.SOPClassUID == GSPS]
    segmentations = [ds for ds in archive.received if ds.SOPClassUID == SEGMENTATION]
    assert len(reports) == 4 and len(captures) == len(states) == len(segmentations) == 3
    assert len(archive.received) == 13
    [not_diagnosed] = [sr for sr in reports if _referenced(sr) == lateral_uid]
    texts = [str(item.get("TextValue", "")) for item in content_items(not_diagnosed)]
    assert "not diagnosed" in texts and any("lateral view" in text for text in texts)
    numbers = [item for item in content_items(not_diagnosed) if item.ValueType == "NUM"]
    assert not [item for item in numbers  # no score, no threshold (the image library's sizes are numbers too)
                if item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "{probability}"]
    reports.remove(not_diagnosed)
    studies = {str(dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in frontal}
    assert {str(sc.StudyInstanceUID) for sc in captures} == studies  # a new series in the source's study
    assert all(sc.BurnedInAnnotation == "YES" and sc.PhotometricInterpretation == "RGB" for sc in captures)
    sources = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in frontal}
    for sr in reports:
        referenced = _referenced(sr)
        assert referenced in sources
        texts = [str(item.get("TextValue", "")) for item in content_items(sr)]  # TID 1500 nests them
        assert any("Not for diagnostic use" in text for text in texts)
        assert described[referenced] in texts  # the SR states the decision the worklist shows
        assert sr.PatientID == dcmread(frontal[0], stop_before_pixels=True).PatientID  # files under its patient


def _referenced(sr: Dataset) -> str:
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    return str(evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)


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


def test_a_failed_send_is_retried_when_the_node_starts_again(diagnoser: Diagnoser, archive: ResultsPeer,
                                                             dicom_dir: Path, tmp_path: Path) -> None:
    """The destination was down until the sends gave up; the next start sends them (the SR and the presentation
    state, the default) without diagnosing again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    frontal = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1)
    node = start_node(tmp_path / "store", diagnoser, Destination("127.0.0.1", dead_port, "ARCHIVE"),
                      send_attempts=1)
    try:
        assert store_files(Destination("127.0.0.1", node.server.address[1], "PNEUMOLLM"), frontal) == [0]
        assert node.wait_idle(timeout=120)
        [item] = _wait_send(node, "failed")
    finally:
        node.stop()
    node = start_node(tmp_path / "store", diagnoser, Destination("127.0.0.1", archive.port, "ARCHIVE"))
    try:
        [again] = _wait_send(node, "sent")
    finally:
        node.stop()
    assert again.id == item.id and again.finished_at == item.finished_at  # sent, not diagnosed again
    assert sorted(str(ds.SOPClassUID) for ds in archive.received) == sorted([GSPS, COMPREHENSIVE_SR])


def _wait_send(node: PacsNode, state: str) -> list:
    for _ in range(300):
        items = node.queue.items()
        if items and all(item.send_state == state for item in items):
            return items
        threading.Event().wait(0.1)
    return node.queue.items()


def test_the_node_log_hashes_uids_with_its_own_key(diagnoser: Diagnoser, dicom_dir: Path, tmp_path: Path,
                                                   caplog) -> None:
    [source] = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1)
    sop = str(dcmread(source, stop_before_pixels=True).SOPInstanceUID)
    with caplog.at_level(logging.DEBUG, logger="engine"):
        node = start_node(tmp_path / "store", diagnoser, None)
        try:
            assert store_files(Destination("127.0.0.1", node.server.address[1], "PNEUMOLLM"), [source]) == [0]
            assert node.wait_idle(timeout=120)
        finally:
            node.stop()
    key_file = tmp_path / "store" / "node.key"
    key = key_file.read_bytes()
    assert len(key) == 32 and (os.name == "nt" or key_file.stat().st_mode & 0o077 == 0)
    keyed = hmac.new(key, sop.encode(), hashlib.sha256).hexdigest()[:16]
    assert f"stored instance {keyed}" in caplog.text
    assert sop not in caplog.text and hashlib.sha256(sop.encode()).hexdigest()[:16] not in caplog.text
    assert key.hex() not in caplog.text and not re.search(key.hex()[:16], caplog.text)
    node = start_node(tmp_path / "store", diagnoser, None)  # the same key next time: log lines stay comparable
    node.stop()
    assert key_file.read_bytes() == key


def test_a_grayscale_chest_secondary_capture_is_diagnosed(diagnoser: Diagnoser, dicom_dir: Path,
                                                          tmp_path: Path) -> None:
    """Issue 26: the SC of a chest film (Modality CR, Body Part CHEST, MONOCHROME2) was refused at association;
    it is diagnosed like the CR it came from, as ``pneumollm predict`` diagnoses it."""
    source = dicom_dir / "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
    node = start_node(tmp_path / "store", diagnoser, None)
    try:
        assert store_files(Destination("127.0.0.1", node.server.address[1], "PNEUMOLLM"), [source]) == [0]
        assert node.wait_idle(timeout=120)
        [item] = node.queue.items()
    finally:
        node.stop()
    expected = diagnoser.predict(source)
    assert item.state == "done" and item.decision == expected.decision.verdict.value
    assert item.probability == pytest.approx(expected.probability, abs=1e-6)


def test_a_result_object_that_cannot_be_made_does_not_hold_back_the_others(diagnoser: Diagnoser,
                                                                           archive: ResultsPeer, dicom_dir: Path,
                                                                           tmp_path: Path, monkeypatch) -> None:
    import engine.export
    from engine.errors import PneumoError

    def no_lungs(*args: Any, **kwargs: Any) -> Path:
        raise PneumoError("No lungs to draw.")

    monkeypatch.setattr(engine.export, "export_presentation_state", no_lungs)
    frontal = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1)
    node = start_node(tmp_path / "store", diagnoser, Destination("127.0.0.1", archive.port, "ARCHIVE"))
    try:
        assert store_files(Destination("127.0.0.1", node.server.address[1], "PNEUMOLLM"), frontal) == [0]
        assert node.wait_idle(timeout=120)
        [item] = _wait_send(node, "sent")
    finally:
        node.stop()
    assert [str(ds.SOPClassUID) for ds in archive.received] == [COMPREHENSIVE_SR]  # the SR went without the PR
