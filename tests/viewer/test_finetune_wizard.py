"""The fine-tune wizard on a tiny profile: one run end to end (data check, measured estimate, training, CV table,
install), each page's rules on their own; a cancelled run and unusable data never reach the model store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PySide6.QtWidgets import QWizard

import tests.training.conftest as training_fixtures  # registers the "tiny-test" profile
from engine.errors import ModelLoadError, TrainingError
from engine.model.checkpoint import META_NAME
from engine.model.head_card import IntendedUse, load_head_card
from engine.model.store import ModelStore
from engine.progress import format_duration
from engine.segment import LungSegmenter
from tests.head_factory import make_tiny_head
from tests.viewer.helpers import isolate_user_folders, save_screenshot, settle
from training.config import FinetuneConfig
from training.data import check_readable, load_labelled
from training.finetune import TrainingEvent
from viewer.finetune import FinetuneWizard
from viewer.finetune.canvases import CurvesCanvas, RocCanvas, draw_curves, draw_roc
from viewer.finetune.evaluate_page import evaluate_installed
from viewer.finetune.intended_use_choice import ADULT_USE

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


def with_use(head: Path, use: IntendedUse) -> Path:
    card = json.loads((head / META_NAME).read_text())
    card["intended_use"] = asdict(use)
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


def test_whole_wizard_trains_evaluates_and_installs(qtbot, tmp_path: Path, segmenter: LungSegmenter) -> None:
    """The pages in a row on real data: each hands the next what it needs, and only Install changes the head."""
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=12)
    store = ModelStore(root=tmp_path / "models")
    original = store.install(with_use(make_head(tmp_path / "old-head"), ADULT_USE))
    pointer_before = store.pointer.read_bytes()
    wizard = make_wizard(qtbot, tmp_path, segmenter, store)

    assert not next_enabled(wizard)
    choose_data(qtbot, wizard, data)
    assert next_enabled(wizard)
    save_screenshot(wizard, tmp_path / "finetune_wizard_data.png")

    wizard.next()  # settings: a duration measured on this machine, handed on to the train page
    page = wizard.settings_page
    qtbot.waitUntil(lambda: "measured on this machine" in page.estimate_label.text(), timeout=120_000)
    # every part of the run is measured: the data's 24 images were never segmented in this test's cache
    assert "lung crops of 24 images not prepared before" in page.estimate_label.text()
    assert "reference map: " in page.estimate_label.text() and "not measured" not in page.estimate_label.text()
    parts = page.estimate_parts()
    assert parts.crops_s > 0 and parts.map_s > 0
    page.operating_point.setCurrentIndex(page.operating_point.findData("sensitivity:0.95"))
    save_screenshot(wizard, tmp_path / "finetune_wizard_settings.png")

    assert page.intended_use.currentData() == "inherit" and "adult" in page.intended_use.currentText()

    wizard.next()  # train
    train = wizard.train_page
    assert wizard.state.estimate_s and "Expected duration" in train.plan.text()
    assert wizard.state.estimate_s == pytest.approx(parts.total_s)  # the lung crops and the map included
    assert wizard.state.intended_use == ADULT_USE  # the PNGs carry no ages: the installed head's limits stay
    said: list[str] = []
    shown = train._on_event
    train._on_event = lambda job, event: (said.append(event.stage), shown(job, event))  # type: ignore[method-assign]
    assert not next_enabled(wizard) and train.start_training() is not None
    qtbot.waitUntil(lambda: not train.is_running, timeout=240_000)
    report = wizard.state.report
    assert report is not None, train.status.text()
    assert said.index("finishing") > len(said) - 1 - said[::-1].index("validated")  # after the last epoch
    assert load_head_card(Path(report["model"])).intended_use == ADULT_USE
    assert train.canvas.loss and train.canvas.auc  # both curves received points
    assert "sensitivity" in load_head_card(Path(report["model"])).threshold_source  # the operating point of page 2
    assert store.pointer.read_bytes() == pointer_before  # training alone never installs
    assert next_enabled(wizard)
    save_screenshot(wizard, tmp_path / "finetune_wizard_train.png")

    wizard.next()  # evaluate: the CV rows, next to the installed head on the same data
    evaluate = wizard.evaluate_page
    qtbot.waitUntil(lambda: not evaluate.is_evaluating, timeout=120_000)
    assert evaluate.installed_result is not None, evaluate.comparison.text()
    assert evaluate.table.rowCount() == 4  # two folds + mean ± std + the installed head
    qtbot.waitUntil(lambda: not evaluate.roc.busy, timeout=30_000)
    save_screenshot(wizard, tmp_path / "finetune_wizard_evaluate.png")

    wizard.next()  # install
    assert "ages 18–120 years" in wizard.install_page.use_label.text()
    assert "the same as the active head's" in wizard.install_page.use_label.text()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        wizard.install_page.install()
    active = ModelStore(root=tmp_path / "models").active()  # a fresh look at the store on disk
    assert active is not None and active != original
    assert load_head_card(active).model_id == load_head_card(Path(report["model"])).model_id
    save_screenshot(wizard, tmp_path / "finetune_wizard_install.png")


def test_data_page_counts_each_class_and_lists_unreadable_files(qtbot, tmp_path: Path,
                                                                segmenter: LungSegmenter) -> None:
    data = training_fixtures.write_synthetic_set(tmp_path / "data", per_class=12)
    (data / "normal" / "broken.png").write_bytes(b"not a png at all")
    wizard = make_wizard(qtbot, tmp_path, segmenter, ModelStore(root=tmp_path / "models"))
    choose_data(qtbot, wizard, data)
    check = wizard.state.check
    assert check is not None and check.dataset.counts() == {"abnormal": 12, "normal": 12}
    assert [p.name for p, _ in check.unreadable] == ["broken.png"]
    page = wizard.data_page
    assert page.problems.count() == 1 and "broken.png" in page.problems.item(0).text()
    assert page.counts.rowCount() == 2 and next_enabled(wizard)


def test_settings_refuse_more_folds_than_the_patients_allow(qtbot, tmp_path: Path) -> None:
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs", default_epochs=2,
                            default_folds=2)
    qtbot.addWidget(wizard)
    page = wizard.settings_page
    assert page.fold_count() == 2 and page.epochs.value() == 2
    assert not page.isComplete() and "training data first" in page._usable_reason()
    wizard.state.check = check_readable(training_fixtures.write_synthetic_set(tmp_path / "data", per_class=12))
    page.folds.setValue(20)  # 12 patients per class cannot give 20 folds
    assert not page.isComplete() and "patients" in page.verdict.text()
    page.folds.setValue(2)
    assert page.isComplete() and page.verdict.text() == ""
    page.operating_point.setCurrentIndex(page.operating_point.findData("sensitivity:0.95"))
    assert page.config().operating_point == "sensitivity:0.95"
    page.validatePage()
    assert wizard.state.config == page.config() and wizard.state.folds == 2
    assert wizard.state.estimate_s is None  # nothing measured yet: the train page promises no duration


def test_train_page_states_the_estimate_left_in_the_state(qtbot, tmp_path: Path) -> None:
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    state = wizard.state
    state.check = check_readable(training_fixtures.write_synthetic_set(tmp_path / "data", per_class=10))
    state.config, state.folds = tiny_config(TINY_PROFILE, 3), 1
    state.estimate_s = 125.0
    wizard.train_page.initializePage()
    plan = wizard.train_page.plan.text()
    assert "3 epochs" in plan and "single validation split" in plan and "20 images" in plan
    assert f"Expected duration: about {format_duration(125.0)} (training steps, lung crops" in plan
    assert "not measured" not in plan
    state.estimate_missing = ("the reference map",)  # page 2 could not time the t-SNE: said, not hidden
    wizard.train_page.initializePage()
    assert "the reference map not measured, on top" in wizard.train_page.plan.text()
    state.estimate_s = None
    wizard.train_page.initializePage()
    assert "Expected duration" not in wizard.train_page.plan.text()


def test_install_and_roll_back_switch_the_active_head_and_tell_the_app(qtbot, tmp_path: Path) -> None:
    store = ModelStore(root=tmp_path / "models")
    original = store.install(make_head(tmp_path / "old-head"))
    wizard = FinetuneWizard(store=store, profiles=(TINY_PROFILE,), config_factory=tiny_config,
                            output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    changes: list[object] = []
    wizard.head_changed.connect(changes.append)
    new = make_tiny_head(tmp_path / "run" / "model", with_map=False, seed=1)
    wizard.state.report = {"model": str(new)}
    page = wizard.install_page
    page.initializePage()
    assert "no trained head" not in page.new_label.text() and page.install_button.isEnabled()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.install()
    active = ModelStore(root=tmp_path / "models").active()  # a fresh look at the store on disk
    assert active is not None and active != original and wizard.state.installed == active
    assert load_head_card(active).model_id == load_head_card(new).model_id
    assert store.previous() == original
    assert load_head_card(active).model_id in page.active_label.text() and "Installed" in page.message.text()
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.rollback()
    assert ModelStore(root=tmp_path / "models").active() == original and changes == [active, original]
    assert wizard.state.installed is None and "Rolled back" in page.message.text()
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
    def loss_axes(canvas: CurvesCanvas) -> Axes:
        figure = Figure()
        draw_curves(figure, canvas.loss, canvas.auc)
        return figure.axes[0]

    canvas = CurvesCanvas()
    qtbot.addWidget(canvas)
    canvas.add(TrainingEvent("training", epoch=1, epochs=1, step=1, steps=4, loss=0.69, fold=None))
    assert canvas.dirty
    (line,) = loss_axes(canvas).get_lines()
    assert line.get_marker() == "o" and len(line.get_xdata()) == 1
    assert [text.get_text() for text in loss_axes(canvas).texts] == ["1 step so far"]
    canvas.add(TrainingEvent("training", epoch=1, epochs=1, step=2, steps=4, loss=0.6, fold=None))
    assert len(loss_axes(canvas).get_lines()[0].get_xdata()) == 2 and not loss_axes(canvas).texts


def test_the_wizards_plots_are_drawn_off_the_gui_thread(qtbot) -> None:
    canvas = CurvesCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 240)
    canvas.show()
    canvas.add(TrainingEvent("validated", epoch=1, epochs=2, step=4, steps=4, metrics={"val_auc": 70.0}, fold=0))
    canvas.redraw()
    assert not canvas.dirty and canvas.busy
    qtbot.waitUntil(lambda: canvas.picture is not None, timeout=30_000)
    assert len(canvas.picture.frames) == 2  # the loss and the AUC axes
    first = canvas.picture
    canvas.add(TrainingEvent("validated", epoch=2, epochs=2, step=4, steps=4, metrics={"val_auc": 80.0}, fold=0))
    canvas.redraw()
    assert canvas.picture is first  # a live plot keeps its picture up while the next one renders: no blinking
    with qtbot.waitSignal(canvas.rendered, timeout=30_000):
        pass
    assert canvas.picture is not first
    roc = RocCanvas()
    qtbot.addWidget(roc)
    roc.resize(340, 300)
    roc.show()
    roc.show_curves([("new head", {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]}, (0.5, 0.9))])
    qtbot.waitUntil(lambda: roc.picture is not None, timeout=30_000)
    assert roc.picture.frames[0].xlim == pytest.approx((-0.01, 1.0))


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


def wizard_with_a_tiny_split(qtbot, tmp_path: Path) -> tuple[FinetuneWizard, Any, dict[str, str]]:
    """A wizard whose report is a head validated on 6 images (3 abnormal), at its evaluate page."""
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    report = {"model": str(tiny_split_head(tmp_path / "tiny", 6, 3))}
    wizard.state.report = report
    return wizard, wizard.evaluate_page, report


def test_validation_figures_carry_their_n_and_a_tiny_split_is_not_trusted(qtbot, tmp_path: Path) -> None:
    """Issue 17: '100 %' validation metrics from a tiny split, without n."""
    wizard, page, report = wizard_with_a_tiny_split(qtbot, tmp_path)
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
    assert "(n=12)\nit also chose the threshold — too few" in page.table.verticalHeaderItem(0).text()
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


def test_evaluate_table_is_whole_at_the_wizards_default_size(qtbot, tmp_path: Path) -> None:
    """Issue 25: the table was a clipped sliver (long row names, the sideways scroll bar over the rows)."""
    wizard, page, report = wizard_with_a_tiny_split(qtbot, tmp_path)
    page.initializePage = lambda: None  # no evaluation of an installed head: the rows are set here
    wizard.setStartId(FinetuneWizard.EVALUATE)
    wizard.show()
    page._fill(report)
    page.installed_result = {"n": 20, "n_positive": 10, "model_id": "abc123", "threshold": 0.5,
                             "metrics": {"sensitivity": 100.0, "specificity": 75.0, "accuracy": 87.5, "auc": 93.8,
                                         "avg": 89.1}, "roc": {"fpr": [0, 1], "tpr": [0, 1]}}
    page._show_rows()
    qtbot.waitUntil(lambda: page.table.isVisible())
    settle()  # the layout passes already posted (column modes, the table's height)
    table = page.table
    rows = sum(table.rowHeight(row) for row in range(table.rowCount()))
    assert table.viewport().height() >= rows and not table.horizontalScrollBar().isVisible()
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        for column in range(table.columnCount()):
            text = table.item(row, column).text()
            assert table.columnWidth(column) >= metrics.horizontalAdvance(text), (text, table.columnWidth(column))


def test_roc_note_beside_curves_is_the_legends_title_not_over_the_curve() -> None:
    note = "No held-out folds with a single\nvalidation split: see the table."
    figure = Figure()
    draw_roc(figure, [("installed head", {"fpr": [0, 0.2, 1], "tpr": [0, 0.9, 1]}, (0.2, 0.9))], note)
    axes = figure.axes[0]
    assert not axes.texts and axes.get_legend().get_title().get_text() == note
    empty = Figure()
    draw_roc(empty, [], note)  # nothing to plot: the note stands in the plot
    assert [text.get_text() for text in empty.axes[0].texts] == [note]


def test_finishing_steps_are_said_and_keep_the_bar(qtbot, tmp_path: Path) -> None:
    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    page = wizard.train_page
    page._job = job = object()
    page._started = 0.0
    page.progress.setValue(990)
    page._on_event(job, TrainingEvent("finishing", message="Building the reference map: embedding 20 images…"))
    assert page.progress.value() == 990 and "reference map" in page.status.text()
    assert "not in the estimate" in page.eta.text()


def test_install_page_warns_for_a_tiny_validation_split_and_names_the_previous_head(qtbot, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    shipped = make_head(tmp_path / "shipped")
    monkeypatch.setattr("viewer.finetune.wizard.DEFAULT_HEAD", shipped)
    store = ModelStore(root=tmp_path / "models")
    wizard = FinetuneWizard(store=store, profiles=(TINY_PROFILE,), config_factory=tiny_config,
                            output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    page = wizard.install_page
    wizard.state.report = {"model": str(tiny_split_head(tmp_path / "run" / "model", 5, 3))}
    page.initializePage()
    assert "n=5: 3 abnormal, 2 normal" in page.warning.text() and "fewer than 10 of each class" in page.warning.text()
    assert page.previous_label.text() == "none"  # nothing installed yet: the shipped head is the active one
    with qtbot.waitSignal(wizard.head_changed, timeout=60_000):
        page.install()
    assert store.previous() is None  # the store kept no pointer: it falls back to the shipped head
    assert page.previous_label.text().startswith("the shipped default head (shipped")
    wizard.state.report = {"model": str(tiny_split_head(tmp_path / "big" / "model", 40, 20))}
    page.refresh()
    assert page.warning.text() == ""


def test_settings_page_offers_the_installed_heads_use_first_and_explicit_ones(qtbot, tmp_path: Path) -> None:
    from viewer.finetune.intended_use_choice import ANY_AGE_USE

    store = ModelStore(root=tmp_path / "models")
    paediatric = IntendedUse(population="paediatric", age_years=(1.0, 5.0), description="paediatric films")
    store.install(with_use(make_head(tmp_path / "old-head"), paediatric))
    wizard = FinetuneWizard(store=store, profiles=(TINY_PROFILE,), config_factory=tiny_config,
                            output_root=tmp_path / "runs")
    qtbot.addWidget(wizard)
    wizard.state.check = check_readable(training_fixtures.write_synthetic_set(tmp_path / "data", per_class=10))
    page = wizard.settings_page
    page._fill_intended_use()
    combo = page.intended_use
    assert combo.currentData() == "inherit" and "ages 1–5 years" in combo.currentText()
    expected = {"inherit": paediatric, "data": None, "adult": ADULT_USE, "any": ANY_AGE_USE}
    for key, use in expected.items():
        combo.setCurrentIndex(combo.findData(key))
        page.validatePage()
        assert wizard.state.intended_use == use, key
    page._fill_intended_use()  # entering the page again keeps the choice
    assert combo.currentData() == "any"


def test_a_simulation_heads_use_is_not_inherited() -> None:
    from viewer.finetune.intended_use_choice import choices, chosen_use

    phantom = IntendedUse(population="adult", description="SIMULATION: trained on ILO phantoms")
    assert [key for _, key in choices(phantom)] == ["data", "adult", "any"]
    assert chosen_use("inherit", phantom) is None


def test_estimate_names_each_measured_part_and_a_failed_one_and_fits(qtbot, tmp_path: Path) -> None:
    """Page 2 adds the lung crops not prepared before and the reference map to the training steps, each with its
    measured part; a part that could not be measured is said, the rest still counted, and the text stays whole."""
    from training.estimate import CropTiming, MapTiming, StepTiming, extrapolate

    wizard = FinetuneWizard(store=ModelStore(root=tmp_path / "models"), profiles=(TINY_PROFILE,),
                            config_factory=tiny_config, output_root=tmp_path / "runs", default_epochs=2,
                            default_folds=2)
    qtbot.addWidget(wizard)
    wizard.state.check = check_readable(training_fixtures.write_synthetic_set(tmp_path / "data", per_class=12))
    page = wizard.settings_page
    page.measure = lambda force=False: page._show_estimate()  # type: ignore[method-assign]  # timings set here
    wizard.setStartId(FinetuneWizard.SETTINGS)
    wizard.show()
    timing = StepTiming(2.0, 0.1, 8, "CPU (fp32)", 5.0, 0.5, 64)
    steps_s = extrapolate(timing, page.config(), 24, page.fold_count())
    page._timing, page._crops = timing, CropTiming(uncached=20, s_per_image=0.5, timed=2)
    page._map = MapTiming(points=24, sample=24, sample_s=4.0)
    page._show_estimate()
    text = page.estimate_label.text()
    assert "lung crops of 20 images not prepared before: 9 s (0.50 s each)" in text
    assert "reference map: 6 s (t-SNE 4.0 s on 24 points)" in text  # 4 s + 24 forward passes of 0.1 s
    assert page.estimate_seconds() == pytest.approx(steps_s + 18 * 0.5 + 4.0 + 24 * 0.1)
    settle()
    label = page.estimate_label
    assert label.isVisible() and label.height() >= label.heightForWidth(label.width())  # the whole text shows
    page._map = MapTiming(0, 0, 0.0, "openTSNE is missing")
    page._show_estimate()
    assert "reference map: not measured (openTSNE is missing)" in page.estimate_label.text()
    assert "lung crops of 20 images" in page.estimate_label.text()
    assert page.estimate_seconds() == pytest.approx(steps_s + 18 * 0.5)
    page.validatePage()
    assert wizard.state.estimate_missing == ("the reference map",)
