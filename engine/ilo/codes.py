"""The ILO International Classification of Radiographs of Pneumoconioses (2022 revision) vocabulary.

The 2022 revision keeps the 2011 form's structure; the values here are the form's own. Everything that
validates, stores, exports or drafts a reading takes its words from this one module.
"""

from __future__ import annotations

QUALITY_GRADES: dict[int, str] = {
    1: "good",
    2: "acceptable, with no technical defect likely to impair classification",
    3: "acceptable, with some technical defect but still adequate for classification",
    4: "unacceptable",
}
# How the CDC/NIOSH 2.8 form marks the grades: 1, 2, 3 and U/R (unreadable / rejected) for grade 4.
QUALITY_MARKS: dict[int, str] = {1: "1", 2: "2", 3: "3", 4: "U/R"}
# The NIOSH form's boxes for a grade other than 1 ("mark all boxes that apply"); "other" is said in the comment.
QUALITY_REASONS: dict[str, str] = {
    "overexposed": "overexposed (dark)",
    "underexposed": "underexposed (light)",
    "artifacts": "artifacts",
    "improper_position": "improper position",
    "poor_contrast": "poor contrast",
    "poor_processing": "poor processing",
    "underinflation": "underinflation",
    "mottle": "mottle",
    "edge_enhancement": "excessive edge enhancement",
    "scapula_overlay": "scapula overlay",
    "other": "other (say which in the comment)",
}

# Small opacities: rounded p < 1.5 mm, q 1.5-3 mm, r 3-10 mm; irregular s, t, u of the same widths.
SHAPES: dict[str, str] = {
    "p": "rounded, up to 1.5 mm", "q": "rounded, 1.5-3 mm", "r": "rounded, 3-10 mm",
    "s": "irregular, up to 1.5 mm wide", "t": "irregular, 1.5-3 mm wide", "u": "irregular, 3-10 mm wide",
}

# The 12-point profusion scale: major category / the category seriously considered.
PROFUSION: tuple[str, ...] = ("0/-", "0/0", "0/1", "1/0", "1/1", "1/2", "2/1", "2/2", "2/3", "3/2", "3/3", "3/+")

LARGE_OPACITIES: dict[str, str] = {
    "0": "none",
    "A": "one or more large opacities, combined longest dimension over 10 mm up to 50 mm",
    "B": "one or more large opacities, combined longest dimension over 50 mm, not exceeding the right upper zone",
    "C": "one or more large opacities, combined longest dimension exceeding the right upper zone",
}

# The six lung zones (right/left x upper/middle/lower): thirds of each lung's height from apex to dome.
ZONES: tuple[str, ...] = ("right_upper", "right_middle", "right_lower", "left_upper", "left_middle", "left_lower")
ZONE_WORDS: dict[str, str] = {zone: zone.replace("_", " ") for zone in ZONES}

# Pleural plaque sites on the form; "other" includes the mediastinum.
PLAQUE_SITES: dict[str, str] = {
    "chest_wall_in_profile": "chest wall in profile",
    "chest_wall_face_on": "chest wall face on",
    "diaphragm": "diaphragm",
    "other": "other sites (including mediastinum)",
}
DIFFUSE_SITES: dict[str, str] = {
    "chest_wall_in_profile": "chest wall in profile",
    "chest_wall_face_on": "chest wall face on",
}
# Extent along the lateral chest wall (in profile and face on combined): 1 up to 1/4, 2 1/4-1/2, 3 over 1/2.
EXTENT: dict[int, str] = {0: "none", 1: "up to 1/4 of the lateral chest wall",
                          2: "1/4 to 1/2 of the lateral chest wall", 3: "over 1/2 of the lateral chest wall"}
# Width, for in-profile thickening only (minimum 3 mm to be recorded): a 3-5 mm, b 5-10 mm, c over 10 mm.
WIDTH: dict[str, str] = {"a": "3 to 5 mm", "b": "5 to 10 mm", "c": "over 10 mm"}

SYMBOLS: dict[str, str] = {
    "aa": "atherosclerotic aorta",
    "at": "significant apical pleural thickening",
    "ax": "coalescence of small opacities",
    "bu": "bulla(e)",
    "ca": "cancer of the lung or pleura",
    "cg": "calcified non-pneumoconiotic nodules",
    "cn": "calcification in small pneumoconiotic opacities",
    "co": "abnormality of cardiac size or shape",
    "cp": "cor pulmonale",
    "cv": "cavity",
    "di": "marked distortion of an intrathoracic structure",
    "ef": "pleural effusion",
    "em": "emphysema",
    "es": "eggshell calcification of hilar or mediastinal lymph nodes",
    "fr": "fractured rib(s)",
    "hi": "enlargement of non-calcified hilar or mediastinal lymph nodes",
    "ho": "honeycomb lung",
    "id": "ill-defined diaphragm border",
    "ih": "ill-defined heart border",
    "kl": "septal (Kerley) lines",
    "me": "mesothelioma",
    "od": "other disease or significant abnormality",  # ILO 2022; the comments (4C) say which
    "pa": "plate atelectasis",
    "pb": "parenchymal bands",
    "pi": "pleural thickening of an interlobar fissure",
    "px": "pneumothorax",
    "ra": "rounded atelectasis",
    "rp": "rheumatoid pneumoconiosis",
    "tb": "tuberculosis",
}


def profusion_category(profusion: str) -> int:
    """The major category (0-3) of a 12-point profusion value."""
    return int(profusion[0])
