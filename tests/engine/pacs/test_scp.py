"""The Storage SCP receiving real radiographs from a pynetdicom SCU on 127.0.0.1: stored before success, every
storage class accepted (what is not a radiograph kept as skipped, our own results recognised), refused AEs (and
logged), duplicates, no or truncated pixel data (never replacing a good copy), a full disk, a peer that drops
mid-transfer, no PHI in the log."""

from __future__ import annotations

import errno
import hashlib
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.encaps import encapsulate, generate_frames
from pynetdicom import AE

from engine.notices import MANUFACTURER
from engine.pacs import scp as scp_module
from engine.pacs.forward import store_files
from engine.pacs.peer import Destination, PacsError, tls_client_context
from engine.pacs.queue import WorkQueue
from engine.pacs.scp import (
    CANNOT_UNDERSTAND,
    CR_IMAGE_STORAGE,
    DOES_NOT_MATCH_SOP_CLASS,
    OUT_OF_RESOURCES,
    StorageServer,
    adopt_orphans,
    instance_path,
    tls_server_context,
)
from engine.pacs.scu import echo
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom
from tests.engine.pacs.peers import relabelled_copies


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[StorageServer]:
    node = StorageServer(tmp_path / "store", WorkQueue.in_store(tmp_path / "store"), port=0, allow=["MODALITY"])
    node.start()
    yield node
    node.stop()
    node.queue.close()


def peer(server: StorageServer) -> Destination:
    return Destination("127.0.0.1", server.address[1], server.ae_title)


def test_real_radiographs_are_on_disk_and_queued_when_success_returns(server: StorageServer, dicom_dir: Path,
                                                                       tmp_path: Path) -> None:
    sources = [dicom_dir / "RG1_J2KI.dcm", dicom_dir / "RG1_UNCR.dcm"]  # JPEG 2000, explicit VR little endian
    statuses = store_files(peer(server), sources, calling_ae="MODALITY", timeout=30)
    assert statuses == [0, 0]
    items = server.queue.items("newest")
    assert {i.sop_instance_uid for i in items} == {str(dcmread(p).SOPInstanceUID) for p in sources}
    for source in sources:
        header = dcmread(source, stop_before_pixels=True)
        stored = instance_path(server.store, header.StudyInstanceUID, header.SOPInstanceUID)
        # the dataset as sent, byte for byte (only the file preamble and meta are ours)
        assert dcmread(stored).PixelData == dcmread(source).PixelData
        assert dcmread(stored).file_meta.TransferSyntaxUID == header.file_meta.TransferSyntaxUID
    assert all(i.state == "queued" and len(i.sha256) == 32 for i in items)


def test_unknown_calling_ae_is_rejected(server: StorageServer, dicom_dir: Path) -> None:
    with pytest.raises(PacsError, match="rejected the association"):
        store_files(peer(server), [dicom_dir / "RG1_J2KI.dcm"], calling_ae="INTRUDER", timeout=10)
    assert server.queue.items() == []


SC_CHEST = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"  # SC, Modality CR, chest, JPEG
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def test_a_grayscale_chest_secondary_capture_is_queued_for_diagnosis(server: StorageServer, dicom_dir: Path) -> None:
    assert store_files(peer(server), [dicom_dir / SC_CHEST], calling_ae="MODALITY") == [0]
    [item] = server.queue.items()
    assert item.state == "queued" and item.error is None


def test_every_storage_class_is_accepted_and_what_is_not_a_radiograph_is_skipped(server: StorageServer,
                                                                                 tmp_path: Path) -> None:
    """A study-level push carries SRs, screen captures and our own results: each is stored (success), listed as
    skipped with the reason, and never queued for diagnosis."""
    study = "1.2.826.0.1.3680043.8.1.555"
    report = make_dicom(tmp_path / "sr.dcm", None, sop_class=COMPREHENSIVE_SR, modality="SR", study_uid=study)
    colour = make_dicom(tmp_path / "colour.dcm", np.zeros((32, 32, 3), np.uint8), sop_class=SECONDARY_CAPTURE,
                        modality="OT", study_uid=study)
    screen = make_dicom(tmp_path / "screen.dcm", chest_like(64, 64).astype(np.uint8), sop_class=SECONDARY_CAPTURE,
                        modality="OT", study_uid=study, BitsStored=8)
    ours = make_dicom(tmp_path / "ours.dcm", chest_like(64, 64), modality="CR", study_uid=study,
                      Manufacturer=MANUFACTURER)
    ct = make_dicom(tmp_path / "ct.dcm", chest_like(64, 64), sop_class="1.2.840.10008.5.1.4.1.1.2", modality="CT",
                    study_uid=study)
    files = [report, colour, screen, ours, ct]
    assert store_files(peer(server), files, calling_ae="MODALITY") == [0] * len(files)
    items = {item.sop_instance_uid: item for item in server.queue.items()}
    reasons = {path.stem: items[str(dcmread(path).SOPInstanceUID)].error for path in files}
    assert all(item.state == "skipped" for item in items.values()) and len(items) == len(files)
    assert "structured report" in reasons["sr"] and "colour" in reasons["colour"]
    assert "does not say it is a chest radiograph" in reasons["screen"]
    assert "our own result" in reasons["ours"] and "not a chest radiograph" in reasons["ct"]
    assert all(Path(item.path).is_file() for item in items.values())  # stored: the PACS may ask for them back
    assert server.queue.claim(10) == []


