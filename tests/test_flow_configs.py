"""The config folders and tokenizers that ship for SD 3.5, Flux.1 and Chroma files (tools/write_flow_configs.py,
tools/derive_text_tokenizers.py): each model built from its folder on the meta device has its published size, and
the shipped T5 and Qwen3 tokenizers give their models' own ids, offline."""

from __future__ import annotations

import json

import pytest
import torch

from ddpm_studio.engine.models.tokenizers import load_tokenizer, shipped, tokenizer_folder
from ddpm_studio.paths import resources_dir

CONFIGS = resources_dir() / "configs"
# billions of parameters (and persistent buffers: SD3's position table), as the model cards publish them
PUBLISHED = {("sd3.5-large", "transformer"): 8.1, ("sd3.5-medium", "transformer"): 2.5,
             ("flux.1-dev", "transformer"): 11.9, ("flux.1-schnell", "transformer"): 11.9,
             ("sd3.5-large", "text_encoder_3"): 4.76, ("flux.1-dev", "text_encoder_2"): 4.76,
             ("sd3.5-medium", "text_encoder_2"): 0.695, ("flux.1-dev", "text_encoder"): 0.123,
             ("sd3.5-medium", "vae"): 0.084,
             # Chroma1-HD's model card: 8.9 B (Flux.1 schnell pruned), with the T5-XXL encoder alone
             ("chroma", "transformer"): 8.9, ("chroma", "text_encoder"): 4.76,
             # Qwen-Image's model card: a 20 B MMDiT; Qwen2.5-VL-7B-Instruct's: 8.29 B; Wan 2.1's VAE: 127 M
             ("qwen-image", "transformer"): 20.4, ("qwen-image", "text_encoder"): 8.29, ("qwen-image", "vae"): 0.127,
             # Z-Image's model card: a 6.15 B transformer; Qwen3-4B's: 4.0 B (the LM head tied to the embedding)
             ("z-image-turbo", "transformer"): 6.15, ("z-image-turbo", "text_encoder"): 4.0,
             # FLUX.2-klein-4B's and -9B's model cards: 4 B (3.9 B, rounded in its name) and 9 B flow transformers;
             # Qwen3-8B's: 8.2 B
             ("flux.2-klein-4b", "transformer"): 3.9, ("flux.2-klein-9b", "transformer"): 9.0,
             ("flux.2-klein-9b", "text_encoder"): 8.2, ("flux.2-klein-4b", "vae"): 0.084}


def _build(folder, part):
    import diffusers
    import transformers

    library, class_name = json.loads((folder / "model_index.json").read_text())[part]
    with torch.device("meta"):
        if library == "diffusers":
            cls = getattr(diffusers, class_name)
            return cls.from_config(cls.load_config(folder / part))
        return getattr(transformers, class_name)(transformers.AutoConfig.from_pretrained(folder / part))


@pytest.mark.parametrize(("name", "part"), sorted(PUBLISHED))
def test_each_shipped_config_builds_its_published_model(name, part):
    model = _build(CONFIGS / name, part)
    count = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    assert count / 1e9 == pytest.approx(PUBLISHED[name, part], rel=0.02)


def test_the_variants_differ_where_their_repos_do():
    def transformer(name):
        return json.loads((CONFIGS / name / "transformer" / "config.json").read_text())

    assert transformer("flux.1-dev")["guidance_embeds"] and not transformer("flux.1-schnell")["guidance_embeds"]
    assert transformer("sd3.5-medium")["dual_attention_layers"] and not transformer("sd3.5-large")["dual_attention_layers"]
    vae = {name: json.loads((CONFIGS / name / "vae" / "config.json").read_text()) for name in ("sd3.5-large", "flux.1-dev")}
    assert (vae["sd3.5-large"]["scaling_factor"], vae["flux.1-dev"]["shift_factor"]) == (1.5305, 0.1159)


def test_chromas_folder_is_flux_schnells_pruned_with_t5_alone():
    index = json.loads((CONFIGS / "chroma" / "model_index.json").read_text())
    assert index["transformer"] == ["diffusers", "ChromaTransformer2DModel"] and "text_encoder_2" not in index
    assert index["text_encoder"] == ["transformers", "T5EncoderModel"]
    flux, chroma = ({rel: json.loads((CONFIGS / name / rel).read_text()) for rel in
                     ("vae/config.json", "transformer/config.json")} for name in ("flux.1-schnell", "chroma"))
    assert chroma["vae/config.json"] == flux["vae/config.json"]  # Flux.1's ae.safetensors
    assert all(chroma["transformer/config.json"][key] == flux["transformer/config.json"][key]
               for key in ("num_layers", "num_single_layers", "num_attention_heads", "attention_head_dim"))


def test_the_tool_writes_what_ships(tmp_path):
    from tools import write_flow_configs as tool

    for path in tool.write(tmp_path):
        rel = path.relative_to(tmp_path)
        assert path.read_text() == (CONFIGS / rel).read_text(), rel


def test_the_shipped_t5_tokenizer_gives_t5s_ids():
    assert tokenizer_folder("t5") == shipped("t5")  # the test cache is empty: the shipped copy
    tokenizer = load_tokenizer("t5")
    assert tokenizer("a photo of a cat").input_ids == [3, 9, 1202, 13, 3, 9, 1712, 1]  # google/t5-v1_1-xxl's
    assert tokenizer.model_max_length == 512 and tokenizer.pad_token_id == 0


def test_the_shipped_qwen3_tokenizer_reads_its_packed_file():
    tokenizer = load_tokenizer("qwen3")
    assert len(tokenizer) == 151669  # 151,643 byte-level tokens + Qwen3's 26 special ones
    assert tokenizer.convert_tokens_to_ids(["<|im_start|>", "<think>"]) == [151644, 151667]
    assert tokenizer("hello world").input_ids == [14990, 1879]


def test_a_users_own_folder_wins(tmp_path):
    own = tmp_path / "tokenizer_3"
    own.mkdir()
    (own / "tokenizer.json").write_text((shipped("t5") / "tokenizer.json").read_text())
    assert tokenizer_folder("t5", own) == own
