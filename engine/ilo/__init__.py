"""The ILO International Classification of Radiographs of Pneumoconioses (2022): the reading form, where
readings are kept, and what is made of them (DICOM SR, PDF, CSV rows, the clue-grounded draft).

No Qt here; the viewer's form widget (``viewer/ilo_form.py``) edits an ``IloReading``.
"""

from engine.ilo.form import IloFormError, IloReading, Sides, problems, validate

__all__ = ["IloFormError", "IloReading", "Sides", "problems", "validate"]
