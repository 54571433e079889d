"""``pneumollm train DATA --out DIR [--profile embedded|full] [--epochs N] [--folds 5] [--resume]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.model.config import DEVICE_CHOICES
from engine.model.registry import profile_names
from training.config import CPU_EPOCHS, PAPER_EPOCHS


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="embedded", choices=profile_names())
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (the paper uses {PAPER_EPOCHS}; default here: {PAPER_EPOCHS} on a GPU, "
                             f"{CPU_EPOCHS} on a CPU)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0 = off)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--vision-weights", help="local CLIP ViT-L/14 checkpoint (full profile)")
    parser.add_argument("--llm-path", help="local LLaMA folder (full profile)")
    ablations = parser.add_argument_group("ablations (the paper's section 4.4)")
    ablations.add_argument("--without-llm", action="store_true", help="vision + head only (the paper's w/o LLaMA)")
    ablations.add_argument("--without-engine", action="store_true", help="no contextual multi-token engine")
    ablations.add_argument("--without-emitter", action="store_true", help="causal mask instead of the emitter")
    ablations.add_argument("--without-adapters", action="store_true", help="no adapters in encoder or LLM")
    ablations.add_argument("--baseline", action="store_true", help="plain EfficientNet-Lite0 fine-tuned, linear head")


def finetune_config(args: argparse.Namespace):
    import torch

    from training.config import FinetuneConfig

    epochs = args.epochs
    if epochs is None:
        on_gpu = args.device != "cpu" and torch.cuda.is_available()
        epochs = PAPER_EPOCHS if on_gpu else CPU_EPOCHS
    return FinetuneConfig(profile=args.profile, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed, patience=args.patience, device=args.device,
                          vision_weights=args.vision_weights, llm_path=args.llm_path,
                          use_llm=not args.without_llm, use_token_engine=not args.without_engine,
                          use_emitter_mask=not args.without_emitter, use_adapters=not args.without_adapters,
                          baseline=args.baseline)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path,
                        help="a folder with one sub-folder per class, or a CSV path,label[,patient_id]")
    parser.add_argument("--out", type=Path, required=True, help="run folder (the trained head goes to OUT/model)")
    parser.add_argument("--folds", type=int, default=5, help="patient-level CV folds (1 = one validation split)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    ilo = parser.add_argument_group("ILO-graded data (a CSV with path,grade,zones[,shape][,patient_id])")
    ilo.add_argument("--ilo-view", choices=("zones", "whole"), default="zones",
                     help="the ILO heads' input: the six zones at zone resolution, or the paper's 224 lung crop")
    ilo.add_argument("--holdout", type=float, default=0.0, metavar="F",
                     help="keep this share of the patients out of the head's training (evaluate scores only them)")
    add_training_arguments(parser)
    parallel = parser.add_argument_group("data-parallel training (several GPUs)")
    parallel.add_argument("--launcher", choices=("none", "accelerate"), default="none",
                          help="'accelerate': one process per GPU through Hugging Face accelerate (DDP)")
    parallel.add_argument("--num-processes", type=int, metavar="N",
                          help="processes under --launcher accelerate (default: the number of GPUs, else 1)")
    parallel.add_argument("--grad-accum", type=int, default=1, metavar="K",
                          help="under --launcher accelerate: step the optimizer every K batches")
    add_json_flag(parser)


LAUNCHER_FLAGS = {"--launcher": True, "--num-processes": True, "--grad-accum": True}


def without_launcher_flags(argv: list[str]) -> list[str]:
    """This command's arguments minus the launcher's own (the launched processes must not launch again)."""
    kept, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in LAUNCHER_FLAGS:
            skip = "=" not in token
            continue
        kept.append(token)
    return kept


def _launch(args: argparse.Namespace) -> int:
    import subprocess

    import torch

    from engine.errors import PneumoError
    from training.distributed import launch

    gpus = torch.cuda.device_count() if args.device != "cpu" else 0
    processes = args.num_processes or max(1, gpus)
    if processes < 1 or args.grad_accum < 1:
        raise PneumoError("--num-processes and --grad-accum must be at least 1.")
    cpu = gpus == 0
    precision = "no" if cpu else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    command, env = launch(without_launcher_flags(args._argv), processes, cpu=cpu, mixed_precision=precision,
                          accumulation=args.grad_accum)
    # the launched processes print the result (the main one only); their exit code is this command's
    return subprocess.run(command, env=env, check=False).returncode


def run(args: argparse.Namespace) -> int:
    from training.distributed import launched

    if args.launcher == "accelerate" and not launched():
        return guarded(args.json, lambda: _launch(args))

    def body() -> int:
        if _is_ilo_csv(args.data):
            return _train_ilo(args)
        from training.config import CVConfig
        from training.cross_validation import run_training
        from training.progress_bar import TqdmCallback

        config = finetune_config(args)
        if args.epochs is None:
            import sys

            sys.stderr.write(f"pneumollm: training {config.epochs} epochs (the paper's {PAPER_EPOCHS} are meant for a "
                             "GPU; pass --epochs to choose)\n")
        from training.distributed import is_main_process

        main = is_main_process()
        with TqdmCallback(enabled=not args.json and main) as callback:
            report = run_training(args.data, args.out, config, CVConfig(folds=args.folds, seed=args.seed),
                                  resume=args.resume, callback=callback)
        if main:  # under a launcher every rank returns the same report; one prints it
            emit(report, args.json, _text)
        return 0

    return guarded(args.json, body)


def _text(report: dict[str, Any]) -> str:
    lines = [f"model saved to {report['model']} ({report['variant']}, {report['epochs']} epochs)",
             f"data: {report['data']['per_class']} images, {report['data']['patients']} patients "
             f"(patient ids: {report['data']['patient_id_source']}), {len(report['skipped'])} skipped"]
    cv = report.get("cross_validation")
    if cv:
        lines.append(_folds_line(cv, "cross-validation", ("sensitivity", "specificity", "accuracy", "auc", "avg"), 2))
    return "\n".join(lines)


def _folds_line(cv: dict[str, Any], what: str, names: tuple[str, ...], digits: int) -> str:
    """One line of a cross-validation summary: each metric's mean ± std over the folds."""
    summary = cv["summary"]
    return f"{len(cv['folds'])}-fold {what} (mean ± std): " + ", ".join(
        f"{name} {summary[name]['mean']:.{digits}f} ± {summary[name]['std']:.{digits}f}" for name in names)


