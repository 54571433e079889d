"""The B reader's workstation tools on the main window: the ILO standard beside the study, true size, the distance
tool, the opacity-size gauge and the display calibration, the readers' agreement and the NIOSH 2.8 form, under one
"B reader" menu; and the blind second reading (``blind_reading``).

Installed by one call from the main window (``BReaderTools(window)``); the widgets live in ``standard_pane``,
``measure_tools``, ``display_calibration`` and ``agreement_dialog``, the rules and maths in ``engine.ilo.standards``,
``engine.true_size`` and ``engine.ilo.agreement``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSplitter

from engine.errors import PneumoError
from engine.ilo.double_reading import load_rule
from engine.ilo.standards import StandardsError, read_standards
from viewer.agreement_dialog import AgreementDialog
from viewer.blind_reading import BlindReading
from viewer.display_calibration import CalibrationDialog
from viewer.error_dialog import show_error
from viewer.measure_tools import MeasureTools
from viewer.menu_actions import add_action
from viewer.standard_pane import StandardPane

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

NO_FOLDER = ("Choose the folder of ILO standard images in Settings first (Model → Settings…): the ILO's standard "
             "radiographs are licensed and do not ship with this program.")


class BReaderTools(QObject):
    """The "B reader" menu and what it drives; ``pane`` is the standard beside the study, ``tools`` the rulers."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.tools = MeasureTools(window.view)
        self.pane = StandardPane(window.view)
        self.pane.hide()
        # study | standard, side by side where the study was: the diagnosis panel's splitter is left as it is.
        self.images = QSplitter(Qt.Orientation.Horizontal)
        self.images.setChildrenCollapsible(False)
        window.reading.replaceWidget(window.reading.indexOf(window.view), self.images)
        self.images.addWidget(window.view)
        self.images.addWidget(self.pane)
        self.pane.close_requested.connect(self.hide_standard)
        self.pane.problem.connect(self._say)
        self.tools.message.connect(self._say)
        self.menu = self._build_menu()
        self.blind = BlindReading(window)
        self.agreement_dialog: AgreementDialog | None = None

    def _build_menu(self) -> QMenu:
        window = self.window
        menu = QMenu("&B reader", window)
        window.menuBar().insertMenu(window.menus.model_menu.menuAction(), menu)  # beside View, before Model
        add_action(window, menu, "&Compare with standard…", self.compare, "Ctrl+Shift+S")
        self.sync_action: QAction = add_action(window, menu, "&Synchronise zoom and pan with the standard",
                                               lambda: self.pane.sync.setChecked(self.sync_action.isChecked()),
                                               checkable=True)
        self.sync_action.setChecked(self.pane.sync.isChecked())
        self.pane.sync.toggled.connect(self.sync_action.setChecked)
        menu.addSeparator()
        add_action(window, menu, "&True size", self.true_size, "T")
        self.ruler_action = add_action(window, menu, "&Distance tool (left-drag measures)",
                                       lambda: self.tools.set_ruler_mode(self.ruler_action.isChecked()), "M",
                                       checkable=True)
        add_action(window, menu, "C&lear measurements", self.tools.clear_rulers, "Shift+M")
        self.gauge_action = add_action(window, menu, "Opacity-size &gauge (p 1.5, q 3, r 10 mm)", self._gauge, "G",
                                       checkable=True)
        menu.addSeparator()
        add_action(window, menu, "Cali&brate display…", self.calibrate)
        menu.addSeparator()
        add_action(window, menu, "Reader &agreement…", self.show_agreement)
        add_action(window, menu, "Export the &NIOSH 2.8 form (PDF)…", self.export_niosh)
        return menu

    # -- the standard beside the study ------------------------------------------------------------------
    def compare(self) -> bool:
        """Open the standard pane with the standard nearest the ILO form's profusion and shapes."""
        folder = self.window.settings.standards_folder
        if not folder:
            show_error(self.window, StandardsError(NO_FOLDER))
            return False
        standards, problems = read_standards(folder)
        if not standards:
            show_error(self.window, StandardsError(problems[0] if problems else NO_FOLDER))
            return False
        if problems:
            self._say(f"{len(problems)} entr{'y' if len(problems) == 1 else 'ies'} of the standards index skipped: "
                      f"{problems[0]}")
        self.pane.set_standards(standards)
        reading = self.window.ilo.form.reading()
        chosen = self.pane.choose_for(reading.small.profusion, reading.small.primary, reading.small.secondary)
        if self.pane.isHidden():
            outer = self.window.reading.sizes()  # the images get most of the width while comparing
            self.window.reading.setSizes([outer[0] + outer[1] // 2, outer[1] - outer[1] // 2])
            self.pane.show()
            self.split_evenly()
            QTimer.singleShot(0, self.split_evenly)  # again once the shown pane is laid out (it takes its hint first)
        return chosen is not None  # on screen once decoded (``pane.shown``)

    def split_evenly(self) -> None:
        """Study and standard half each of the width the splitter has now."""
        width = sum(self.images.sizes()) or self.images.width()
        self.images.setSizes([width - width // 2, width // 2])

    def hide_standard(self) -> None:
        self.pane.hide()

    # -- scale ------------------------------------------------------------------------------------------
    def true_size(self) -> bool:
        if self.window.view.image is None:
            return False
        if not self.window.settings.monitor_width_mm and self.tools.spacing is not None and not self.calibrate():
            return False
        return self.tools.true_size(self.window.settings.monitor_width_mm)

    def calibrate(self) -> bool:
        """The one-time display calibration, saved in Settings."""
        settings = self.window.settings
        dialog = CalibrationDialog(settings.monitor_width_mm, self.window.screen().geometry().width(), self.window)
        if not dialog.exec():
            return False
        settings.monitor_width_mm = dialog.width_mm
        settings.save()
        return settings.monitor_width_mm is not None

    # -- double reading --------------------------------------------------------------------------------
    def show_agreement(self) -> AgreementDialog | None:
        """The readers' agreement table (as ``pneumollm readings --agreement``), computed afresh each time."""
        if self.window.ilo.blind:  # the table and its ratings would show the first reading of the image on screen
            show_error(self.window, PneumoError("Sign your blind reading of this image first: the agreement "
                                                "table is built from every reader's readings."))
            return None
        try:
            rule = load_rule()
            store = self.window.ilo.store
        except PneumoError as exc:
            show_error(self.window, exc)
            return None
        if self.agreement_dialog is not None:
            self.agreement_dialog.close()
        self.agreement_dialog = AgreementDialog(store, rule, self.window)
        self.agreement_dialog.show()
        return self.agreement_dialog

    def export_niosh(self) -> None:
        """The signed reading of the image on screen on the CDC/NIOSH 2.8 layout."""
        ilo = self.window.ilo
        if ilo.stored is None:
            show_error(self.window, PneumoError("Sign and save your ILO reading of this image first: only a signed "
                                                "reading goes on the NIOSH form."))
            return
        ilo.export_with_dialog("niosh")

    def _gauge(self) -> None:
        shown = self.tools.show_gauge(self.gauge_action.isChecked())
        self.gauge_action.setChecked(shown)

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 15_000)