def test_a_truncated_instance_is_refused_and_the_good_copy_kept(server: StorageServer, dicom_dir: Path,
                                                               tmp_path: Path, caplog) -> None:
    """A truncated file of an instance already held (pydicom reads the cut pixel data without a word): C000, the
    stored copy and its row stay as they were."""
    [good] = relabelled_copies(dicom_dir / "RG1_UNCR.dcm", tmp_path / "good", 1)
    assert store_files(peer(server), [good], calling_ae="MODALITY") == [0]
    [before] = server.queue.items()
    stored = Path(before.path).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) * 2 // 3])
    with caplog.at_level(logging.WARNING, logger="engine.pacs"):
        assert store_files(peer(server), [cut], calling_ae="MODALITY") == [CANNOT_UNDERSTAND]
    assert "pixel data is incomplete" in caplog.text
    assert server.queue.items() == [before] and Path(before.path).read_bytes() == stored


def test_a_cut_compressed_codestream_is_refused(server: StorageServer, dicom_dir: Path, tmp_path: Path) -> None:
    """Encapsulated pixel data whose frame lost its end (no end-of-codestream marker): C000, nothing stored."""
    ds = dcmread(dicom_dir / "RG1_J2KI.dcm")
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 2]])
    ds.save_as(tmp_path / "cut_j2k.dcm", enforce_file_format=True)
    assert store_files(peer(server), [tmp_path / "cut_j2k.dcm"], calling_ae="MODALITY") == [CANNOT_UNDERSTAND]
    assert server.queue.items() == [] and not list(server.store.rglob("*.dcm"))


