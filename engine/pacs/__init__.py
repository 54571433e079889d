"""DICOM networking: receive studies from a PACS or modality, triage them as they arrive, send results back,
query and retrieve.

``scp`` (Storage SCP: every instance on disk before success is returned) -> ``queue`` (SQLite, WAL: one row per
instance, survives ``kill -9``) -> ``worker`` (drains the queue with the ``Diagnoser``) -> ``forward`` (the DICOM
SR back to a configured AE, with retries). ``scu`` holds C-ECHO / C-FIND / C-GET / C-MOVE towards a PACS.
No Qt here; the viewer and the CLI drive these.
"""
