"""One way to quit, whether by the window's close button, File → Quit or Ctrl+Q.

When nothing runs, the window closes at once. When a run (or a queued one) or a training is in progress, the user is
asked first, with "Keep working" as the default; "Stop and quit" cancels the runs (they stop inside their step) and
asks the training to stop (it saves a checkpoint first), and the window closes once their threads have ended — the
GUI never blocks on them, and no thread is left running behind a closed window.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QThread, QTimer, Slot
from PySide6.QtWidgets import QMessageBox, QWidget


class QuitGuard(QObject):
    """Decides, for the window's closeEvent, whether to close now, ask first, or wait for threads to end. A QObject
    living on the GUI thread, so a thread's ``finished`` reaches it there."""

    def __init__(self, window: QWidget, in_progress: Callable[[], list[str]],
                 stop: Callable[[], dict[QThread, str]], say: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window = window
        self.in_progress = in_progress  # what would be lost, in words ("a run", "a training"); empty when nothing
        self.stop = stop  # asks every worker to stop; the threads still running, each with what it does in words
        self.say = say  # a status line
        self.quitting = False
        self.box: QMessageBox | None = None
        self._waiting: dict[QThread, str] | None = None  # the threads asked to stop, once quitting

    def may_close(self) -> bool:
        """True when the window may close now; else the close is put off (asked, or waiting for threads)."""
        if not self.quitting:
            busy = self.in_progress()
            if busy:
                self.ask(busy)
                return False
            self.quitting = True
        if self._waiting is None:
            self._waiting = self.stop()
            for thread in self._waiting:
                thread.finished.connect(self._thread_ended)
        running = [words for thread, words in self._waiting.items() if thread.isRunning()]
        if running:
            self.say("Stopping " + " and ".join(dict.fromkeys(running)) + " before quitting…")
            return False
        return True

    def ask(self, busy: list[str]) -> QMessageBox:
        if self.box is not None and self.box.isVisible():
            self.box.raise_()
            return self.box
        what = " and ".join(busy)
        losses = {"a run": "the run's unfinished pictures are not saved",
                  "a training": "the training saves a checkpoint first, and can be resumed"}
        said = "; ".join(losses.get(item, item) for item in busy)
        box = QMessageBox(QMessageBox.Icon.Question, "Quit DDPM Studio?",
                          f"{what[0].upper()}{what[1:]} {'is' if len(busy) == 1 else 'are'} in progress. Quitting stops "
                          f"{'it' if len(busy) == 1 else 'them'}: {said}.", QMessageBox.StandardButton.NoButton,
                          self.window)
        self.quit_button = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.buttonClicked.connect(lambda button: self._answered(button is self.quit_button))
        box.open()
        self.box = box
        return box

    def _answered(self, quit_now: bool) -> None:
        if quit_now:
            self.quitting = True
            QTimer.singleShot(0, self, self.window.close)  # not after the window is gone

    @Slot()
    def _thread_ended(self) -> None:
        if all(not thread.isRunning() for thread in self._waiting):
            QTimer.singleShot(0, self, self.window.close)  # not after the window is gone
