"""The A1111 parameters that name the files a run used, with their short hashes (``file_hashes``), as A1111 writes
them: ``Model hash`` (a single-file checkpoint), ``VAE hash`` and ``VAE``, ``Lora hashes: "name: hash, …"`` and
``TI hashes: "name: hash, …"``. A LoRA chosen from the list, not by a tag, is also written into the prompt line as a
``<lora:NAME:WEIGHT>`` tag, where A1111 would have it, so other tools see every LoRA."""

from __future__ import annotations

from ddpm_studio.engine.output.file_hashes import embedding_hash, lora_hash, model_hash
from ddpm_studio.engine.prompts.syntax import lora_tags


def _weight(value: float) -> str:
    return f"{value:g}"


def prompt_line(prompt: str, used) -> str:
    """``prompt`` as A1111 would write it: every LoRA chosen from the list (not by a tag) added as a tag."""
    if used is None:
        return prompt
    tagged = {t.name for t in lora_tags(prompt)[1]}
    listed = [f"<lora:{name}:{_weight(weight)}>" for name, weight, _ in used.loras if name not in tagged]
    return " ".join([prompt.rstrip(), *listed]).strip() if listed else prompt


def addon_fields(info, job, used, vae_slot) -> dict:
    """``{"before": [(key, value)…], "after": […], "prompt": text, "files": {…}}`` for ``metadata.png_info``: the
    A1111 fields, and for our own JSON chunk the names of the LoRAs, embeddings and VAE used (which
    ``addons/resources.missing_files`` looks for when the image is restored)."""
    before, after = [], []
    files: dict = {}
    if info.single_file:
        before.append(("Model hash", model_hash(info.path)))
    prompt = getattr(job, "prompt", "")
    if used is not None:
        vae_key = getattr(vae_slot, "current", None)
        if vae_key:
            from pathlib import Path

            vae_path = Path(vae_key[0])
            if vae_path.is_file():
                after.append(("VAE hash", model_hash(vae_path)))
            after.append(("VAE", vae_path.name))
            files["vae"] = vae_path.name
        prompt = prompt_line(prompt, used)
        if used.loras:
            after.append(("Lora hashes", ", ".join(f"{name}: {lora_hash(path)}" for name, _, path in used.loras)))
            files["loras"] = [name for name, _, _ in used.loras]
        if used.embeddings:
            after.append(("TI hashes", ", ".join(f"{name}: {embedding_hash(path)}" for name, path in used.embeddings)))
            files["embeddings"] = [name for name, _ in used.embeddings]
    return {"before": before, "after": after, "prompt": prompt, "files": files}
