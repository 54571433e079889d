"""The fine-tune wizard end to end on a tiny profile: data check, measured estimate, training, CV table,
install and roll back; a cancelled run and unusable data never reach the model store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QWizard

import tests.training.conftest as training_fixtures  # registers the "tiny-test" profile
from engine.errors import ModelLoadError, TrainingError
from engine.model.checkpoint import META_NAME
from engine.model.head_card import load_head_card
from engine.model.store import ModelStore
from engine.segment import LungSegmenter
from tests.head_factory import make_tiny_head
from tests.viewer.helpers import isolate_user_folders, save_screenshot
from training.config import FinetuneConfig
from training.data import load_labelled
from training.estimate import StepTiming, estimate_seconds, extrapolate
from viewer.finetune import FinetuneWizard
from viewer.finetune.evaluate_page import evaluate_installed

TINY_PROFILE = "tiny-test"


def tiny_config(profile: str, epochs: int) -> FinetuneConfig:
    return FinetuneConfig(profile=profile, epochs=epochs, batch_size=8, warmup_epochs=1, val_fraction=0.25, seed=3)


@pytest.fixture(autouse=True)
def _private_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_folders(monkeypatch, tmp_path)


def make_head(folder: Path, classes: tuple[str, ...] = ("abnormal", "normal")) -> Path:
    """A tiny random head whose classes match the synthetic set's (sorted folder names)."""
    head = make_tiny_head(folder, with_map=False)
    card = json.loads((head / META_NAME).read_text())
    card["labels"], card["positive_index"] = list(classes), classes.index("abnormal")
    (head / META_NAME).write_text(json.dumps(card))
    return head


