"""Facts about the Stable Diffusion families by their short names (sd1, sd2, sdxl), written once and read by the
model catalogue, the add-on listings and ControlNet: the name a user reads, each family's cross-attention width (how
a LoRA, an embedding or a ControlNet shows which family it was made for) and the file suffixes of pickled weights.
The start of the family table (issue 28): the next families add rows here. No torch, no Qt."""

from __future__ import annotations

FAMILY_NAMES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}
ARCH_CONTEXT = {"sd1": 768, "sd2": 1024, "sdxl": 2048}  # each family's cross-attention width: its text embeddings'
ARCH_BY_CONTEXT = {width: arch for arch, width in ARCH_CONTEXT.items()}
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")  # read only by torch's weights-only loader, when allowed
