"""Which flow family a LoRA file is for, told from its keys and shapes alone (its safetensors header: no torch), so
that the LoRA list greys what the chosen model cannot take and a run refuses it by name before anything loads.

A flow LoRA names the layers of its family's transformer, in one of the layouts artists download: the original
(BFL, Stability, Alibaba, Tongyi) module names, as kohya writes them (``lora_unet_double_blocks_0_img_attn_qkv``,
underscores for dots, ``lora_down``/``lora_up``/``alpha``) or as ComfyUI and AI-Toolkit write them
(``diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight``), or diffusers' names (``transformer.…``). The names
that tell each family, from the transformers' own modules (diffusers' conversion functions in
``loaders/lora_conversion_utils.py`` and ``loaders/single_file_utils.py`` map the originals onto them):

- Flux.1 and Chroma: ``double_blocks``/``single_blocks`` (original) or ``single_transformer_blocks`` (diffusers).
  A Flux.1 LoRA fits both: Chroma is Flux.1 schnell's blocks with the modulation pruned, and ComfyUI applies Flux.1
  LoRAs to it (the layers Chroma has not, ``img_mod`` …, are left out: diffusers' loader skips them too). One that
  names Chroma's own ``distilled_guidance_layer`` is Chroma's only.
- Flux.2 Klein: the same original block names, but a single block's fused ``linear1`` is 9 widths out for 1 in
  (q, k, v and a gated MLP of ratio 3: Flux2Transformer2DModel's ``mlp_ratio``) where Flux.1's is 7 (q, k, v and an
  MLP of ratio 4), shared ``double_stream_modulation``, and diffusers' ``to_qkv_mlp_proj``/``ff.linear_in``.
- SD 3.5: MMDiT ``joint_blocks`` with ``x_block``/``context_block`` (original), or diffusers' ``transformer_blocks``
  with a context stream (``add_q_proj``, ``ff_context``) and no single-stream blocks.
- Qwen-Image: ``transformer_blocks`` with ``img_mod``/``img_mlp``/``txt_mlp`` (its original names are diffusers').
- Z-Image: ``layers`` with ``attention``/``feed_forward``, ``noise_refiner``, ``context_refiner``.

An attention-only diffusers-layout LoRA (``transformer_blocks.N.attn.to_q`` …) could be Flux.1's, Chroma's, Qwen-
Image's or SD 3.5's: all of those stay possible (a block index past a family's depth rules it out) and the run's
loader decides."""

from __future__ import annotations

import re

SD_UNET_WORDS = ("down_blocks", "up_blocks", "mid_block", "input_blocks", "output_blocks", "middle_block")
SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".lora_A.weight", ".lora_B.weight", ".alpha", ".lora_A",
            ".lora_B", ".lora_down", ".lora_up")
# the depth of each family's largest model (its config's num_layers): a block index past it is another family's
DOUBLE_DEPTH = {"flux": 19, "chroma": 19, "sd3": 38, "qwenimage": 60}  # FLUX.1-dev, Chroma1-HD, SD 3.5 Large, Qwen
ALL_FLOW = ("flux", "chroma", "klein", "sd3", "qwenimage", "zimage")


def _flat(key: str) -> str:
    """A key without its LoRA suffix, dots as underscores (kohya's spelling), so one test reads every layout."""
    for suffix in SUFFIXES:
        if key.endswith(suffix):
            key = key[: -len(suffix)]
            break
    return key.replace(".", "_")


def _single_ratio(shapes: dict[str, list[int]]) -> int:
    """out/in of an original single-stream block's fused ``linear1`` (7 Flux.1, 9 Flux.2), 0 when the file does
    not hold one whole."""
    for key, shape in shapes.items():
        if "single_blocks" in key and "linear1" in key and any(m in key for m in (".lora_up.", ".lora_B.")):
            down = key.replace(".lora_up.", ".lora_down.").replace(".lora_B.", ".lora_A.")
            inner = shapes.get(down)
            if len(shape) == 2 and inner and len(inner) == 2 and inner[1] and shape[0] % inner[1] == 0:
                return shape[0] // inner[1]
    return 0


def _deepest(flat: list[str], word: str) -> int:
    found = [int(m.group(1)) for k in flat for m in [re.search(rf"(?:^|_){word}_(\d+)_", k)] if m]
    return max(found, default=-1)


def flow_families(shapes: dict[str, list[int]]) -> tuple[str, ...]:
    """The flow families (families.py keys) a LoRA with these keys and shapes may be for, most likely first; () for
    a Stable Diffusion UNet's LoRA or a file that names no flow transformer's layers."""
    flat = [_flat(k) for k in shapes]
    if any(w in k for k in flat for w in SD_UNET_WORDS):
        return ()

    def has(*words: str) -> bool:
        return any(w in k for k in flat for w in words)

    if has("double_blocks", "single_blocks"):  # Flux.1, Chroma and Flux.2's original names
        ratio = _single_ratio(shapes)
        if has("double_stream_modulation", "single_stream_modulation") or ratio == 9:
            return ("klein",)
        if has("distilled_guidance_layer"):
            return ("chroma",)
        return ("flux", "chroma")  # Flux.1's modulation layers, which Chroma pruned, are left out there
    if has("to_qkv_mlp_proj", "ff_linear_in", "double_stream_modulation"):  # Flux2Transformer2DModel's
        return ("klein",)
    if has("joint_blocks", "context_block", "x_block"):
        return ("sd3",)
    if has("noise_refiner", "context_refiner") or any(re.search(r"(?:^|_)layers_\d+_(attention|feed_forward)_", k)
                                                      for k in flat):
        return ("zimage",)
    if has("single_transformer_blocks"):  # diffusers' Flux.1 (and Chroma)
        if has("distilled_guidance_layer"):
            return ("chroma",)
        return ("flux", "chroma")
    if has("transformer_blocks"):
        if has("img_mod", "img_mlp", "txt_mlp", "txt_mod"):
            return ("qwenimage",)
        deepest = _deepest(flat, "transformer_blocks")
        return tuple(f for f in ("flux", "chroma", "qwenimage", "sd3") if deepest < DOUBLE_DEPTH[f])
    return ()