def make_wizard(qtbot, tmp_path: Path, segmenter: LungSegmenter, store: ModelStore) -> FinetuneWizard:
    wizard = FinetuneWizard(store=store, segmenter=segmenter, profiles=(TINY_PROFILE,), config_factory=tiny_config,
                            output_root=tmp_path / "runs", default_epochs=2, default_folds=2, measure_batches=1)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def next_enabled(wizard: FinetuneWizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def choose_data(qtbot, wizard: FinetuneWizard, source: Path) -> None:
    wizard.data_page.set_source(source)
    assert wizard.data_page.is_checking and not next_enabled(wizard)
    qtbot.waitUntil(lambda: not wizard.data_page.is_checking, timeout=60_000)


def test_estimate_is_measured_and_scales() -> None:
    config = tiny_config(TINY_PROFILE, 2)
    assert estimate_seconds(config, 24, 2, batches=1, crops=np.zeros((3, 224, 224), np.uint8)) > 0
    timing = StepTiming(step_s=2.0, eval_s_per_image=0.1, batch_size=8, device="CPU", setup_s=5.0, save_s=0.5)
    one = extrapolate(timing, config, 100, 1)  # 75 train + 25 validation images, 2 epochs
    assert one == pytest.approx(5 + 2 * (10 * 2.0 + 25 * 0.1 + 0.5) + (25 + 100) * 0.1)
    assert extrapolate(timing, config, 100, 5) > 4 * one  # five folds + the final model
    two_more_epochs = extrapolate(timing, tiny_config(TINY_PROFILE, 4), 100, 1) - one
    assert two_more_epochs == pytest.approx(2 * (10 * 2.0 + 25 * 0.1 + 0.5))


def test_whole_wizard_trains_evaluates_installs_and_rolls_back(qtbot, tmp_path: Path,
                                                               segmenter: LungSegmenter) -> None:
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=12)
    (data / "normal" / "broken.png").write_bytes(b"not a png at all")
    store = ModelStore(root=tmp_path / "models")
    original = store.install(make_head(tmp_path / "old-head"))
    pointer_before = store.pointer.read_bytes()
    wizard = make_wizard(qtbot, tmp_path, segmenter, store)
    changes: list[object] = []
    wizard.head_changed.connect(changes.append)

    # 1. data: counts per class, the unreadable file listed, Next enabled once usable
    assert not next_enabled(wizard)
    choose_data(qtbot, wizard, data)
    check = wizard.state.check
    assert check is not None and check.dataset.counts() == {"abnormal": 12, "normal": 12}
    assert [p.name for p, _ in check.unreadable] == ["broken.png"]
    assert wizard.data_page.problems.count() == 1 and "broken.png" in wizard.data_page.problems.item(0).text()
    assert wizard.data_page.counts.rowCount() == 2
    assert next_enabled(wizard)
    save_screenshot(wizard, tmp_path / "finetune_wizard_data.png")

    # 2. settings: a measured estimate
    wizard.next()
    page = wizard.settings_page
    assert page.fold_count() == 2 and page.epochs.value() == 2
    qtbot.waitUntil(lambda: "measured on this machine" in page.estimate_label.text(), timeout=120_000)
    assert "About" in page.estimate_label.text() and page.estimate_seconds() > 0
    page.folds.setValue(20)  # 12 patients per class cannot give 20 folds
    assert not next_enabled(wizard) and "patients" in page.verdict.text()
    page.folds.setValue(2)
    assert next_enabled(wizard)
    page.operating_point.setCurrentIndex(page.operating_point.findData("sensitivity:0.95"))
    assert page.config().operating_point == "sensitivity:0.95"
    save_screenshot(wizard, tmp_path / "finetune_wizard_settings.png")

    # 3. train: live curves, then the report
    wizard.next()
    train = wizard.train_page
    assert not next_enabled(wizard)
    assert train.start_training() is not None
    qtbot.waitUntil(lambda: not train.is_running, timeout=240_000)
    report = wizard.state.report
    assert report is not None, train.status.text()
    assert train.canvas.loss and train.canvas.auc  # both curves received points
    assert store.pointer.read_bytes() == pointer_before  # training alone never installs
    assert next_enabled(wizard) and "finished" in train.status.text()
    save_screenshot(wizard, tmp_path / "finetune_wizard_train.png")

    # 4. evaluate: the CV table, next to the installed head on the same data
    wizard.next()
    evaluate = wizard.evaluate_page
    qtbot.waitUntil(lambda: not evaluate.is_evaluating, timeout=120_000)
    assert evaluate.installed_result is not None, evaluate.comparison.text()
    assert evaluate.table.rowCount() == 4  # two folds + mean ± std + the installed head
    assert evaluate.table.verticalHeaderItem(2).text() == "Mean ± std (24 images in 2 folds)"
    assert evaluate.table.verticalHeaderItem(3).text().startswith("Installed head")
    assert all(evaluate.table.item(row, col).text() for row in (0, 1, 3) for col in range(6))
    assert "±" in evaluate.table.item(2, 3).text()
    assert "threshold" in evaluate.threshold_label.text()
    assert "Too few images" in evaluate.caution.text()  # 12 test images per fold
    evaluate.roc.draw()
    save_screenshot(wizard, tmp_path / "finetune_wizard_evaluate.png")

    # 5. install, then roll back
    wizard.next()
    install = wizard.install_page
    assert install.install_button.isEnabled()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        install.install()
    active = ModelStore(root=tmp_path / "models").active()  # a fresh look at the store on disk
    assert active is not None and active != original
    assert load_head_card(active).model_id == load_head_card(Path(report["model"])).model_id
    assert "sensitivity" in load_head_card(active).threshold_source  # the operating point chosen on page 2
    assert store.previous() == original
    assert not install.install_button.isEnabled()  # one install per trained head
    assert load_head_card(active).model_id in install.active_label.text()
    save_screenshot(wizard, tmp_path / "finetune_wizard_install.png")
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        install.rollback()
    assert ModelStore(root=tmp_path / "models").active() == original and changes == [active, original]
    assert install.install_button.isEnabled()  # the trained head can be installed again
    assert (original / META_NAME).exists()


def test_cancelled_training_leaves_the_store_untouched(qtbot, tmp_path: Path,
                                                       segmenter: LungSegmenter) -> None:
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=10)
    store = ModelStore(root=tmp_path / "models")
    store.install(make_head(tmp_path / "old-head"))
    pointer_before = store.pointer.read_bytes()
    heads_before = sorted(p.name for p in store.root.iterdir())
    wizard = make_wizard(qtbot, tmp_path, segmenter, store)
    choose_data(qtbot, wizard, data)
    wizard.next()
    wizard.next()
    train = wizard.train_page
    job = train.start_training()
    assert job is not None
    job.signals.progress.connect(lambda _event: train.cancel_training())  # cancel at the first event
    qtbot.waitUntil(lambda: not train.is_running, timeout=120_000)
    assert "cancelled" in train.status.text()
    assert wizard.state.report is None and not next_enabled(wizard)
    assert store.pointer.read_bytes() == pointer_before
    assert sorted(p.name for p in store.root.iterdir()) == heads_before
    train.start_training()  # a fresh run can start after a cancel (then closing the wizard stops it)
    assert train.is_running
    wizard.reject()
    qtbot.waitUntil(lambda: not train.is_running, timeout=120_000)
    assert store.pointer.read_bytes() == pointer_before


