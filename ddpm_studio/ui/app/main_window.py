"""The main window: panels in tabs, menus, status bar, drops of our PNGs, and a clean shutdown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QTabWidget

from ddpm_studio import __version__
from ddpm_studio.ui.app.quitting import QuitGuard
from ddpm_studio.ui.app.status_bar import ElidingStatusBar
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.theme import THEMES, apply_theme
from ddpm_studio.ui.core.worker import SamplerClient, SamplerThread
from ddpm_studio.ui.dialogs.about import AboutDialog
from ddpm_studio.ui.dialogs.download import DownloadDialog
from ddpm_studio.ui.dialogs.preferences import PreferencesDialog
from ddpm_studio.ui.dialogs.shortcuts import ShortcutsDialog
from ddpm_studio.ui.explorer.panel import ExplorerPanel
from ddpm_studio.ui.gallery.panel import GalleryPanel
from ddpm_studio.ui.sampling.edit import EditPanel
from ddpm_studio.ui.sampling.generate import GeneratePanel
from ddpm_studio.ui.sampling.text2image import Text2ImagePanel
from ddpm_studio.ui.sampling.upscale import UpscalePanel
from ddpm_studio.ui.series.grid_panel import GridPanel
from ddpm_studio.ui.series.race_panel import RacePanel
from ddpm_studio.ui.train.panel import TrainPanel


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, device: str = "auto") -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle(f"DDPM Studio {__version__}")
        self.setAcceptDrops(True)
        self.setStatusBar(ElidingStatusBar(self))  # long messages cut at a word with "…", whole in the tooltip

        options = self.settings.engine_options
        if device != "auto":  # asked for on the command line: wins over the saved preference for this session
            options["device"] = device
        self.sampler = SamplerThread(parent=self, folders=self.settings.addon_folders, **options)
        self.sampler.history_budget = self.settings.history_budget_mb * 1024 * 1024
        self.client = SamplerClient(self.sampler, self)
        self.generate_panel = GeneratePanel(self.sampler, self.client, self.settings)
        self.tabs = QTabWidget()
        self.text2image_panel = Text2ImagePanel(self.sampler, self.client, self.settings)
        self.edit_panel = EditPanel(self.sampler, self.client, self.settings)
        self.upscale_panel = UpscalePanel(self.sampler, self.client, self.settings)
        self.race_panel = RacePanel(self.sampler, self.client, self.settings)
        self.grid_panel = GridPanel(self.sampler, self.client, self.settings)
        self.train_panel = TrainPanel(self.settings)
        self.explorer_panel = ExplorerPanel(self.settings)
        self.gallery_panel = GalleryPanel(self.settings)
        self.sampling_panels = [self.generate_panel, self.text2image_panel, self.edit_panel, self.upscale_panel]
        self.addon_panels = [self.text2image_panel, self.edit_panel]  # the panels with LoRA, embedding and VAE rows
        for panel in self.addon_panels:
            panel.addons.loras.folders_changed.connect(self.addon_folders_changed)
            panel.addons.embeddings.folders_changed.connect(self.addon_folders_changed)
        # the tabs, in order: each says things in the status bar (status_message); those that list models re-list
        # them when asked (refresh_models); those with threads of their own stop them when the window closes
        self.panels = [(self.generate_panel, "Generate"), (self.text2image_panel, "Text to Image"),
                       (self.edit_panel, "Edit"), (self.upscale_panel, "Upscale"), (self.race_panel, "Race"),
                       (self.grid_panel, "Grid"), (self.train_panel, "Train"), (self.explorer_panel, "Forward process"),
                       (self.gallery_panel, "Gallery")]
        for panel, title in self.panels:
            self.tabs.addTab(panel, title)
            panel.status_message.connect(self.say)
        self.gallery_panel.restore_requested.connect(self.restore_from_png)
        self.gallery_panel.send_requested.connect(self.send_image)
        self.gallery_panel.rerun_requested.connect(self.rerun_with_new_seed)
        # a finished training lists its model everywhere but changes no panel's choice; "Use the new model" does
        self.train_panel.model_exported.connect(self.list_trained_model)
        self.train_panel.use_model_requested.connect(self.use_trained_model)
        self.train_panel.lora_exported.connect(self.list_trained_lora)
        self.train_panel.use_lora_requested.connect(self.use_trained_lora)
        self.setCentralWidget(self.tabs)

        self.backend_label = QLabel("Loading torch and diffusers…")
        self.statusBar().addPermanentWidget(self.backend_label)
        self.sampler.backend_ready.connect(self._on_backend_ready)
        self.sampler.backend_failed.connect(self._on_backend_failed)
        self._build_menus()
        self.quit_guard = QuitGuard(self, self.work_in_progress, self._stop_for_quit,
                                    lambda text: self.statusBar().showMessage(text))  # stays until the window goes

        app = QApplication.instance()
        apply_theme(app, self.settings.theme)
        app.styleHints().colorSchemeChanged.connect(self._follow_system_theme)

        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 720)

    def start_backend(self) -> None:
        """Start the sampler thread; it imports torch and diffusers off the GUI thread."""
        if not self.sampler.isRunning():
            self.sampler.start()

    def _add_action(self, menu, text: str, slot, shortcut: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())  # never the checked flag as a slot's first argument
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._add_action(file_menu, "Add model folder…", self.choose_model_folder, "Ctrl+O")
        self._add_action(file_menu, "Add checkpoint file…", self.choose_model_file, "Ctrl+Shift+A")
        self._add_action(file_menu, "Use an existing A1111 / ComfyUI folder…", self.choose_models_home)
        self._add_action(file_menu, "Download from the Hub…", self.open_download_dialog)
        self._add_action(file_menu, "Open output folder", self.open_output_folder, "Ctrl+Shift+O")
        self._add_action(file_menu, "Restore parameters from an image…", self.choose_png_to_restore, "Ctrl+Shift+R")
        file_menu.addSeparator()
        self._add_action(file_menu, "Quit", self.close, "Ctrl+Q")

        settings_menu = self.menuBar().addMenu("&Settings")
        self._add_action(settings_menu, "Preferences…", self.open_preferences, "Ctrl+,")

        view_menu = self.menuBar().addMenu("&View")
        theme_menu = view_menu.addMenu("Theme")
        self.theme_actions = QActionGroup(self)
        for key, label in THEMES.items():
            action = QAction(label, self, checkable=True)
            action.setData(key)
            action.setChecked(key == self.settings.theme)
            action.triggered.connect(lambda _checked, key=key: self.set_theme(key))
            self.theme_actions.addAction(action)
            theme_menu.addAction(action)

        queue_menu = self.menuBar().addMenu("&Queue")
        self._add_action(queue_menu, "Cancel current run", self.generate_panel.cancel, "Esc")  # on every tab
        self._add_action(queue_menu, "Cancel all", self.generate_panel.cancel_all, "Shift+Esc")

        help_menu = self.menuBar().addMenu("&Help")
        self._add_action(help_menu, "Keyboard shortcuts", self.show_shortcuts, "F1")
        self._add_action(help_menu, "About DDPM Studio", self.show_about)

    def current_sampling_panel(self):
        widget = self.tabs.currentWidget()
        return widget if widget in self.sampling_panels else self.generate_panel

    def choose_model_folder(self) -> None:
        """Add a folder from the current panel (it explains if the folder holds nothing for it); all panels re-list."""
        panel = self.current_sampling_panel()
        panel.choose_model_folder()
        self.refresh_all_models(except_panel=panel)

    def choose_model_file(self) -> None:
        """A single-file checkpoint goes to the prompt panels (the Generate panel takes pipeline folders only)."""
        panel = self.current_sampling_panel()
        if not panel.single_files:
            panel = self.text2image_panel
            self.tabs.setCurrentWidget(panel)
        panel.choose_model_file()
        self.refresh_all_models(except_panel=panel)

    def choose_models_home(self) -> bool:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Use an existing A1111 / ComfyUI folder")
        return bool(folder) and self.use_models_home(folder)

    def use_models_home(self, folder: str) -> bool:
        """List an A1111 / ComfyUI install's checkpoints, LoRAs, embeddings and VAEs in place; nothing is copied."""
        from ddpm_studio.engine.models.catalogue import ModelError
        from ddpm_studio.engine.models.home import models_home

        try:
            home = models_home(folder)
        except ModelError as exc:
            self.current_sampling_panel().show_error("Not an A1111 or ComfyUI folder", str(exc))
            return False
        self.settings.models_home = str(home.root)
        self.settings.sync()
        self.addon_folders_changed()
        self.refresh_all_models()
        self.statusBar().showMessage(f"Using {home.root}: {home.summary}", 8000)
        return True

    def addon_folders_changed(self) -> None:
        """The LoRA, embedding or VAE folders (or the models home) changed: the engine finds add-ons there from the
        next run, without reloading its model, and the LoRA, embedding, VAE and ControlNet lists are read again."""
        self.sampler.set_folders(self.settings.addon_folders)
        for panel in self.addon_panels:
            panel.addons.refresh()
            panel.control.refresh()
            if hasattr(panel, "styles"):  # a models home's styles.csv
                panel.styles.refresh()

    def list_trained_model(self, folder: str) -> None:
        self.settings.add_model_folder(folder)
        self.refresh_all_models()

    def use_trained_model(self, folder: str) -> None:
        """Sample from a model the Train panel exported: chosen in Generate, which fills in what it recommends."""
        self.generate_panel.add_trained_model(folder)
        self.tabs.setCurrentWidget(self.generate_panel)

    def list_trained_lora(self, path: str) -> None:
        """A LoRA the Train panel exported: its folder joins the user's LoRA folders, and the lists show it now."""
        folder = str(Path(path).parent)
        if folder not in self.settings.addon_folder_list("loras"):
            self.settings.add_own_folder("loras", folder)
        self.addon_folders_changed()

    def use_trained_lora(self, base: str, path: str) -> None:
        """Text to Image with the LoRA's base model chosen and the LoRA ticked at 0.8, its usual strength."""
        self.list_trained_lora(path)
        panel = self.text2image_panel
        panel.select_model(base)
        listed = panel.addons.loras.find(path)
        if listed is not None:
            panel.addons.loras.set_chosen(listed, True, 0.8)
        self.tabs.setCurrentWidget(panel)

    def say(self, text: str) -> None:
        """A panel's message in the status bar, for 8 s."""
        self.statusBar().showMessage(text, 8000)

    def refresh_all_models(self, except_panel=None) -> None:
        for panel, _title in self.panels:
            if panel is except_panel or not hasattr(panel, "refresh_models"):
                continue
            if panel in self.sampling_panels:
                panel.refresh_models(include_hf_cache=panel.ready)
            else:
                panel.refresh_models()

    def set_theme(self, choice: str) -> None:
        self.settings.theme = choice
        apply_theme(QApplication.instance(), choice)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == choice)

    def _follow_system_theme(self) -> None:
        if self.settings.theme == "system":
            apply_theme(QApplication.instance(), "system")

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.open()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.backend_label.text().removeprefix("Device: "), self)
        dialog.open()
        return dialog

    def open_download_dialog(self, endpoint: str | None = None) -> DownloadDialog:
        dialog = DownloadDialog(self, endpoint=endpoint)
        dialog.downloaded.connect(self._on_downloaded)
        dialog.open()
        return dialog

    def _on_downloaded(self, repo_id: str, kind: str) -> None:
        """A downloaded pipeline is listed at once and selected in the panel that takes it."""
        self.refresh_all_models()
        if kind != "pipeline":
            self.statusBar().showMessage(f"Downloaded {repo_id}", 8000)
            return
        for panel in self.sampling_panels:
            if panel.select_model(repo_id):
                self.tabs.setCurrentWidget(panel)
                self.statusBar().showMessage(f"Downloaded {repo_id}; selected in {self.tabs.tabText(self.tabs.currentIndex())}", 8000)
                return
        self.statusBar().showMessage(f"Downloaded {repo_id}, but no panel can use it yet", 8000)

    def open_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.settings, self)
        dialog.accepted.connect(lambda: self.apply_preferences(dialog.save(), dialog.history_budget.value(),
                                                               dialog.folders_changed))
        dialog.open()
        return dialog

    def apply_preferences(self, options: dict, history_budget_mb: int | None = None, folders_changed=False) -> None:
        self.sampler.configure(**options)
        if history_budget_mb is not None:
            self.sampler.history_budget = history_budget_mb * 1024 * 1024
        if folders_changed:
            self.addon_folders_changed()
            self.refresh_all_models()  # the models home's checkpoints may have come or gone
        self.statusBar().showMessage("Preferences saved; they apply from the next run", 8000)

    def open_output_folder(self) -> None:
        folder = Path(self.current_sampling_panel().output_dir.text()).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_backend_ready(self, device_label: str) -> None:
        self.backend_label.setText(f"Device: {device_label}")
        for panel, _title in self.panels:  # the tabs that run jobs on the sampler
            if hasattr(panel, "set_backend_ready"):
                panel.set_backend_ready(device_label)

    def _on_backend_failed(self, message: str) -> None:
        self.backend_label.setText("Sampler unavailable")
        self.generate_panel.show_error("The sampler could not start", message)

    # ---- drops: one of our PNGs restores its parameters ----
    def dragEnterEvent(self, event) -> None:
        if any(url.toLocalFile().lower().endswith(".png") for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith(".png"):
                self.restore_from_png(path)
                event.acceptProposedAction()
                return

    def choose_png_to_restore(self) -> bool:
        """Pick one of our PNGs (any earlier result, not only this session's) and restore what made it."""
        from PySide6.QtWidgets import QFileDialog

        start = Path(self.current_sampling_panel().output_dir.text()).expanduser()
        path, _ = QFileDialog.getOpenFileName(self, "Restore the parameters of an image", str(start) if start.is_dir()
                                              else str(Path.home()), "PNG images (*.png)")
        return bool(path) and self.restore_from_png(path)

    def restore_from_png(self, path: str) -> bool:
        """Open the panel that made this PNG and put its parameters back."""
        from ddpm_studio.engine.output.metadata import MetadataError, read_metadata

        try:
            kind = read_metadata(path)["job"].get("kind")
        except (MetadataError, AttributeError) as exc:
            self.current_sampling_panel().show_error("Cannot restore parameters", str(exc))
            return False
        panel = next((p for p in self.sampling_panels if p.job_type.kind == kind), self.current_sampling_panel())
        self.tabs.setCurrentWidget(panel)
        return panel.restore_from_png(path)

    def send_image(self, path: str, where: str) -> bool:
        """A gallery image as the input of Edit, Upscale or the forward-process explorer."""
        from ddpm_studio.ui.gallery.handoff import send_with_prompts

        panel = {"edit": self.edit_panel, "upscale": self.upscale_panel, "explorer": self.explorer_panel}[where]
        self.tabs.setCurrentWidget(panel)
        if where == "explorer":  # the forward process takes a picture, no prompt
            return panel.load_image(path)
        return send_with_prompts(panel, path, self.tabs.tabText(self.tabs.indexOf(panel)))

    def rerun_with_new_seed(self, path: str):
        """Make a gallery image again with everything the same but the seed (a new random one): one image, the
        panel's batch size and Random box left as they were (gallery_handoff.py)."""
        from ddpm_studio.ui.gallery.handoff import again_with_new_seed

        return again_with_new_seed(self, path)

    def work_in_progress(self) -> list[str]:
        """What quitting now would stop, in words; empty when nothing runs."""
        busy = []
        if self.sampler.active:
            busy.append("a run")
        if self.train_panel.training:
            busy.append("a training")
        return busy

    def _stop_for_quit(self) -> dict:
        """Save the settings, ask every worker to stop; the threads that still run, each with what it does in words
        (the window closes after them)."""
        for panel in self.sampling_panels:
            panel.save_settings()
        self.settings.set_geometry(self.saveGeometry())
        self.settings.sync()
        threads = self.train_panel.request_stop()
        if self.sampler.isRunning():
            self.sampler.request_shutdown()
            threads[self.sampler] = "the run"
        return threads

    def closeEvent(self, event) -> None:
        """One quit for the close button, File → Quit and Ctrl+Q: ask while a run or training is in progress, stop
        them, and close once their threads have ended (quitting.py)."""
        if not self.quit_guard.may_close():
            event.ignore()
            return
        for panel, _title in self.panels:  # the threads still theirs (a folder scan, thumbnails) are short: waited for
            if hasattr(panel, "shutdown"):
                panel.shutdown()
        super().closeEvent(event)
