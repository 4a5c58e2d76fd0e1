"""Desktop polish: theme (system, light, dark; remembered), the shortcut list, the About dialog, window geometry."""

from __future__ import annotations

from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import QApplication

from ddpm_studio.ui.core.settings import Settings


def lightness(app) -> int:
    return app.palette().color(QPalette.ColorRole.Window).lightness()


def test_theme_choice_applies_and_is_remembered(make_window, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    window = make_window(settings)
    app = QApplication.instance()
    window.set_theme("dark")
    assert lightness(app) < 80 and Settings(tmp_path / "settings.ini").theme == "dark"
    checked = [a.data() for a in window.theme_actions.actions() if a.isChecked()]
    assert checked == ["dark"]
    window.set_theme("light")
    assert lightness(app) > 180
    window.set_theme("system")  # offscreen reports no dark scheme: light
    assert lightness(app) > 180 and Settings(tmp_path / "settings.ini").theme == "system"


def test_shortcut_list_holds_every_menu_shortcut(make_window, tmp_path):
    window = make_window(Settings(tmp_path / "settings.ini"))
    dialog = window.show_shortcuts()
    listed = {dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())}
    with_keys = [a for a in window.findChildren(QAction) if not a.shortcut().isEmpty()]
    assert len(with_keys) >= 6
    for action in with_keys:
        assert action.shortcut().toString() in listed, action.text()
    assert {"Ctrl+Enter", "Esc", "Space", "Home / End"} <= listed
    dialog.close()
    window.show_about().close()  # a dialog's own shortcut (About's Ctrl+C copies its versions) is not the app's
    rows = window.show_shortcuts().rows
    assert [keys for keys, _ in rows].count("Esc") == 1 and not [what for _, what in rows if "versions" in what]


def test_menu_items_open_what_they_say(make_window, tmp_path):
    """A menu item's slot never gets the item's checked flag: Download from the Hub opened with endpoint=False and
    could not reach the Hub at all."""
    from ddpm_studio.ui.dialogs.download import DownloadDialog

    window = make_window(Settings(tmp_path / "settings.ini"))
    action = next(a for a in window.findChildren(QAction) if a.text() == "Download from the Hub…")
    action.trigger()
    dialog = next(d for d in window.findChildren(DownloadDialog) if d.isVisible())
    assert dialog.endpoint is None
    dialog.close()


def test_about_names_versions_and_the_font_licence(make_window, tmp_path):
    window = make_window(Settings(tmp_path / "settings.ini"))
    dialog = window.show_about()
    titles = dialog.tab_titles()
    assert titles[:2] == ["Versions", "DDPM Studio"] and {"NotoColorEmoji-OFL-1.1", "OpenAI-CLIP-MIT"} <= set(titles)
    versions = dialog.versions_text()
    assert "torch" in versions and "diffusers" in versions and "not installed" not in versions.split("PySide6")[0]
    licence = dialog.tabs.widget(titles.index("NotoColorEmoji-OFL-1.1")).toPlainText()
    assert "SIL OPEN FONT LICENSE" in licence.upper()
    dialog.close()


def test_window_fits_a_small_screen_and_its_geometry_is_remembered(make_window, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    first = make_window(settings)
    minimum = first.minimumSizeHint()
    assert minimum.width() <= 800 and minimum.height() <= 700  # 1024×768 laptops, with a taskbar
    first.resize(790, 700)
    assert (first.width(), first.height()) == (790, 700)
    first.close()
    second = make_window(Settings(tmp_path / "settings.ini"))
    assert (second.width(), second.height()) == (790, 700)


def test_no_settings_column_is_wider_than_its_cap(make_window, tmp_path):
    """Each panel's settings column scrolls vertically but is capped in width; a row that asks for more (a combo box
    sized to its longest label) would be clipped on the right, so none may."""
    from ddpm_studio.ui.widgets.common import _ColumnScroll

    window = make_window(Settings(tmp_path / "settings.ini"))
    columns = window.findChildren(_ColumnScroll)
    assert len(columns) >= 6  # one per tab
    for column in columns:
        needed = column.widget().minimumSizeHint().width() + column.verticalScrollBar().sizeHint().width() + 2
        assert needed <= column.most, f"{column.parentWidget().parentWidget().__class__.__name__}: {needed} > {column.most}"