def _is_ilo_csv(path: Path) -> bool:
    import csv

    from training.ilo_labels import has_ilo_columns

    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    with open(path, newline="") as handle:
        return has_ilo_columns(next(csv.reader(handle), []))


def _train_ilo(args: argparse.Namespace) -> int:
    """ILO-graded films: the ILO heads on cached frozen-encoder features (training.ilo_head)."""
    import sys
    from dataclasses import replace

    from training.ilo_head import run_ilo_training
    from training.ilo_train import IloTrainConfig

    config = IloTrainConfig(view=args.ilo_view, seed=args.seed, use_llm=not args.without_llm,
                            use_token_engine=not args.without_engine, use_emitter_mask=not args.without_emitter,
                            use_adapters=not args.without_adapters)
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    if config.use_llm and args.device != "cuda":
        sys.stderr.write("pneumollm: the ILO heads with the frozen LLM take minutes per batch on a CPU; "
                         "--without-llm trains them in about a minute\n")
    progress = None if args.json else (lambda line: sys.stderr.write(f"pneumollm: {line}\n"))
    report = run_ilo_training(args.data, args.out, config, folds=args.folds, holdout=args.holdout, callback=progress)
    emit(report, args.json, _ilo_text)
    return 0


def _ilo_text(report: dict[str, Any]) -> str:
    lines = [f"ILO head saved to {report['model']} ({report['variant']}, {report['epochs']} epochs; "
             f"{report['held_out_films']} films held out)"]
    cv = report.get("cross_validation")
    if cv:
        lines.append(_folds_line(cv, "patient-level cross-validation",
                                 ("auc", "kappa_category", "kappa_grade", "zone_auc"), 3))
    return "\n".join(lines)