def test_a_refused_association_is_logged_without_patient_data(server: StorageServer, dicom_dir: Path,
                                                              caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.pacs"), pytest.raises(PacsError):
        store_files(peer(server), [dicom_dir / "RG1_J2KI.dcm"], calling_ae="INTRUDER", timeout=10)
    assert "refused an association from AE 'INTRUDER'" in caplog.text and "--allow" in caplog.text
    assert str(dcmread(dicom_dir / "RG1_J2KI.dcm", stop_before_pixels=True).PatientID) not in caplog.text


def test_duplicate_sop_instance(server: StorageServer, dicom_dir: Path, tmp_path: Path) -> None:
    """The same instance again is acknowledged without a second row; other content under the same UID (RG1_UNCI
    is RG1_J2KI's instance, uncompressed) replaces it and is diagnosed again."""
    assert store_files(peer(server), [dicom_dir / "RG1_J2KI.dcm"] * 2, calling_ae="MODALITY") == [0, 0]
    assert len(server.queue.items()) == 1
    [item] = server.queue.claim()
    assert store_files(peer(server), [dicom_dir / "RG1_UNCI.dcm"], calling_ae="MODALITY") == [0]
    [again] = server.queue.items()
    assert again.state == "queued" and again.id != item.id and again.sha256 != item.sha256
    assert dcmread(again.path).PixelData == dcmread(dicom_dir / "RG1_UNCI.dcm").PixelData


def test_no_pixel_data_is_refused_with_a_status(server: StorageServer, tmp_path: Path, caplog) -> None:
    empty = make_dicom(tmp_path / "empty.dcm", None, sop_class=CR_IMAGE_STORAGE)
    with caplog.at_level(logging.INFO):  # our lines and pynetdicom's
        assert store_files(peer(server), [empty], calling_ae="MODALITY") == [DOES_NOT_MATCH_SOP_CLASS]
    assert server.queue.items() == []
    assert "without pixel data" in caplog.text
    assert not any(value in caplog.text for value in PHI_VALUES.values())
    assert str(dcmread(empty).SOPInstanceUID) not in caplog.text  # UIDs are hashed in log lines


def test_full_disk_answers_out_of_resources_and_keeps_nothing(server: StorageServer, dicom_dir: Path,
                                                              monkeypatch, caplog) -> None:
    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(scp_module, "write_atomic", disk_full)
    with caplog.at_level(logging.ERROR, logger="engine.pacs"):
        assert store_files(peer(server), [dicom_dir / "RG1_J2KI.dcm"], calling_ae="MODALITY") == [OUT_OF_RESOURCES]
    assert server.queue.items() == [] and "disk full" in caplog.text


def test_peer_dropping_mid_transfer_leaves_nothing_half_stored(server: StorageServer, dicom_dir: Path) -> None:
    """An SCU sends part of a large dataset's PDVs, then its socket is closed: nothing acknowledged, nothing kept,
    and the SCP still serves the next peer."""
    ae = AE(ae_title="MODALITY")
    ae.dimse_timeout = ae.network_timeout = 5
    ae.add_requested_context(CR_IMAGE_STORAGE, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", server.address[1], ae_title=server.ae_title)
    assert assoc.is_established
    original = assoc.dul.socket.send

    def send_then_drop(data: bytes) -> None:
        if len(data) > 100_000:  # the 7 MB dataset's PDU: half of it goes out, then the connection drops
            original(data[: len(data) // 2])
            assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
            return
        original(data)

    assoc.dul.socket.send = send_then_drop
    status = assoc.send_c_store(str(dicom_dir / "RG1_UNCR.dcm"))
    assert "Status" not in status  # no answer: the transfer never completed
    assoc.abort()
    assert server.queue.items() == []
    assert not list((server.store / "studies").glob("*/*.dcm"))
    assert store_files(peer(server), [dicom_dir / "RG1_J2KI.dcm"], calling_ae="MODALITY") == [0]


def test_an_instance_on_disk_but_not_queued_is_adopted_at_start(dicom_dir: Path, tmp_path: Path) -> None:
    """A kill between the rename and the queue commit: the peer saw no success, the file is whole; a restart
    queues it (once)."""
    [copy] = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "copies", 1)
    header = dcmread(copy, stop_before_pixels=True)
    target = instance_path(tmp_path / "store", header.StudyInstanceUID, header.SOPInstanceUID)
    target.parent.mkdir(parents=True)
    target.write_bytes(copy.read_bytes())
    queue = WorkQueue.in_store(tmp_path / "store")
    assert adopt_orphans(tmp_path / "store", queue) == 1
    assert adopt_orphans(tmp_path / "store", queue) == 0
    [item] = queue.items()
    assert item.sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()[:32]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_dicom_tls(dicom_dir: Path, tmp_path: Path) -> None:
    """With a server certificate the SCP speaks TLS only: a pynetdicom TLS peer and our own SCU store, a
    plain-TCP peer gets nowhere."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    node = StorageServer(tmp_path / "store", WorkQueue.in_store(tmp_path / "store"), port=0,
                         ssl_context=tls_server_context(cert, key))
    node.start()
    try:
        ae = AE(ae_title="MODALITY")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_requested_context(CR_IMAGE_STORAGE, "1.2.840.10008.1.2.4.91")
        client = ssl.create_default_context(cafile=str(cert))
        assoc = ae.associate("127.0.0.1", node.address[1], ae_title="PNEUMOLLM", tls_args=(client, "localhost"))
        assert assoc.is_established
        assert assoc.send_c_store(str(dicom_dir / "RG1_J2KI.dcm")).Status == 0
        assoc.release()
        secure = peer(node).with_tls(tls_client_context(cert))  # our own SCU, as forward and pacs use it
        assert echo(secure) == 0
        [copy] = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "copy", 1)
        assert store_files(secure, [copy], calling_ae="MODALITY", timeout=10) == [0]
        with pytest.raises(PacsError):
            store_files(peer(node), [dicom_dir / "RG1_J2KI.dcm"], calling_ae="MODALITY", timeout=5)
        assert len(node.queue.items()) == 2
    finally:
        node.stop()
        node.queue.close()


def test_a_malformed_study_uid_is_refused_and_names_no_path(server: StorageServer, tmp_path: Path) -> None:
    hostile = make_dicom(tmp_path / "hostile.dcm", chest_like(64, 64), study_uid="../../outside")
    assert store_files(peer(server), [hostile], calling_ae="MODALITY") == [CANNOT_UNDERSTAND]
    assert server.queue.items() == [] and not (tmp_path / "outside").exists()
    assert not list(server.store.rglob("*.dcm"))
