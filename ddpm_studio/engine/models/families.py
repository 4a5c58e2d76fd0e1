"""The family table: everything the code knows about a latent model family, one row each, read by the catalogue
(how a folder or a single file is recognised), the pipeline loader (which diffusers pipeline runs each mode),
ControlNet and the hires fix (their pipelines), the previews (the latent→RGB map, TAESD), the add-on listings (a
LoRA's, an embedding's or a ControlNet's cross-attention width tells its family), the LoRA trainer and exporter
(resolution, kohya's base-model names) and the panels (default size). Adding a family is adding a row
here and its tiny test model in ``tests/tiny_<family>.py``. What a row holds, and the row itself, are in
family_row.py; no torch, no Qt, no other module of ours.

Rows are keyed by their short names (sd1, sd2, sdxl) — the names of their config folders under
``resources/configs`` and of ``ModelInfo.arch``. A model's *variant* is what its denoiser's input channels make
it: a normal model (4), an inpainting one (9: latents, mask, masked picture), an InstructPix2Pix one (8), or, where
variants share their channels, the pipeline class of its folder (Flux.1 Kontext, Qwen-Image-Edit); the
variant's ``kind`` is the catalogue's ``ModelInfo.family`` (``stable-diffusion-inpaint``), which the panels list by.

A single file's own keys may say what its UNet predicts: SDXL v-prediction finetunes carry a ``v_pred`` key, and
``ztsnr`` when trained with zero terminal SNR (read as ComfyUI and Forge read them).

Latent→RGB factors (latent channels → RGB, applied to model-space latents) are the ones ComfyUI publishes in
``comfy/latent_formats.py`` (classes SD15, SDXL and SD3, the latter two with their bias).

Stable Diffusion 3 / 3.5 (``sd3``) is a flow-matching family: an MMDiT transformer (its folder ``transformer``, its
context width ``joint_attention_dim``) on a 16-channel VAE with a shift factor, two CLIP encoders and T5, which may be
left out (``optional_parts``); it takes plain text (no A1111 weights) and, of the add-ons, the hires fix only (its
second pass through the img2img pipeline with the flow Euler scheduler, whose ``scale_noise`` that pipeline needs).

Flux.1 (``flux``) is one too: a transformer on a 16-channel VAE with a shift factor, CLIP-L (its pooled text) and T5
(the context). Its transformer reads latents packed 2×2 into tokens (``packed``: 16 channels × 4 = its 64 inputs,
which name its variant); its guidance is distilled into the transformer (no negative prompt: ``negative_prompt``),
but its pipeline can also run true CFG with a negative prompt where the user asks (``true_cfg``).
Its PNGs' parameters name its guidance as Forge does (``guidance_field``: ``Distilled CFG Scale``). A Flux folder whose
transformer has no guidance embedding is schnell-like (``flavours``): it brings schnell's defaults.

Chroma (``chroma``) is Flux.1 schnell pruned and de-distilled: the same 16-channel VAE and 2×2 packing, T5 alone
(no CLIP), and real classifier-free guidance with a negative prompt (its ``guidance_scale``). Its diffusion-model
files are known by the approximator that replaced Flux's modulation (``distilled_guidance_layer``).

Z-Image (``zimage``, Turbo and its base) is one too: a single-stream transformer (its context width ``cap_feat_dim``)
that patchifies 2×2 inside, so its scheduler holds plain 16-channel latents, on Flux.1's VAE (ComfyUI's Z-Image, a
Lumina2 model, uses the Flux latent format); one Qwen3 text encoder. Its pipeline keeps x_t in float32 whatever the
transformer's dtype (``float32_latents``), takes its own sigmas (so only the solvers whose ``set_timesteps`` takes
sigmas), and runs true CFG with the negative prompt at any guidance above 0 (``cfg_above``): Turbo is sampled at 0.

Qwen-Image (``qwenimage``) is one too: a transformer on latents packed 2×2 like Flux's, read from a Wan-style VAE of
video frames whose 16 channels are normalised by their mean and std (``LatentRGB.latents_mean``/``latents_std``), and
one text encoder, Qwen2.5-VL. Its guidance is classifier-free, as the pipeline's ``true_cfg_scale`` with a negative
prompt (``guidance_argument``): the job's guidance scale goes there, and an empty negative prompt is sent as " " (what
its model card does) so that guidance above 1 always runs both passes.

Flux.2 Klein (``klein``, 4B and 9B) is a transformer on a 32-channel VAE (``AutoencoderKLFlux2``) that has no scaling
factor: its latents are patchified 2×2 (128 values, its transformer's inputs) and normalised by the VAE's batch-norm
running statistics, then packed one token per patch. Its context is three hidden states of a Qwen3 causal LM side by
side (Qwen3-4B's 3 × 2560 in the 4B). Its pipeline takes no negative prompt text: its unconditional pass is the empty
prompt's unless given ``negative_prompt_embeds``, which the base models' negative prompt is encoded into
(``negative_embeds``). The step-distilled 4B and 9B say so in their model_index.json (``is_distilled``): a flavour read
from the folder's index, with its own defaults, whose pipeline runs no unconditional pass (``unguided_why``).

A flow family's files as artists keep them (``split``, a ``SplitFiles``): a diffusion-model file (ComfyUI's
``models/diffusion_models``; its keys in the original layout, BFL's or Stability's, with or without the
``model.diffusion_model.`` prefix) recognised by keys only its family holds (and, where another family is built on
the same blocks, keys its files never hold: ``absent``); the config folder it loads through
(``resources/configs/<name>``) picked by a key; its text encoders, each a part of its pipeline folder (the width
its config folder gives it), the kind of file it is (``engine/models/text_files.py``), the words ComfyUI's names for
it hold, and its prefix inside an all-in-one file; words a VAE file's name holds for it.
"""

