"""The PHI gate: which tags are hidden, hashing, and the tag browser rows."""

from __future__ import annotations

from pathlib import Path

import pydicom

from engine.io.phi import hash_uid, safe_summary, tag_rows
from tests.dicom_factory import PHI_VALUES, chest_like, make_dicom


def test_tag_rows_mark_phi(tmp_path: Path) -> None:
    ds = pydicom.dcmread(make_dicom(tmp_path / "a.dcm", chest_like(), ViewPosition="PA"))
    rows = {row.keyword: row for row in tag_rows(ds)}
    for keyword in PHI_VALUES:
        assert rows[keyword].is_phi, keyword
    assert not rows["ViewPosition"].is_phi
    assert rows["PixelData"].value.startswith("<")


def test_safe_summary_has_no_phi(tmp_path: Path) -> None:
    ds = pydicom.dcmread(make_dicom(tmp_path / "a.dcm", chest_like(), ViewPosition="PA"))
    text = repr(safe_summary(ds))
    assert "PA" in text
    assert not any(value in text for value in PHI_VALUES.values())


def test_hash_uid_is_stable_and_opaque() -> None:
    assert hash_uid("1.2.3") == hash_uid("1.2.3") != hash_uid("1.2.4")
    assert len(hash_uid("1.2.3") or "") == len(hash_uid("9" * 64) or "") == 16  # fixed length, whatever the input
    assert hash_uid(None) is None


def test_hash_uid_is_keyed_by_the_installation_key(tmp_path: Path, monkeypatch) -> None:
    """Issue 26: an unsalted SHA-256 of a UID is reversed by hashing the archive's UID list; the hash is an HMAC
    keyed by this installation's secret (the de-identification's ``deid.key``), or by the key given."""
    import hashlib
    import hmac

    from engine.io.keys import installation_key

    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path / "one"))
    uid = "1.2.826.0.1.3680043.8.1.77"
    key = installation_key(tmp_path / "one")
    assert hash_uid(uid) == hmac.new(key, uid.encode(), hashlib.sha256).hexdigest()[:16]
    assert hash_uid(uid) != hashlib.sha256(uid.encode()).hexdigest()[:16]  # the old, reversible form
    monkeypatch.setenv("PNEUMOLLM_DATA", str(tmp_path / "two"))  # another installation: another key
    assert hash_uid(uid) != hmac.new(key, uid.encode(), hashlib.sha256).hexdigest()[:16]
    assert hash_uid(uid, b"k" * 32) == hmac.new(b"k" * 32, uid.encode(), hashlib.sha256).hexdigest()[:16]