def test_comparison_is_refused_with_a_reason(tmp_path: Path, segmenter: LungSegmenter) -> None:
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=10)
    dataset = load_labelled(data)
    with pytest.raises(ModelLoadError, match="No head is installed"):
        evaluate_installed(None, dataset, lambda: segmenter)
    other_order = make_head(tmp_path / "head", classes=("normal", "abnormal"))
    with pytest.raises(TrainingError, match="differ"):
        evaluate_installed(other_order, dataset, lambda: pytest.fail("no model is loaded to refuse"))


@pytest.mark.parametrize(("classes", "reason"), [(("normal",), "exactly two classes"),
                                                 (("normal", "abnormal"), "at least 10")])
def test_unusable_data_keeps_next_disabled(qtbot, tmp_path: Path, segmenter: LungSegmenter,
                                           classes: tuple[str, ...], reason: str) -> None:
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=4)
    for name in {"normal", "abnormal"} - set(classes):
        for file in (data / name).iterdir():
            file.unlink()
        (data / name).rmdir()
    wizard = make_wizard(qtbot, tmp_path, segmenter, ModelStore(root=tmp_path / "models"))
    choose_data(qtbot, wizard, data)
    assert reason in wizard.data_page.verdict.text()
    assert not wizard.data_page.isComplete() and not next_enabled(wizard)


def test_missing_source_is_explained(qtbot, tmp_path: Path, segmenter: LungSegmenter) -> None:
    wizard = make_wizard(qtbot, tmp_path, segmenter, ModelStore(root=tmp_path / "models"))
    choose_data(qtbot, wizard, tmp_path / "nowhere")
    assert "neither a folder" in wizard.data_page.verdict.text() and not next_enabled(wizard)
    assert "Traceback" not in wizard.data_page.verdict.text()


@pytest.mark.parametrize(("default", "shown"), [(1, "1 epoch"), (2, "2 epochs")])
def test_epoch_count_is_singular_or_plural(qtbot, tmp_path: Path, default: int, shown: str) -> None:
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs", default_epochs=default)
    qtbot.addWidget(wizard)
    epochs = wizard.settings_page.epochs
    assert epochs.text() == shown
    epochs.setValue(3 - default)
    assert epochs.text() == ("2 epochs" if default == 1 else "1 epoch")


def test_loss_plot_after_one_step_shows_a_marker_and_says_so(qtbot) -> None:
    from training.finetune import TrainingEvent
    from viewer.finetune.canvases import CurvesCanvas

    canvas = CurvesCanvas()
    qtbot.addWidget(canvas)
    canvas.add(TrainingEvent("training", epoch=1, epochs=1, step=1, steps=4, loss=0.69, fold=None))
    canvas.redraw()
    (line,) = canvas.loss_axes.get_lines()
    assert line.get_marker() == "o" and len(line.get_xdata()) == 1
    assert [text.get_text() for text in canvas.loss_axes.texts] == ["1 step so far"]
    canvas.add(TrainingEvent("training", epoch=1, epochs=1, step=2, steps=4, loss=0.6, fold=None))
    canvas.redraw()
    assert len(canvas.loss_axes.get_lines()[0].get_xdata()) == 2 and not canvas.loss_axes.texts


def test_comparison_counts_the_installed_heads_training_images(qtbot, tmp_path: Path,
                                                               segmenter: LungSegmenter) -> None:
    """Issue 17: the page said the installed head 'was not trained on' the data without checking."""
    from engine.diagnoser import Diagnoser
    from engine.model.head_card import TRAINING_HASHES, read_training_hashes, write_training_hashes
    from engine.paths import file_sha256
    from training.evaluate import evaluate_head
    from viewer.finetune.evaluate_page import overlap_text

    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=10)
    dataset = load_labelled(data)
    head = make_head(tmp_path / "head")
    write_training_hashes(head, [file_sha256(path) for path in sorted((data / "abnormal").iterdir())[:3]])
    result = evaluate_head(dataset, diagnoser=Diagnoser(head, segmenter=segmenter), consistency_images=0)
    assert result["seen_in_training"] == 3 and result["n"] == 20 and result["n_positive"] == 10
    (head / TRAINING_HASHES).unlink()  # a head saved before hashes were kept: evaluate_head reports None
    assert read_training_hashes(head) is None
    assert "trained on 3 of these 20" in overlap_text(3, 20)
    assert "none of these 20" in overlap_text(0, 20)
    unknown = overlap_text(None, 20)
    assert "unknown" in unknown and "none" not in unknown and "not trained" not in unknown
    # and the page says it
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    page = wizard.evaluate_page
    page._fill({"model": str(make_head(tmp_path / "new-head"))})
    page._job = job = object()
    page._on_installed(job, {**result, "seen_in_training": None})
    assert "unknown" in page.comparison.text() and "all 20 images" in page.comparison.text()


