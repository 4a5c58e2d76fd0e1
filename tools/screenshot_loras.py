"""The docs' screenshot of Text to Image with two LoRAs chosen and a weighted prompt, taken offscreen on a tiny
random-weight SD pipeline (its pictures are noise: the shot is about the panel) and kohya-layout LoRAs made for it.

    python tools/screenshot_loras.py --out docs/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_files(root: Path) -> tuple[Path, Path]:
    from diffusers import StableDiffusionPipeline

    from tests.tiny_addons import save_lora
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(root / "models" / "my-sd15-model")
    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True)
    loras = root / "Lora"
    save_lora(loras / "watercolor_v2.safetensors", pipe, seed=1,
              tags={"watercolor": 14, "ink wash": 9, "paper texture": 5, "soft light": 3})
    save_lora(loras / "add_detail.safetensors", pipe, seed=2)
    save_lora(loras / "film_grain.safetensors", pipe, seed=3)
    save_lora(loras / "toon_shading.safetensors", pipe, seed=4, tags={"toon": 20, "cel shading": 11})
    return model.parent, loras


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()

    from PySide6.QtCore import Qt

    from tools.screenshot import ready_window, start_app

    app, tmp, settings = start_app()
    models, loras = make_files(tmp)
    settings.add_model_folder(str(models))
    settings.add_own_folder("loras", str(loras))
    window = ready_window(app, settings, (1180, 800))
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.prompts.prompt.setPlainText("a lighthouse on a cliff at dusk, (oil painting:1.2), [fog], watercolor")
    panel.prompts.negative.setPlainText("blurry, (text:1.3)")
    panel.width_box.setValue(256)
    panel.height_box.setValue(256)
    panel.steps.setValue(20)
    panel.random_seed.setChecked(False)
    panel.seed.setText("2026")
    lora_list = panel.addons.loras
    lora_list.toggle.click()
    for name, weight in (("watercolor_v2", 0.8), ("add_detail", -0.5)):
        item = next(lora_list.list.item(i) for i in range(lora_list.list.count())
                    if lora_list.loras[lora_list.list.item(i).data(Qt.ItemDataRole.UserRole)].name == name)
        item.setCheckState(Qt.CheckState.Checked)
        lora_list.rows[item.data(Qt.ItemDataRole.UserRole)].spin.setValue(weight)
    done = []
    window.sampler.job_finished.connect(lambda *_: done.append(1))
    panel.generate()
    while not done:
        app.processEvents()
    for _ in range(30):
        app.processEvents()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "screenshot-loras.png"))
    window.close()


if __name__ == "__main__":
    main()
