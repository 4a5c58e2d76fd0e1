"""What a user sees clipped: visible labels, buttons, check boxes, combo box entries and placeholders whose text is
wider than the room their widget gives it. Used by the layout tests; one line per clipped text, naming it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QStyle,
    QStyleOptionComboBox,
    QStyleOptionFrame,
    QWidget,
)


def _where(widget: QWidget) -> str:
    names = []
    while widget is not None and len(names) < 4:
        names.append(widget.objectName() or type(widget).__name__)
        widget = widget.parentWidget()
    return " < ".join(names)


def _needs(widget: QWidget, text: str, room: int, what: str) -> list[str]:
    width = widget.fontMetrics().horizontalAdvance(text)
    return [f"{what} '{text}' needs {width} px, has {room} ({_where(widget)})"] if width > room else []


def _plain_label(widget: QWidget) -> bool:
    """A one-line text label (a wrapped one, rich text or a picture is not measured by its width)."""
    return (isinstance(widget, QLabel) and bool(widget.text()) and not widget.wordWrap()
            and widget.textFormat() != Qt.TextFormat.RichText and widget.pixmap().isNull())


def clipped_texts(root: QWidget) -> list[str]:
    found: list[str] = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.window() is not root.window():
            continue
        if _plain_label(widget):
            room = widget.contentsRect().width() - 2 * widget.margin()
            for line in widget.text().splitlines():
                found += _needs(widget, line, room, "label")
        elif isinstance(widget, QAbstractButton) and widget.text():
            if widget.sizeHint().width() > widget.width():
                found.append(f"button '{widget.text()}' needs {widget.sizeHint().width()} px, has {widget.width()} "
                             f"({_where(widget)})")
        elif isinstance(widget, QComboBox) and not widget.isEditable():
            option = QStyleOptionComboBox()
            widget.initStyleOption(option)
            room = widget.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                                 QStyle.SubControl.SC_ComboBoxEditField, widget).width()
            for i in range(widget.count()):
                found += _needs(widget, widget.itemText(i), room, "combo entry")
        elif isinstance(widget, QLineEdit) and widget.placeholderText() and not widget.text():
            option = QStyleOptionFrame()
            widget.initStyleOption(option)
            room = widget.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, widget).width() - 4
            found += _needs(widget, widget.placeholderText(), room, "placeholder")
    return found
