"""Both themes, as painted: the LoRA and embedding lists' names, greyed names, trigger-word links and check boxes
read against what is behind them — sampled from the rendered widgets, with real tiny add-on files listed."""

from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QStyle

from ddpm_studio.ui.core.settings import Settings
from tests.tiny_addons import save_embedding, save_lora
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl

READABLE = 4.5  # WCAG's contrast for text
VISIBLE = 3.0  # WCAG's contrast for what is not text (a check box's frame), and our floor for greyed names


@pytest.fixture(scope="module")
def addon_home(tmp_path_factory):
    """A tiny SD model; LoRAs for it (one with trigger words) and one for SDXL; an embedding for each family."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    root = tmp_path_factory.mktemp("home")
    save_tiny_sd(root / "models" / "tiny-sd")
    pipe = StableDiffusionPipeline.from_pretrained(root / "models" / "tiny-sd", safety_checker=None)
    save_lora(root / "loras" / "ink-style.safetensors", pipe, tags={"sks": 5, "inky": 3})
    save_lora(root / "loras" / "detail.safetensors", pipe, seed=2)
    xl = StableDiffusionXLPipeline.from_pretrained(save_tiny_sdxl(root / "xl" / "tiny-sdxl"))
    save_lora(root / "loras" / "xl-only.safetensors", xl, seed=3)
    save_embedding(root / "embeddings" / "my-style.safetensors", (32,))  # the tiny SD's text encoder is 32 wide
    save_embedding(root / "embeddings" / "sd15-neg.safetensors", (768,), vectors=8)
    return root


def luminance(rgb) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colours(image: QImage, rect: QRect) -> list[tuple[int, int, int]]:
    rect = rect.intersected(image.rect())
    return [image.pixelColor(x, y).getRgb()[:3] for y in range(rect.top(), rect.bottom() + 1)
            for x in range(rect.left(), rect.right() + 1)]


def strongest(pixels, keep=lambda rgb: True) -> float:
    """The contrast of the pixel (among those ``keep`` takes) that stands out most from the commonest colour."""
    background = Counter(pixels).most_common(1)[0][0]
    return max((contrast(p, background) for p in pixels if keep(p)), default=1.0)


def bluish(rgb) -> bool:
    return rgb[2] > rgb[0] + 40


@pytest.fixture(params=[("dark", "dark"), ("light", "dark"), ("dark", "light")],
                ids=["dark at start", "switched to dark", "switched to light"])
def panel(request, make_window, tmp_path, addon_home):
    """Text to Image with both lists open and the LoRA with trigger words ticked, in the theme under test (chosen
    before the window opens, or switched to while it is open)."""
    start, theme = request.param
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.theme = start
    settings.add_model_folder(str(addon_home / "models"))
    settings.add_own_folder("loras", str(addon_home / "loras"))
    settings.add_own_folder("embeddings", str(addon_home / "embeddings"))
    window = make_window(settings)
    window.resize(1280, 800)
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.addons.loras.toggle.click()
    panel.addons.embeddings.toggle.click()
    item(panel.addons.loras, "ink-style").setCheckState(Qt.CheckState.Checked)
    for _ in range(3):  # shown in the theme it started in
        QApplication.processEvents()
    if theme != start:
        window.set_theme(theme)
    for _ in range(3):
        QApplication.processEvents()
    yield panel
    window.set_theme("light")  # the app is shared by the tests after this one


def item(file_list, name: str):
    return next(i for i in file_list.items() if i.text().split()[0] == name)


def item_areas(file_list, name: str, check_box: bool) -> tuple[QImage, QRect, QRect]:
    """The rendered list, and its row for ``name`` split into the check box's part and the text's."""
    image = file_list.list.viewport().grab().toImage()
    rect = file_list.list.visualItemRect(item(file_list, name))
    style = file_list.list.style()
    box = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 8 if check_box else 0
    return image, QRect(rect.left(), rect.top(), box, rect.height()), rect.adjusted(box, 0, 0, 0)


@pytest.mark.parametrize("which", ["loras", "embeddings"])
def test_names_read_and_greyed_names_are_dimmer_but_visible(panel, which):
    file_list = getattr(panel.addons, which)
    usable, greyed = ("ink-style", "xl-only") if which == "loras" else ("my-style", "sd15-neg")
    image, _, usable_text = item_areas(file_list, usable, which == "loras")
    usable_contrast = strongest(colours(image, usable_text))
    image, _, greyed_text = item_areas(file_list, greyed, which == "loras")
    greyed_contrast = strongest(colours(image, greyed_text))
    assert usable_contrast >= READABLE, usable_contrast
    assert VISIBLE <= greyed_contrast < usable_contrast * 0.8, (greyed_contrast, usable_contrast)


def test_trigger_word_links_are_light_enough(panel):
    row = next(iter(panel.addons.loras.rows.values()))
    assert row.triggers.isVisible() and ">sks<" in row.triggers.text()
    image = row.triggers.grab().toImage()
    pixels = colours(image, image.rect())
    assert any(bluish(p) for p in pixels)
    assert strongest(pixels, bluish) >= READABLE


def test_unticked_check_boxes_show_their_frame(panel):
    loras = panel.addons.loras
    for name in ("detail", "xl-only"):  # usable and greyed: both can be ticked
        image, box, _ = item_areas(loras, name, True)
        assert item(loras, name).checkState() == Qt.CheckState.Unchecked
        assert strongest(colours(image, box)) >= VISIBLE, name
    check_box = panel.hires.enabled  # a check box of its own, on the window's colour
    assert not check_box.isChecked()
    image = check_box.grab().toImage()
    indicator = check_box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 2
    background = Counter(colours(image, image.rect())).most_common(1)[0][0]
    frame = colours(image, QRect(0, 0, indicator, image.height()))
    assert max(contrast(p, background) for p in frame) >= VISIBLE