from __future__ import annotations

from ddpm_studio.engine.models.family_row import (  # noqa: F401 (the table's vocabulary, read from here)
    ADDON_WORDS,
    ADDONS,
    FILE_ADDONS,
    PICKLE_SUFFIXES,
    Family,
    Flavour,
    LatentRGB,
    SplitFiles,
    TextPart,
    Variant,
    _frozen,
)

from ddpm_studio.engine.models.latent_factors import FLUX2_RGB, FLUX_RGB, SD3_RGB, SD15_RGB, WAN21_RGB

_CLIP_L = TextPart("text_encoder", "clip", "CLIP-L", ("clip_l",), "text_encoders.clip_l.transformer.")
_T5 = dict(kind="t5", name="T5-XXL", words=("t5xxl", "t5"), inside="text_encoders.t5xxl.transformer.")
# ComfyUI's qwen_3_4b.safetensors (Z-Image, Flux.2 Klein 4B) and qwen_3_8b (Klein 9B): a Qwen3 causal LM
_QWEN3_4B = TextPart("text_encoder", "qwen3", "Qwen3", ("qwen_3", "qwen3"), "text_encoders.qwen3_4b.transformer.")


_SD_NORMAL = {"txt2img": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
              # in- and outpainting with a normal model: masked img2img (the inpaint pipelines take 4 channels too)
              "inpaint": "StableDiffusionInpaintPipeline", "outpaint": "StableDiffusionInpaintPipeline"}
_SD_INPAINT = {"inpaint": "StableDiffusionInpaintPipeline", "outpaint": "StableDiffusionInpaintPipeline"}
_SD_VARIANTS = (
    Variant("stable-diffusion", 4, "Text to Image", _frozen(_SD_NORMAL)),
    Variant("stable-diffusion-inpaint", 9, "Edit (inpaint)", _frozen(_SD_INPAINT)),
    Variant("instruct-pix2pix", 8, "Edit (instruct)",
            _frozen({"instruct": "StableDiffusionInstructPix2PixPipeline"})),
)
_SD_CONTROL = _frozen({"txt2img": "StableDiffusionControlNetPipeline",
                       "img2img": "StableDiffusionControlNetImg2ImgPipeline",
                       "inpaint": "StableDiffusionControlNetInpaintPipeline",
                       "outpaint": "StableDiffusionControlNetInpaintPipeline"})
