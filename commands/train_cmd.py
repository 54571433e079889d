"""``pneumollm train DATA --out DIR [--profile embedded|full] [--epochs N] [--folds 5] [--resume]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded
from engine.model.config import DEVICE_CHOICES
from engine.model.registry import profile_names

CPU_DEFAULT_EPOCHS = 10


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="embedded", choices=profile_names())
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (the paper uses 100; default here: 100 on a GPU, "
                             f"{CPU_DEFAULT_EPOCHS} on a CPU)")
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
        epochs = 100 if on_gpu else CPU_DEFAULT_EPOCHS
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
    add_training_arguments(parser)
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from training.config import CVConfig
        from training.cross_validation import run_training
        from training.progress_bar import TqdmCallback

        config = finetune_config(args)
        if args.epochs is None:
            import sys

            sys.stderr.write(f"pneumollm: training {config.epochs} epochs (the paper's 100 are meant for a GPU; "
                             "pass --epochs to choose)\n")
        with TqdmCallback(enabled=not args.json) as callback:
            report = run_training(args.data, args.out, config, CVConfig(folds=args.folds, seed=args.seed),
                                  resume=args.resume, callback=callback)
        emit(report, args.json, _text)
        return 0

    return guarded(args.json, body)


def _text(report: dict[str, Any]) -> str:
    lines = [f"model saved to {report['model']} ({report['variant']}, {report['epochs']} epochs)",
             f"data: {report['data']['per_class']} images, {report['data']['patients']} patients "
             f"(patient ids: {report['data']['patient_id_source']}), {len(report['skipped'])} skipped"]
    cv = report.get("cross_validation")
    if cv:
        summary = cv["summary"]
        lines.append(f"{len(cv['folds'])}-fold cross-validation (mean ± std): " + ", ".join(
            f"{name} {summary[name]['mean']:.2f} ± {summary[name]['std']:.2f}"
            for name in ("sensitivity", "specificity", "accuracy", "auc", "avg")))
    return "\n".join(lines)
