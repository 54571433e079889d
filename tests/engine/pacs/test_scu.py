"""Query / retrieve against a pynetdicom Q/R SCP on 127.0.0.1 holding real radiographs: C-ECHO, C-FIND by
patient and date, C-GET and C-MOVE of a study byte-identical to the source, clear errors for bad peers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

from engine.errors import PneumoError
from engine.pacs.peer import Destination, PacsError
from engine.pacs.scu import StudyQuery, echo, find_studies, get_study, move_study
from tests.engine.pacs.peers import QueryRetrievePeer, relabelled_copies


@pytest.fixture(scope="module")
def archive(dicom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[QueryRetrievePeer, dict]]:
    folder = tmp_path_factory.mktemp("archive")
    study_a = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", folder / "a", 2, study_uid="1.2.826.0.1.3680043.8.1.1",
                                PatientID="PAT-A", StudyDate="20240105", AccessionNumber="ACC1")
    study_b = relabelled_copies(dicom_dir / "RG1_UNCR.dcm", folder / "b", 1, study_uid="1.2.826.0.1.3680043.8.1.2",
                                PatientID="PAT-B", StudyDate="20250620", AccessionNumber="ACC2")
    peer = QueryRetrievePeer(study_a + study_b, destinations={"RECEIVER": ("127.0.0.1", 0)})
    peer.start()
    yield peer, {"a": study_a, "b": study_b}
    peer.stop()


def pacs(peer: QueryRetrievePeer) -> Destination:
    return Destination("127.0.0.1", peer.port, "QRSCP")


def test_echo(archive) -> None:
    assert echo(pacs(archive[0])) == 0


def test_find_by_patient_and_by_date(archive) -> None:
    peer, _ = archive
    [study] = find_studies(pacs(peer), StudyQuery(patient_id="PAT-A"))
    assert study["study_instance_uid"] == "1.2.826.0.1.3680043.8.1.1"
    assert study["number_of_instances"] == 2 and study["modalities_in_study"] == ["CR"]
    assert study["accession_number"] == "ACC1" and study["study_date"] == "20240105"
    in_2025 = find_studies(pacs(peer), StudyQuery(date_range="20250101-20251231"))
    assert [s["patient_id"] for s in in_2025] == ["PAT-B"]
    assert len(find_studies(pacs(peer), StudyQuery(patient_id="PAT-*"))) == 2
    assert find_studies(pacs(peer), StudyQuery(patient_id="NOBODY")) == []


def test_get_study_writes_every_instance_as_held(archive, tmp_path: Path) -> None:
    peer, studies = archive
    summary = get_study(pacs(peer), "1.2.826.0.1.3680043.8.1.1", tmp_path / "out")
    assert (summary.stored, summary.completed, summary.failed, summary.status) == (2, 2, 0, 0)
    for source in studies["a"]:
        header = dcmread(source)
        copy = tmp_path / "out" / header.StudyInstanceUID / f"{header.SOPInstanceUID}.dcm"
        assert dcmread(copy).PixelData == header.PixelData  # JPEG 2000 kept as encoded
        assert dcmread(copy).file_meta.TransferSyntaxUID == header.file_meta.TransferSyntaxUID


def test_move_study_to_our_temporary_scp(archive, tmp_path: Path) -> None:
    peer, studies = archive
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    peer.destinations["RECEIVER"] = ("127.0.0.1", port)
    summary = move_study(pacs(peer), "1.2.826.0.1.3680043.8.1.2", tmp_path / "moved", move_ae="RECEIVER",
                         move_port=port)
    assert summary.stored == 1 and summary.method == "move"
    header = dcmread(studies["b"][0], stop_before_pixels=True)
    assert (tmp_path / "moved" / header.StudyInstanceUID / f"{header.SOPInstanceUID}.dcm").is_file()


def test_move_to_an_unknown_destination_says_what_to_configure(archive, tmp_path: Path) -> None:
    with pytest.raises(PacsError, match="must know our AE title"):
        move_study(pacs(archive[0]), "1.2.826.0.1.3680043.8.1.2", tmp_path / "x", move_ae="STRANGER", move_port=0)


def test_bad_input_and_absent_peers_are_one_line_errors(archive, tmp_path: Path) -> None:
    with pytest.raises(PneumoError, match="YYYYMMDD"):
        StudyQuery(date_range="last week")
    with pytest.raises(PneumoError, match="not a study instance UID"):
        get_study(pacs(archive[0]), "../../etc", tmp_path)
    with pytest.raises(PneumoError, match="HOST:PORT:AE"):
        Destination.parse("localhost:ORTHANC")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PacsError, match="did not answer"):
        echo(Destination("127.0.0.1", port, "NOBODY"), timeout=5)