_SD_CLASSES = _frozen({"StableDiffusionPipeline": "stable-diffusion",
                       "StableDiffusionImg2ImgPipeline": "stable-diffusion",
                       "StableDiffusionInpaintPipeline": "stable-diffusion-inpaint",
                       "StableDiffusionInstructPix2PixPipeline": "instruct-pix2pix"})
_FLOW = dict(latent_channels=16, addons=frozenset(), denoiser="transformer", context_key="joint_attention_dim",
             prompt_weights=False, clip_skip=False, checkpoint_key="", text_prefixes=(), kohya_versions=(), side=1024,
             train_side=1024,
             control_pipelines=_frozen({}))  # what the flow families' rows share so far

FAMILIES: tuple[Family, ...] = (
    Family(key="sd1", name="SD 1.x", context_dim=768, text_widths=(768,), folder_classes=_SD_CLASSES,
           variants=_SD_VARIANTS,
           control_pipelines=_SD_CONTROL, img2img="StableDiffusionImg2ImgPipeline", latent_rgb=SD15_RGB,
           taesd_repo="madebyollin/taesd", checkpoint_key="",
           text_prefixes=("cond_stage_model.transformer.",), kohya_versions=("sd_v1",), side=512, train_side=512),
    Family(key="sd2", name="SD 2.x", context_dim=1024, text_widths=(1024,), folder_classes=_SD_CLASSES,
           variants=_SD_VARIANTS, control_pipelines=_SD_CONTROL, img2img="StableDiffusionImg2ImgPipeline",
           latent_rgb=SD15_RGB, taesd_repo="madebyollin/taesd",
           checkpoint_key="cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight",  # OpenCLIP ViT-H
           text_prefixes=("cond_stage_model.model.",), kohya_versions=("sd_v2", "v2"),
           probe_prediction=True, asks_prediction=True,
           side=512, train_side=768),  # SD 2.x base is 512², its v model 768²: the panels start at 512
    Family(key="sdxl", name="SDXL", context_dim=2048, text_widths=(768, 1280),
           folder_classes=_frozen({"StableDiffusionXLPipeline": "stable-diffusion-xl",
                                   "StableDiffusionXLImg2ImgPipeline": "stable-diffusion-xl",
                                   "StableDiffusionXLInpaintPipeline": "stable-diffusion-xl-inpaint"}),
           variants=(Variant("stable-diffusion-xl", 4, "Text to Image", _frozen({
                         "txt2img": "StableDiffusionXLPipeline", "img2img": "StableDiffusionXLImg2ImgPipeline",
                         "inpaint": "StableDiffusionXLInpaintPipeline",
                         "outpaint": "StableDiffusionXLInpaintPipeline"})),
                     Variant("stable-diffusion-xl-inpaint", 9, "Edit (inpaint)", _frozen({
                         "inpaint": "StableDiffusionXLInpaintPipeline",
                         "outpaint": "StableDiffusionXLInpaintPipeline"}))),
           control_pipelines=_frozen({"txt2img": "StableDiffusionXLControlNetPipeline",
                                      "img2img": "StableDiffusionXLControlNetImg2ImgPipeline",
                                      "inpaint": "StableDiffusionXLControlNetInpaintPipeline",
                                      "outpaint": "StableDiffusionXLControlNetInpaintPipeline"}),
           img2img="StableDiffusionXLImg2ImgPipeline",
           latent_rgb=LatentRGB(((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362),
                                 (-0.3165, -0.2492, -0.2188)), (0.1084, -0.0175, -0.0011), 0.13025,
                                "SDXL factors (published by ComfyUI)"),
           taesd_repo="madebyollin/taesdxl",
           checkpoint_key="conditioner.embedders.1.model.positional_embedding",  # its second (OpenCLIP) text encoder
           text_prefixes=("conditioner.embedders.0.transformer.", "conditioner.embedders.1.model."),
           kohya_versions=("sdxl_base_v1-0",), side=1024, train_side=1024,
           # v-prediction finetunes (NoobAI-XL v-pred) mark their files as ComfyUI and Forge read them
           prediction_keys=_frozen({"v_pred": "v_prediction"}), zero_snr_key="ztsnr", asks_prediction=True),
    Family(key="sd3", name="SD 3.5", context_dim=4096, text_widths=(768, 1280, 4096),  # CLIP-L, CLIP-G, T5-XXL
           folder_classes=_frozen({"StableDiffusion3Pipeline": "stable-diffusion-3",
                                   "StableDiffusion3Img2ImgPipeline": "stable-diffusion-3"}),
           # its img2img and inpaint pipelines noise the picture with the flow Euler scheduler (sampling/flow_edit.py)
           variants=(Variant("stable-diffusion-3", 16, "Text to Image", _frozen({
               "txt2img": "StableDiffusion3Pipeline", "img2img": "StableDiffusion3Img2ImgPipeline",
               "inpaint": "StableDiffusion3InpaintPipeline", "outpaint": "StableDiffusion3InpaintPipeline"})),),
           img2img="StableDiffusion3Img2ImgPipeline", latent_rgb=SD3_RGB, taesd_repo="madebyollin/taesd3",
           # its CLIP-L and CLIP-G take clip skip (StableDiffusion3Pipeline's clip_skip); the hires fix through its img2img
           # attention maps from its joint attention (inspect/joint_attention.py); LoRAs through SD3LoraLoaderMixin
           # (kohya's SD3 layout renamed first: addons/flow_loras.py)
           **dict(_FLOW, clip_skip=True, addons=frozenset({"hires", "attention", "lora"})),
           optional_parts=_frozen({"text_encoder_3": "T5", "tokenizer_3": "T5"}),
           schedulers=("euler", "dpm++2m", "unipc", "lcm"),  # the names with a flow form (jobs/scheduler_table.py)
           # SD 3.5 Large's model card: 28 steps at guidance 3.5 (Medium's says 40 at 4.5, Large Turbo's 4 at 0)
           defaults=_frozen({"scheduler": "euler", "steps": 28, "guidance_scale": 3.5}),
           # Stability's files (sd3.5_large.safetensors, sd3.5_medium.safetensors) and ComfyUI's: MMDiT joint blocks;
           # Large has 38 of them (diffusers' single_file_utils tells them apart by the 38th)
           split=SplitFiles(keys=("joint_blocks.0.context_block.adaLN_modulation.1.bias",),
                            configs=(("sd3.5-large", "joint_blocks.37.x_block.mlp.fc1.weight"), ("sd3.5-medium", "")),
                            text_encoders=(_CLIP_L,
                                           TextPart("text_encoder_2", "clip", "CLIP-G", ("clip_g",),
                                                    "text_encoders.clip_g.transformer.", pad_token="!"),
                                           TextPart("text_encoder_3", optional=True, **_T5)),
                            vae_words=("sd3", "sd35"))),
    Family(key="flux", name="Flux.1", context_dim=4096, text_widths=(768, 4096),  # CLIP-L (pooled), T5-XXL
           folder_classes=_frozen({"FluxPipeline": "flux", "FluxKontextPipeline": "flux-kontext"}),
           variants=(Variant("flux", 64, "Text to Image", _frozen({  # 16 × 2×2; masked img2img for in/outpaint
               "txt2img": "FluxPipeline", "img2img": "FluxImg2ImgPipeline", "inpaint": "FluxInpaintPipeline",
               "outpaint": "FluxInpaintPipeline"})),
                     # FLUX.1 Kontext [dev]: Flux.1's transformer (same class and 64 inputs), known by its folder's
                     # pipeline class; FluxKontextPipeline reads one picture beside the prompt: the one it edits
                     Variant("flux-kontext", 64, "Edit (instruct)", _frozen({"instruct": "FluxKontextPipeline"}))),
           img2img="FluxImg2ImgPipeline", latent_rgb=FLUX_RGB, taesd_repo="madebyollin/taef1",
           # the hires fix through FluxImg2ImgPipeline; attention maps from its double-stream blocks' joint attention;
           # LoRAs through FluxLoraLoaderMixin (addons/flow_loras.py)
           **dict(_FLOW, addons=frozenset({"hires", "attention", "lora"})),
           packed=2, negative_prompt=False, true_cfg=True,  # FluxPipeline's true_cfg_scale and negative_prompt
           negative_why="its guidance is distilled into the model",
           guidance_field="Distilled CFG Scale",  # Forge's name for it in a PNG's parameters
           # its pipeline shifts the schedule by the picture's size (set_timesteps(mu=…)): the flow forms that take it
           schedulers=("euler", "dpm++2m", "unipc", "lcm"),
           # FluxPipeline's defaults and Flux.1-dev's model card: 28 steps at (distilled) guidance 3.5
           defaults=_frozen({"scheduler": "euler", "steps": 28, "guidance_scale": 3.5}),
           # FLUX.1-schnell's transformer has no guidance embedding (its config's guidance_embeds: false); its model
           # card and diffusers' Flux docs sample it in 4 steps at guidance 0 (FluxPipeline then ignores guidance)
           flavours=(Flavour("schnell", "guidance_embeds", False, _frozen({"steps": 4, "guidance_scale": 0.0})),
                     # FLUX.1-Kontext-dev's model card and FluxKontextPipeline's docstring edit at guidance 2.5
                     Flavour("kontext", "_class_name", "FluxKontextPipeline", _frozen({"guidance_scale": 2.5}),
                             in_index=True)),
           # BFL's files (flux1-dev.safetensors, flux1-schnell.safetensors) and ComfyUI's: double-stream blocks with
           # q/k norms and CLIP's pooled text in (vector_in, which Chroma's files lack); dev's guidance embedding tells
           # it from schnell (as diffusers' single_file_utils does)
           split=SplitFiles(keys=("double_blocks.0.img_attn.norm.key_norm.scale", "vector_in.in_layer.weight"),
                            configs=(("flux.1-dev", "guidance_in.in_layer.bias"), ("flux.1-schnell", "")),
                            text_encoders=(_CLIP_L, TextPart("text_encoder_2", **_T5)),
                            vae_words=("ae", "flux"))),
    Family(key="chroma", name="Chroma", context_dim=4096, text_widths=(4096,),  # T5-XXL only
           folder_classes=_frozen({"ChromaPipeline": "chroma"}),
           variants=(Variant("chroma", 64, "Text to Image", _frozen({  # 16 × 2×2
               "txt2img": "ChromaPipeline", "img2img": "ChromaImg2ImgPipeline", "inpaint": "ChromaInpaintPipeline",
               "outpaint": "ChromaInpaintPipeline"})),),
           # Flux.1's VAE (ComfyUI comfy/supported_models.py: Chroma's latent_format is Flux's), so taef1 decodes it
           # the hires fix through ChromaImg2ImgPipeline (upscale/hires_fix.py gives it an image processor for latents)
           img2img="ChromaImg2ImgPipeline", latent_rgb=FLUX_RGB, taesd_repo="madebyollin/taef1",
           **dict(_FLOW, addons=frozenset({"hires", "lora", "attention"})),  # LoRAs through FluxLoraLoaderMixin, as Flux.1's
           packed=2,  # real CFG: guidance_scale above 1 runs the negative prompt; T5 alone
           # ChromaPipeline always passes its own sigmas (set_timesteps(sigmas=…, mu=…)), which the flow solvers
           # (DPM++ 2M, UniPC) do not take, unlike FluxPipeline, which leaves them out for solvers on flow sigmas
           schedulers=("euler", "lcm"),  # flow LCM takes sigmas as flow Euler does
           # the Chroma1-HD model card's and diffusers' Chroma docs' example: 40 steps at CFG 3.0 (ChromaPipeline's
           # own signature defaults, 35 steps at 5.0, predate Chroma1-HD)
           defaults=_frozen({"scheduler": "euler", "steps": 40, "guidance_scale": 3.0}),
           # lodestones' files (Chroma1-HD.safetensors) and ComfyUI's: Flux's double-stream blocks, its modulation
           # replaced by the distilled_guidance_layer approximator (diffusers' single_file_utils knows Chroma by its
           # in_proj), no vector_in (so never Flux.1); img_in leaves out Chroma1-Radiance, which works on pixels
           split=SplitFiles(keys=("double_blocks.0.img_attn.norm.key_norm.scale",
                                  "distilled_guidance_layer.in_proj.bias", "img_in.weight"),
                            configs=(("chroma", ""),), text_encoders=(TextPart("text_encoder", **_T5),),
                            vae_words=("ae", "flux"))),  # Flux.1's VAE, ae.safetensors
    Family(key="zimage", name="Z-Image", context_dim=2560, text_widths=(2560,),  # Qwen3-4B's hidden size
           folder_classes=_frozen({"ZImagePipeline": "z-image"}),
           # its transformer patchifies 2×2 inside: the pipeline's latents are the VAE's, 16 channels, unpacked
           variants=(Variant("z-image", 16, "Text to Image", _frozen({
               "txt2img": "ZImagePipeline", "img2img": "ZImageImg2ImgPipeline", "inpaint": "ZImageInpaintPipeline",
               "outpaint": "ZImageInpaintPipeline"})),),
           # ComfyUI's ZImage is a Lumina2 model, whose latent format is Flux's: Flux's map, and taef1 decodes them
           img2img="ZImageImg2ImgPipeline", latent_rgb=FLUX_RGB, taesd_repo="madebyollin/taef1",
           # the hires fix through ZImageImg2ImgPipeline
           **{**_FLOW, "context_key": "cap_feat_dim", "addons": frozenset({"hires", "lora"})}, cfg_above=0.0,
           float32_latents=True,
           # ZImagePipeline passes its own sigmas to set_timesteps: DPM++ 2M's takes none, so Euler and UniPC only
           schedulers=("euler", "unipc", "lcm"),
           # Z-Image-Turbo's model card: 9 steps at guidance 0 ("Guidance should be 0 for the Turbo models");
           # ZImagePipeline's own defaults (50 steps at 5.0) are the base model's kind
           defaults=_frozen({"scheduler": "euler", "steps": 9, "guidance_scale": 0.0}),
           # ComfyUI's z_image_turbo_bf16.safetensors: Lumina2-style names, but its blocks' adaLN is a bare Linear
           # (adaLN_modulation.0, where Lumina 2's is SiLU then Linear, .1) and its attention fused (qkv); diffusers'
           # single_file_utils tells it by the first (convert_z_image_transformer_checkpoint_to_diffusers reads it)
           split=SplitFiles(keys=("layers.0.adaLN_modulation.0.weight", "context_refiner.0.attention.qkv.weight"),
                            configs=(("z-image-turbo", ""),),
                            text_encoders=(_QWEN3_4B,), vae_words=("ae", "flux"))),
    Family(key="qwenimage", name="Qwen-Image", context_dim=3584, text_widths=(3584,),  # Qwen2.5-VL-7B's hidden size
           folder_classes=_frozen({"QwenImagePipeline": "qwen-image", "QwenImageEditPipeline": "qwen-image-edit",
                                   "QwenImageEditPlusPipeline": "qwen-image-edit-plus"}),
           variants=(Variant("qwen-image", 64, "Text to Image", _frozen({
               "txt2img": "QwenImagePipeline", "img2img": "QwenImageImg2ImgPipeline",
               "inpaint": "QwenImageInpaintPipeline", "outpaint": "QwenImageInpaintPipeline"})),
                     # Qwen-Image-Edit (one picture) and Edit-2509/2511 (QwenImageEditPlusPipeline: its model card
                     # edits best with 1 to 3 pictures): Qwen-Image's transformer, known by the folder's class; both
                     # read the pictures through transformers' Qwen2-VL processor, which needs torchvision
                     Variant("qwen-image-edit", 64, "Edit (instruct)",
                             _frozen({"instruct": "QwenImageEditPipeline"}), needs=("torchvision",)),
                     Variant("qwen-image-edit-plus", 64, "Edit (instruct)",
                             _frozen({"instruct": "QwenImageEditPlusPipeline"}), references=2,
                             needs=("torchvision",))),
           img2img="QwenImageImg2ImgPipeline", latent_rgb=WAN21_RGB, taesd_repo="",  # no AutoencoderTiny for it
           **{**_FLOW, "side": 1328, "addons": frozenset({"hires", "lora", "attention"})},  # its model card's 1:1 size; the hires fix
           # through QwenImageImg2ImgPipeline
           packed=2, guidance_argument="true_cfg_scale",
           # its pipeline sets the schedule by sigmas (set_timesteps(sigmas=…, mu=…)): DPM++ 2M takes no sigmas
           schedulers=("euler", "unipc", "lcm"),
           # QwenImagePipeline's docstring and Qwen-Image's model card: 50 steps at true CFG 4
           defaults=_frozen({"scheduler": "euler", "steps": 50, "guidance_scale": 4.0}),
           # ComfyUI's qwen_image_*.safetensors keep diffusers' own names (diffusers maps them as they are): its text
           # in through txt_norm and txt_in, which no other family's file names (InvokeAI tells Qwen-Image files by
           # txt_norm/txt_in/img_in too); its modulation img_mod.1 is Qwen-Image's alone. Text: Qwen2.5-VL-7B
           # (qwen_2.5_vl_7b*.safetensors); VAE: qwen_image_vae.safetensors, Wan 2.1-style
           split=SplitFiles(keys=("txt_norm.weight", "transformer_blocks.0.img_mod.1.weight"),
                            configs=(("qwen-image", ""),),
                            text_encoders=(TextPart("text_encoder", "qwen2.5-vl", "Qwen2.5-VL", ("qwen_2.5_vl", "qwen"),
                                                    "text_encoders.qwen25_7b.transformer."),),
                            vae_words=("qwen_image", "qwen"))),
    Family(key="klein", name="Flux.2 Klein", context_dim=7680, text_widths=(2560,),  # Qwen3-4B's 3 hidden states
           folder_classes=_frozen({"Flux2KleinPipeline": "flux2-klein"}),
           variants=(Variant("flux2-klein", 128, "Text to Image", _frozen({  # 32 channels × 2×2
               # diffusers 0.42 has an inpaint pipeline for it, no img2img one
               "txt2img": "Flux2KleinPipeline", "inpaint": "Flux2KleinInpaintPipeline",
               "outpaint": "Flux2KleinInpaintPipeline",
               # reference editing: Flux2KleinPipeline's image= pictures; BFL's docs (docs.bfl.ai, "Reference Images
               # per Model") give Klein 4B and 9B up to 4 of them, the one edited and 3 more
               "instruct": "Flux2KleinPipeline"}), references=3),),
           img2img="", latent_rgb=FLUX2_RGB, taesd_repo="",
           # LoRAs through Flux2LoraLoaderMixin; attention maps from its double-stream blocks' joint attention
           **{**_FLOW, "latent_channels": 32, "addons": frozenset({"lora", "attention"})},
           packed=2, negative_embeds=True,  # its pipeline takes negative_prompt_embeds, not the text
           schedulers=("euler", "dpm++2m", "unipc", "lcm"),  # it shifts the schedule by the picture's size (mu), as Flux.1
           # Flux2KleinPipeline's defaults and its docstring's example (the base 9B): 50 steps at guidance 4.0, CFG
           # on the empty prompt; the step-distilled Klein 4B and 9B (FLUX.2-klein-4B's model card and BFL's flux2
           # README; their model_index.json says is_distilled): 4 steps, guidance 1.0 (their pipeline ignores it)
           defaults=_frozen({"scheduler": "euler", "steps": 50, "guidance_scale": 4.0}),
           # (Flux2KleinPipeline.do_classifier_free_guidance: guidance above 1 and not is_distilled)
           flavours=(Flavour("distilled", "is_distilled", True, _frozen({"steps": 4, "guidance_scale": 1.0}),
                             in_index=True, unguided_why="it is step-distilled: its pipeline runs no unconditional "
                                                         "pass at any guidance"),),
           # BFL's flux-2-klein-4b.safetensors / -9b (ComfyUI's the same): Flux.2's shared modulations
           # (single_stream_modulation, as diffusers' single_file_utils knows Flux.2) and no pooled text in, so never
           # Flux.1's; no guidance embedding, which Flux.2 dev has; the 9B by its sixth double block (the 4B has 5).
           # The base (undistilled) Klein files have the same keys: they load as the distilled ones
           split=SplitFiles(keys=("double_blocks.0.img_attn.norm.key_norm.scale",
                                  "single_stream_modulation.lin.weight"),
                            configs=(("flux.2-klein-9b", "double_blocks.5.img_attn.qkv.weight"),
                                     ("flux.2-klein-4b", "")),
                            text_encoders=(_QWEN3_4B,), vae_words=("flux2",),
                            absent=("guidance_in.in_layer.weight",))),
)
BY_KEY = {family.key: family for family in FAMILIES}
FAMILY_NAMES = {family.key: family.name for family in FAMILIES}
ARCH_CONTEXT = {family.key: family.context_dim for family in FAMILIES}  # each family's cross-attention width
ARCH_BY_CONTEXT = {width: key for key, width in reversed(ARCH_CONTEXT.items())}  # the first row of a width
KOHYA_BASE = {version: family.key for family in FAMILIES for version in family.kohya_versions}
LATENT_KINDS = frozenset(variant.kind for family in FAMILIES for variant in family.variants)


