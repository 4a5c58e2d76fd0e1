"""Small pieces every panel uses: a path field with a browse button, a combo box that does not widen the settings
column, a non-blocking error dialog, and the settings-and-view layout."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLayout,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


def path_row(field: QWidget, on_browse, label: str = "…") -> QHBoxLayout:
    button = QToolButton(text=label)
    button.clicked.connect(on_browse)
    row = QHBoxLayout()
    row.addWidget(field, 1)
    row.addWidget(button)
    return row


def narrow_combo(characters: int) -> QComboBox:
    """A combo box as wide as ``characters`` characters, however long its entries (the list shows them whole)."""
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(characters)
    return box


def scheduler_combo(characters: int, names) -> QComboBox:
    """A narrow combo box of schedulers: each entry its short label, its name as data, its note as the tooltip."""
    box = narrow_combo(characters)
    fill_schedulers(box, names)
    return box


def fill_schedulers(box: QComboBox, names) -> None:
    """List ``names`` in a scheduler box (its choice kept when still listed, else the first), without a signal for
    the entries on the way."""
    from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS

    if [box.itemData(i) for i in range(box.count())] == list(names):
        return
    current = box.currentData()
    blocked = box.blockSignals(True)
    box.clear()
    for name in names:
        box.addItem(SCHEDULERS[name].label, name)
        if SCHEDULERS[name].note:
            box.setItemData(box.count() - 1, SCHEDULERS[name].note, Qt.ItemDataRole.ToolTipRole)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.blockSignals(blocked)


def error_dialog(parent: QWidget, title: str, message: str) -> QMessageBox:
    """Shown without blocking: the app stays alive and usable behind it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


COLUMN_SHARE = 0.34  # of a panel's width, for its settings column at first (it never gets less than it needs)


def form_and_view(left: QVBoxLayout, right: QVBoxLayout, left_width: int, pinned: QLayout | None = None) -> QSplitter:
    """The panels' shape: settings in a column on the left (it scrolls on short screens), what they make on the
    right. ``pinned`` (Generate and Cancel) stays at the column's top, outside what scrolls: always in sight. The
    column takes a third of the width, at least what it needs up to ``left_width``; the divider widens it."""
    left.addStretch(1)
    left_widget, right_widget = QWidget(), QWidget()
    left_widget.setLayout(left)
    right_widget.setLayout(right)
    scroll = _ColumnScroll(left_width)
    scroll.setWidget(left_widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    column: QWidget = scroll
    if pinned is not None:
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addLayout(pinned)
        column_layout.addWidget(scroll, 1)
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setChildrenCollapsible(False)
    splitter.addWidget(column)
    splitter.addWidget(right_widget)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 2)
    splitter.setSizes([round(10000 * COLUMN_SHARE), round(10000 * (1 - COLUMN_SHARE))])  # shares, until shown
    return splitter


class _ColumnScroll(QScrollArea):
    """Scrolls a settings column vertically; always as wide as the column needs now (its combo boxes fill up after
    construction), so nothing is clipped on the right."""

    def __init__(self, most: int) -> None:
        super().__init__()
        self.most = most

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        width = inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2
        return QSize(min(self.most, max(hint.width(), width)), hint.height())


def scroll_into_view(widget: QWidget) -> None:
    """Bring ``widget`` into the view of the scroll area it is in (a settings column), once the layout has placed it
    (a label above it that has just grown moves it down first)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer

    area = widget.parentWidget()
    while area is not None and not isinstance(area, QScrollArea):
        area = area.parentWidget()

    def scroll() -> None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)  # the layouts settle first
        area.ensureWidgetVisible(widget)

    if area is not None:
        QTimer.singleShot(0, scroll)


def fit_family_size(info, width_box, height_box) -> None:
    """Set the size to the model family's own square (models/families.py: SDXL 1024², SD 512²) when it is still
    another family's: a size the user chose stays."""
    from ddpm_studio.engine.models.families import FAMILIES, family_of_info

    family = family_of_info(info) if info is not None else None
    if family is not None:
        fit_to_family((width_box, height_box), family.side, [row.side for row in FAMILIES])


def fit_to_family(boxes, own, every) -> None:
    """Set ``boxes`` to a family's ``own`` value when they all still hold another family's (``every``: each
    family's value): a value the user chose stays."""
    held = {box.value() for box in boxes}
    if len(held) == 1 and held <= set(every) - {own}:
        for box in boxes:
            box.setValue(own)
