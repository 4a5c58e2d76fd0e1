"""App start-up: the window is on screen first; torch and diffusers load on the sampler thread after."""

from __future__ import annotations

import asyncio
import sys
import time

_T0 = time.perf_counter()


def run_app(argv: list[str] | None = None, exit_when_ready: bool = False, device: str = "auto") -> int:
    import qasync
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.paths import resources_dir
    from ddpm_studio.ui.app.main_window import MainWindow

    if QApplication.instance() is None:  # high-DPI: fractional scale factors as the screen has them (150 % stays 1.5)
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("DDPM Studio")
    app.setOrganizationName("DDPM Studio")
    app.setDesktopFileName("ddpm-studio")
    icon = QIcon(str(resources_dir() / "icons" / "ddpm-studio.svg"))
    for png in sorted((resources_dir() / "icons" / "hicolor").glob("*/apps/ddpm-studio.png")):
        icon.addFile(str(png))  # crisp small sizes where the desktop asks for them
    app.setWindowIcon(icon)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    window = MainWindow(device=device)
    window.show()
    shown_at = time.perf_counter() - _T0
    torch_loaded = "torch" in sys.modules
    # start the heavy imports only once the window has been painted
    QTimer.singleShot(0, window.start_backend)

    if exit_when_ready:  # a smoke test for packaging and benchmarks: report and quit
        print(f"window shown at {shown_at:.3f} s (torch imported then: {'yes' if torch_loaded else 'no'})", flush=True)

        def report(label: str) -> None:
            print(f"backend ready at {time.perf_counter() - _T0:.3f} s on {label}", flush=True)
            window.close()

        window.sampler.backend_ready.connect(report)
        window.sampler.backend_failed.connect(lambda msg: (print(msg, flush=True), window.close()))

    with loop:
        loop.run_forever()
    return 0
