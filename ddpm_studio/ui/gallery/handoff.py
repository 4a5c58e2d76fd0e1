"""What the Gallery hands to the other tabs, as A1111's "Send to img2img" does: a picture sent to Edit or Upscale comes
with its prompt and negative prompt (read from the file: ours, A1111's, ComfyUI's or InvokeAI's); "Again, new seed" makes
one image of the restored job with a new seed, leaving the panel's batch size and Random box as the user set them."""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.gallery.rows import RowError, row_from_png
from ddpm_studio.engine.jobs.checks import JobError


def send_with_prompts(panel, path: str, tab: str) -> bool:
    """The picture at ``path`` as the input of ``panel`` (Edit or Upscale, called ``tab``), with the prompts that made
    it: what to change for an edit, what the picture shows for an upscaler. A picture without a prompt, such as an
    unconditional model's, leaves the panel's prompts as they are."""
    if not panel.load_image(path):
        return False
    try:
        row = row_from_png(path)
    except RowError:
        return True  # the picture opened; its text could not be read: the prompts stay
    if row.get("prompt") or row.get("negative"):
        panel.prompts.prompt.setPlainText(row.get("prompt") or "")
        panel.prompts.negative.setPlainText(row.get("negative") or "")
        panel.status_message.emit(f"{Path(path).name} is in {tab} with its prompt")
    return True


def again_with_new_seed(window, path: str):
    """Restore the job of the picture at ``path`` into its panel and run one image of it with a new seed; the
    panel's batch size and Random box are put back as they were. The run's task, or None."""
    kept = {panel: (panel.batch.value(), panel.random_seed.isChecked()) for panel in window.sampling_panels}
    if not window.restore_from_png(path):
        return None
    panel = window.current_sampling_panel()
    batch, random_on = kept.get(panel, (panel.batch.value(), panel.random_seed.isChecked()))
    panel.seed_field.roll()  # shown in the field: a run's seed is never a secret
    try:
        job = panel.current_job().replace(batch_size=1)
    except JobError as exc:
        panel.show_error("Check the parameters", str(exc))
        return None
    finally:
        panel.batch.setValue(batch)
        panel.random_seed.setChecked(random_on)
    if not panel.ready:
        panel.status_message.emit("Restored with a new seed; the sampler is still loading — press Generate when it "
                                  "is ready")
        return None
    return panel.submit(job)
