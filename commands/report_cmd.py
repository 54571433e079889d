"""``pneumollm report FILE [--reading READING.json] [--sr OUT.dcm] [--pdf OUT.pdf] [--csv OUT.csv]
[--niosh-pdf OUT.pdf] --json``.

Prints the clues, the draft sentences each with the clue(s) it rests on, the generator used and the truthfulness
check; writes the reading as a DICOM SR / PDF / CSV row when asked. Without a reading the draft holds only the
model's suggestions, marked as such, and nothing is written: only a reader's signed reading is exported. With one,
it is exported whatever the model says: when the model does not diagnose the image (an adult outside the head's
intended use, a lateral view, ...) its part says "not diagnosed" and why, and the reading is the reader's as ever.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from commands.predict_cmd import add_model_arguments, make_diagnoser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path,
                        help="a DICOM, PNG, JPEG, TIFF, MetaImage, NRRD or NIfTI frontal chest radiograph")
    parser.add_argument("--reading", type=Path, metavar="READING.json",
                        help="the reader's signed ILO reading as JSON (fields: docs/ilo.md)")
    parser.add_argument("--sr", type=Path, metavar="OUT.dcm", help="write the reading as a DICOM Comprehensive SR")
    parser.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="write the reading as a one-page PDF form")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the reading as a CSV row (docs/ilo.md)")
    parser.add_argument("--niosh-pdf", type=Path, metavar="OUT.pdf",
                        help="also write the reading on the CDC/NIOSH 2.8 form's layout (PDF)")
    parser.add_argument("--reader-id", default="", metavar="ID",
                        help="the reader's id in the programme (e.g. a B reader number), printed on the NIOSH form")
    parser.add_argument("--generator", choices=("planner", "llm"), default="planner",
                        help="who drafts the sentences (default: the planner, the more truthful in our measurement)")
    parser.add_argument("--report-text", metavar="TEXT", default="",
                        help="the reader's own signed report text to put in the SR/PDF (never the draft)")
    add_model_arguments(parser)
    parser.add_argument("--allow-flagged", action="store_true",
                        help="report on images flagged at ingest (lateral view, CT/MR/US, ...)")
    add_json_flag(parser)


def _load_reading(path: Path):
    from engine.errors import PneumoError
    from engine.ilo.form import IloReading, validate

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PneumoError("The reading file does not exist.", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PneumoError(f"The reading file is not readable JSON ({type(exc).__name__}).", path=path) from None
    return validate(IloReading.from_dict(data))


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from engine.errors import PneumoError
        from engine.ilo.clues import build_clues
        from engine.ilo.draft import draft_report, make_generator

        reading = _load_reading(args.reading) if args.reading else None
        if (args.sr or args.pdf or args.csv or args.niosh_pdf) and reading is None:
            raise PneumoError("Only a reader's signed reading is exported: give --reading READING.json with "
                              "--sr/--pdf/--csv/--niosh-pdf.")
        facts, evidence = _model_part(args, reading is not None)
        clues = build_clues(facts, evidence, reading)
        draft = draft_report(clues, make_generator(args.generator, args.llm_path))
        written: dict[str, str] = {}
        if reading is not None and args.sr:
            from engine.ilo.sr import export_reading_sr
            from engine.io import load_image

            written["sr"] = str(export_reading_sr(args.sr, load_image(args.file), reading, evidence=evidence,
                                                  report_text=args.report_text, reader_id=args.reader_id,
                                                  not_diagnosed="" if facts.diagnosed else facts.note()))
        if reading is not None and args.pdf:
            from engine.ilo.pdf import export_reading_pdf
            from engine.io.phi import hash_uid

            written["pdf"] = str(export_reading_pdf(args.pdf, reading, source=f"image {hash_uid(str(args.file))}",
                                                    report_text=args.report_text, model_note=facts.note(),
                                                    reader_id=args.reader_id))
        if reading is not None and args.niosh_pdf:
            from engine.ilo.niosh_pdf import export_niosh_pdf
            from engine.io.phi import hash_uid

            written["niosh_pdf"] = str(export_niosh_pdf(args.niosh_pdf, reading,
                                                        image_key=f"image {hash_uid(str(args.file))}",
                                                        reader_id=args.reader_id))
        if reading is not None and args.csv:
            from engine.ilo.csv_rows import write_reading_csv

            written["csv"] = str(write_reading_csv(args.csv, reading))
        payload: dict[str, Any] = {
            "ok": True, "error": None, "path": str(args.file),
            "reading": "reader" if reading is not None else "none: the model's suggestions only",
            "clues": [clue.to_json() for clue in clues],
            "zones": evidence.to_json() if evidence is not None else None,
            "model": {"diagnosed": facts.diagnosed, "note": facts.note()},
            "draft": draft.to_json(), "generator": draft.generator,
            "truthfulness": draft.to_json()["truthfulness"], "written": written,
        }
        emit(payload, args.json, _text)
        return 0

    return guarded(args.json, body, extra={"path": str(args.file)})


def _model_part(args: argparse.Namespace, have_reading: bool):
    """The model's facts and zone evidence. With a reader's reading, a model that refuses the image (outside its
    intended use, a lateral view, ...) does not stop the reading's export: its part is "not diagnosed", and why."""
    from engine.errors import SegmentationError, UnsupportedImageError
    from engine.flags import messages
    from engine.ilo.clues import ModelFacts
    from engine.ilo.zone_evidence import evidence_for_result

    diagnoser = make_diagnoser(args)
    try:
        result = diagnoser.predict(args.file, allow_flagged=args.allow_flagged)
    except UnsupportedImageError as exc:
        if not have_reading or not exc.flags:  # no reading: the refusal is the answer, as before
            raise
        return ModelFacts.refused(tuple(messages(exc.flags))), None
    if result.ilo is not None:  # an ILO head answers per zone itself (no occlusion probe of its features)
        return ModelFacts.from_result(result), None
    try:
        _zones, evidence = evidence_for_result(diagnoser, result)
    except SegmentationError:
        evidence = None  # no reliable lungs: the quality warnings say so, and no zone clue is made
    return ModelFacts.from_result(result), evidence


def _text(payload: dict[str, Any]) -> str:
    lines = [payload["draft"]["label"]]
    for sentence in payload["draft"]["sentences"]:
        mark = " [model suggestion]" if sentence["suggestion"] else ""
        lines.append(f"- {sentence['text']}{mark}  <- {', '.join(sentence['clue_ids'])}")
    truth = payload["truthfulness"]
    lines.append(f"generator {payload['generator']}: {truth['supported']}/{truth['generated']} own sentences "
                 "supported by the clues")
    lines += [f"wrote {kind}: {path}" for kind, path in payload["written"].items()]
    return "\n".join(lines)
