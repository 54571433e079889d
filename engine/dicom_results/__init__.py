"""The result as DICOM objects a PACS viewer can show (IHE AI Results): a TID 1500 Measurement Report, a Grayscale
Softcopy Presentation State over the radiograph and a binary Segmentation of the lungs (``docs/dicom_conformance.md``).

Each module builds one object from the source's header (``engine.io.dicom_write.reference_dataset``) and a
``DiagnosisResult``; ``engine.export`` writes them. Nothing here reads pixels, so the PACS node can send them all.
"""
