"""Reading radiographs: DICOM (pydicom + pylibjpeg/GDCM/Pillow), PNG/JPEG/TIFF, study folders.

``load_image(path) -> LoadedImage`` is the one entry point (``load_for_model``: the same at the resolution the
networks need, ``engine.io.reduced``); ``engine.io.phi`` is the only module that knows
which tags identify a patient.
"""

from engine.io.image import ImageMeta, LoadedImage, autocontrast_uint8
from engine.io.load import DICOM_SUFFIXES, RASTER_SUFFIXES, is_dicom_file, load_for_model, load_image

__all__ = ["DICOM_SUFFIXES", "RASTER_SUFFIXES", "ImageMeta", "LoadedImage", "autocontrast_uint8", "is_dicom_file",
           "load_for_model", "load_image"]
