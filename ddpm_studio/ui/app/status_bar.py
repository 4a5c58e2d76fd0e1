"""The window's status bar: a message too long for the room beside the device label is cut at a word with "…", and
shown whole in its tooltip, instead of being clipped mid-word under the device label."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar, QWidget


class ElidingStatusBar(QStatusBar):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self._ends = 0.0  # when a timed message goes (time.monotonic); 0 for a message that stays
        self._permanent: list[QWidget] = []
        self.messageChanged.connect(self._message_changed)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 (Qt's name)
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:  # noqa: N802 (Qt's name)
        self._full = message
        self._ends = time.monotonic() + timeout / 1000 if timeout else 0.0
        self._show(timeout)

    def currentMessage(self) -> str:  # noqa: N802 (Qt's name)
        """The whole message, as it was given, whatever the room shows of it."""
        return self._full if super().currentMessage() else ""

    def room(self) -> int:
        """Pixels the message has: the bar less its permanent widgets (the device label) and margins."""
        taken = sum(widget.sizeHint().width() + 12 for widget in self._permanent if widget.isVisible())
        return max(40, self.width() - taken - 24)

    def fitted(self, message: str) -> str:
        """``message`` as it fits the room: whole, or cut after a word with "…"."""
        metrics = self.fontMetrics()
        room = self.room()
        if metrics.horizontalAdvance(message) <= room:
            return message
        body = metrics.elidedText(message, Qt.TextElideMode.ElideRight, room).removesuffix("…")
        if " " in body.strip():
            body = body.rsplit(" ", 1)[0]
        return body.rstrip(" ,;:—-") + "…"

    def _show(self, timeout: int) -> None:
        shown = self.fitted(self._full)
        super().showMessage(shown, timeout)
        self.setToolTip(self._full if shown != self._full else "")

    def _message_changed(self, message: str) -> None:
        if not message:  # timed out or cleared
            self._full = ""
            self.setToolTip("")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._full and super().currentMessage():
            left = round((self._ends - time.monotonic()) * 1000) if self._ends else 0
            if not self._ends or left > 0:
                self._show(left)