def family_of(kind: str = "", context_dim: int = 0, arch: str = "") -> Family | None:
    """The row of a model: by its architecture when it says (a single file), else among the families that have its
    kind, the one with its cross-attention width (SD 1.x and 2.x share their pipelines), else the first of them."""
    if arch in BY_KEY:
        return BY_KEY[arch]
    rows = [family for family in FAMILIES if any(v.kind == kind for v in family.variants)]
    return next((family for family in rows if family.context_dim == context_dim), rows[0] if rows else None)


def family_of_info(info) -> Family | None:
    """The row of a ``catalogue.ModelInfo`` (None for a pixel DDPM or an upscaler)."""
    return family_of(info.family, info.context_dim, info.arch)


def family_of_folder(class_name: str, context_dim: int) -> Family | None:
    """The row of a diffusers folder, by its pipeline class and its UNet's cross-attention width."""
    rows = [family for family in FAMILIES if class_name in family.folder_classes]
    return next((family for family in rows if family.context_dim == context_dim), rows[0] if rows else None)


def family_of_text_widths(widths) -> Family | None:
    """The row whose text encoders have these widths (an embedding's vectors, a loaded model's encoders), else the
    only row with that many text encoders (SDXL's two, whatever their widths)."""
    widths = tuple(widths)
    exact = next((family for family in FAMILIES if family.text_widths == widths), None)
    if exact is not None or not widths:
        return exact
    by_count = [family for family in FAMILIES  # among the families that take embeddings
                if len(family.text_widths) == len(widths) and "embedding" in family.addons]
    return by_count[0] if len(by_count) == 1 else None


def family_of_checkpoint(keys) -> Family:
    """The row of a single-file checkpoint, by the keys only its family holds (checked in table order)."""
    keyed = [family for family in FAMILIES if family.checkpoint_key]
    found = next((family for family in keyed if family.checkpoint_key in keys), None)
    return found or next(family for family in FAMILIES if not family.checkpoint_key)


def family_of_split_file(keys) -> Family | None:
    """The flow family a diffusion-model file is (its keys, the ``model.diffusion_model.`` prefix taken off): the row
    all of whose ``split.keys`` it holds, the one with most of them (a family built on another's blocks names more)."""
    rows = [family for family in FAMILIES if family.split and all(key in keys for key in family.split.keys)
            and not any(key in keys for key in family.split.absent)]
    return max(rows, key=lambda family: len(family.split.keys), default=None)


def unsupported_addons(family: Family, asked: set[str]) -> list[str]:
    """What of ``asked`` (add-on names of ``ADDONS``) ``family`` does not take, in words, in a stable order."""
    return [ADDON_WORDS[name] for name in sorted(asked) if name not in family.addons]
