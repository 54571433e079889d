"""Reading radiographs: DICOM (pydicom + pylibjpeg/GDCM/Pillow), PNG/JPEG/TIFF, MetaImage/NRRD/NIfTI (SimpleITK,
imported on first use), study folders.

``load_image(path) -> LoadedImage`` is the one entry point (``load_for_model``: the same at the resolution the
networks need, ``engine.io.reduced``); ``engine.io.phi`` is the only module that knows
which tags identify a patient.
"""

from engine.io.image import ImageMeta, LoadedImage, autocontrast_uint8
from engine.io.load import DICOM_SUFFIXES, RASTER_SUFFIXES, is_dicom_file, load_for_model, load_image
from engine.io.research_image import RESEARCH_SUFFIXES, is_research_file

__all__ = ["DICOM_SUFFIXES", "RASTER_SUFFIXES", "RESEARCH_SUFFIXES", "ImageMeta", "LoadedImage", "autocontrast_uint8",
           "is_dicom_file", "is_research_file", "load_for_model", "load_image"]