def tiny_split_head(folder: Path, n_val: int, positives: int | None) -> Path:
    head = make_head(folder)
    card = json.loads((head / META_NAME).read_text())
    card["training"] = {**card.get("training", {}), "n_val": n_val}
    if positives is not None:
        card["training"]["n_val_positive"] = positives
    card["metrics"] = {"validation": {"sensitivity": 100.0, "specificity": 100.0, "accuracy": 100.0, "auc": 100.0,
                                      "avg": 100.0}}
    (head / META_NAME).write_text(json.dumps(card))
    return head


def test_validation_figures_carry_their_n_and_a_tiny_split_is_not_trusted(qtbot, tmp_path: Path) -> None:
    """Issue 17: '100 %' validation metrics from a tiny split, without n."""
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    page = wizard.evaluate_page
    report = {"model": str(tiny_split_head(tmp_path / "tiny", 6, 3))}
    wizard.state.report = report
    page._fill(report)
    header = page.table.verticalHeaderItem(0).text()
    assert "n=6: 3 abnormal, 3 normal" in header and "too few to be reliable" in header
    cells = [page.table.item(0, column) for column in range(4)]
    assert [cell.text() for cell in cells] == ["100.0 (3/3)", "100.0 (3/3)", "100.0 (6/6)", "100.0 (n=6)"]
    assert "Wilson interval 44–100 %" in cells[0].toolTip()
    assert "Too few images" in page.caution.text() and "from 44 % to 100 %" in page.caution.text()
    # a split big enough: the n stays, the warning goes
    report = {"model": str(tiny_split_head(tmp_path / "big", 200, 80))}
    wizard.state.report = report
    page._fill(report)
    assert "n=200: 80 abnormal, 120 normal" in page.table.verticalHeaderItem(0).text()
    assert "too few" not in page.table.verticalHeaderItem(0).text() and page.caution.text() == ""
    # a head from before the classes were counted: n alone, still judged by it
    report = {"model": str(tiny_split_head(tmp_path / "old", 12, None))}
    wizard.state.report = report
    page._fill(report)
    assert "(n=12; it also chose the threshold) — too few" in page.table.verticalHeaderItem(0).text()
    assert page.table.item(0, 2).text() == "100.0 (12/12)" and page.table.item(0, 0).text() == "100.0"


def test_cross_validation_rows_carry_their_n(qtbot, tmp_path: Path) -> None:
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    metrics = {"sensitivity": 100.0, "specificity": 75.0, "accuracy": 87.5, "auc": 93.8, "avg": 89.1}
    folds = [{"fold": k, "n_test": 8, "n_test_positive": 4, "metrics": metrics, "threshold": 0.5} for k in (1, 2)]
    summary = {key: {"mean": value, "std": 0.0} for key, value in metrics.items()}
    report = {"model": str(make_head(tmp_path / "head")),
              "cross_validation": {"folds": folds, "summary": summary, "pooled_roc": {"fpr": [0, 1], "tpr": [0, 1]}}}
    wizard.state.report = report
    wizard.evaluate_page._fill(report)
    table = wizard.evaluate_page.table
    assert table.verticalHeaderItem(0).text().startswith("Fold 1 (n=8: 4 abnormal, 4 normal)")
    assert table.item(0, 1).text() == "75.0 (3/4)" and table.verticalHeaderItem(2).text().startswith("Mean ± std (16")
    assert "fold 1" in wizard.evaluate_page.caution.text()


def test_install_is_offered_again_after_a_roll_back(qtbot, tmp_path: Path) -> None:
    """Issue 17: Install stayed disabled after Roll back. It is offered whenever the trained head is not the
    active one — and not when a second roll back has made it active again."""
    store = ModelStore(root=tmp_path / "models")
    original = store.install(make_head(tmp_path / "old-head"))
    wizard = FinetuneWizard(store=store, profiles=(TINY_PROFILE,), config_factory=tiny_config,
                            output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    new = make_tiny_head(tmp_path / "run" / "model", with_map=False, seed=1)  # other weights: another model id
    wizard.state.report = {"model": str(new)}
    page = wizard.install_page
    page.initializePage()
    assert page.install_button.isEnabled()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.install()
    assert not page.install_button.isEnabled() and page.rollback_button.isEnabled()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.rollback()
    assert store.active() == original and page.install_button.isEnabled()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.rollback()  # back to the new head (roll back swaps active and previous)
    assert load_head_card(store.active()).model_id == load_head_card(new).model_id
    assert not page.install_button.isEnabled()
