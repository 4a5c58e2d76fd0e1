"""The kinds of fact a row of the family table (families.py) holds: a family's variants (its denoiser by its input
channels, with a pipeline per mode), its latent→RGB map, its flavours (models its denoiser's config tells apart, with
their defaults), the files a flow family's split model needs, and the row itself with what it answers (a variant's
pipeline, a flavour's defaults, whether a negative prompt is used). Plain data: no torch, no Qt, no other module of
ours; families.py imports everything here, and the rest of the code reads these names from there."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")  # read only by torch's weights-only loader, when allowed
ADDONS = frozenset({"lora", "embedding", "vae", "controlnet", "hires", "attention"})  # what the SD families take
FILE_ADDONS = frozenset({"lora", "embedding", "vae", "controlnet"})  # add-on files: their widths tell their family
ADDON_WORDS = {"lora": "LoRAs", "embedding": "embeddings", "vae": "a VAE of its own", "controlnet": "ControlNet",
               "hires": "a hires fix", "attention": "attention maps"}


def _frozen(mapping: dict) -> MappingProxyType:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Variant:
    """What a family's denoiser is by its input channels, and the pipeline each of its modes runs."""

    kind: str  # the catalogue's name for it (ModelInfo.family)
    channels: int  # the denoiser's input channels
    panel: str  # the panel that opens it
    pipelines: MappingProxyType  # mode (txt2img, img2img, inpaint, outpaint, instruct) → diffusers pipeline class
    references: int = 0  # reference pictures its instruct pipeline takes besides the one to edit (Klein's: 3)
    needs: tuple[str, ...] = ()  # Python packages its pipelines need that DDPM Studio does not install (torchvision)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.pipelines)


@dataclass(frozen=True)
class LatentRGB:
    """A linear map from a family's latents to RGB, for previews: RGB = latents · factors + bias; known by its VAE's
    scaling factor and latent channels."""

    factors: tuple[tuple[float, float, float], ...]
    bias: tuple[float, float, float]
    scaling_factor: float
    source: str
    shift_factor: float = 0.0  # the VAE's shift (SD3's latents are (z − shift) · scale): with the scale, how it is known
    latents_mean: tuple[float, ...] = ()  # a VAE normalising per channel, (z − mean) / std (Wan's, Qwen-Image's): how
    latents_std: tuple[float, ...] = ()  # it is known instead of its scale and shift


@dataclass(frozen=True)
class Flavour:
    """Models of one variant that its denoiser's config tells apart (``config_key`` holding ``value``) and that bring
    other defaults: Flux.1 schnell has no guidance embedding and samples in 4 steps without guidance."""

    name: str  # what a user reads (schnell): ModelInfo.flavour
    config_key: str
    value: object
    defaults: MappingProxyType  # over the family's own
    in_index: bool = False  # ``config_key`` is the folder's model_index.json's (Flux.2 Klein's is_distilled)
    unguided_why: str = ""  # why its pipeline runs no unconditional pass at any scale (step-distilled); "": it does


@dataclass(frozen=True)
class TextPart:
    """One text encoder of a flow family's pipeline, as a split file gives it."""

    folder: str  # its part of the pipeline (text_encoder, text_encoder_2 …); its config there gives its width
    kind: str  # the kind of file (text_files.KINDS: clip, t5, …)
    name: str  # what a user reads: CLIP-L, CLIP-G, T5-XXL
    words: tuple[str, ...]  # what ComfyUI's file names for it hold (clip_l, t5xxl): the pairing's first choice
    inside: str  # its keys' prefix in an all-in-one file (Comfy's text_encoders.clip_l.transformer.)
    optional: bool = False  # the pipeline runs without it (SD 3.5's T5, as ComfyUI allows)
    pad_token: str = ""  # its tokenizer's padding when the shipped CLIP one stands in (OpenCLIP's CLIP-G pads with !)

    @property
    def tokenizer(self) -> str:
        """Its tokenizer's part of the pipeline: text_encoder_2 → tokenizer_2."""
        return self.folder.replace("text_encoder", "tokenizer")


@dataclass(frozen=True)
class SplitFiles:
    """How a flow family's diffusion-model file is known, the config folder it loads through, and the other files
    it needs."""

    keys: tuple[str, ...]  # keys (without model.diffusion_model.) all of which its files hold: the most wins
    configs: tuple[tuple[str, str], ...]  # (config folder, a key that picks it; "" for the last, the default)
    text_encoders: tuple[TextPart, ...]
    vae_words: tuple[str, ...] = ()  # what a VAE file's name for it holds (Flux's ae.safetensors)
    absent: tuple[str, ...] = ()  # keys its files never hold (another family's on the same blocks: Flux.2 dev's)

    def config_for(self, keys) -> str:
        return next(name for name, key in self.configs if not key or key in keys)


@dataclass(frozen=True)
class Family:
    key: str  # sd1, sd2, sdxl: ModelInfo.arch, its config folder's name
    name: str  # what a user reads
    context_dim: int  # the denoiser's cross-attention width (its text embeddings'): how an add-on shows its family
    text_widths: tuple[int, ...]  # its text encoders' widths (an embedding holds one vector per encoder)
    folder_classes: MappingProxyType  # model_index.json _class_name of its folders → the variant it names
    variants: tuple[Variant, ...]
    control_pipelines: MappingProxyType  # mode → the ControlNet pipeline
    img2img: str  # the hires fix's second pass ("": none, and no hires fix in its add-ons)
    latent_rgb: LatentRGB
    taesd_repo: str  # the TAESD preview decoder for its latents, on the hub
    checkpoint_key: str  # a key only its single-file checkpoints hold ("": the family a checkpoint is otherwise)
    text_prefixes: tuple[str, ...]  # its text encoders' key prefixes in a single-file checkpoint
    kohya_versions: tuple[str, ...]  # kohya's ss_base_model_version for it (the first is the one we write)
    side: int  # the panels' default picture side
    train_side: int  # the LoRA trainer's default resolution: what the family was trained at
    latent_channels: int = 4
    prediction_keys: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # a key → its prediction
    zero_snr_key: str = ""  # a single file's key saying it was trained with zero terminal SNR
    probe_prediction: bool = False  # its files may be ε or v without saying: a probe of the UNet tells (prediction.py)
    asks_prediction: bool = False  # a file that does not say what it predicts may need the panels' Prediction row
    addons: frozenset = field(default=ADDONS)
    denoiser: str = "unet"  # the denoiser's folder in a diffusers pipeline folder
    channels_key: str = "in_channels"  # its config's key for its input channels (what names the variant)
    context_key: str = "cross_attention_dim"  # its config's key for the width of the text it attends to
    prompt_weights: bool = True  # prompts are encoded with A1111's weights (prompts/encoding.py), else plain text
    optional_parts: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # folder → what it is
    schedulers: tuple[str, ...] = ()  # the job scheduler names it samples with (jobs/scheduler_table.py); (): any
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # scheduler, steps, guidance_scale
    packed: int = 1  # its denoiser reads latents packed p×p into tokens of channels·p² (Flux: 2)
    negative_prompt: bool = True  # it takes a negative prompt (Flux's distilled guidance has no unconditional pass)
    negative_embeds: bool = False  # its pipeline takes the negative only as embeddings (Klein's negative_prompt_embeds)
    true_cfg: bool = False  # a true CFG scale above 1 adds an unconditional pass with the negative prompt (Flux's)
    flavours: tuple[Flavour, ...] = ()  # kinds of its models its denoiser's config tells apart, with their defaults
    clip_skip: bool = True  # its prompt is read by CLIP encoders whose layers A1111's Clip skip counts back through
    cfg_above: float = 1.0  # the guidance above which its pipeline runs the unconditional pass (Z-Image's from 0)
    float32_latents: bool = False  # its pipeline draws and keeps x_t in float32, whatever the denoiser's dtype
    guidance_argument: str = "guidance_scale"  # the pipeline's argument for the job's guidance (Qwen-Image's:
    # true_cfg_scale, which guides only with a negative prompt)
    split: SplitFiles | None = None  # its diffusion-model, text-encoder and VAE files (a flow family's)
    negative_why: str = ""  # why it takes no negative prompt, for the run's note
    # the name its guidance scale has in A1111/Forge parameters: "CFG scale", or Forge's "Distilled CFG Scale" for a
    # guidance distilled into the model (then "CFG scale" is its true CFG scale, 1 when none ran, as Forge writes it)
    guidance_field: str = "CFG scale"

    @property
    def xl(self) -> bool:
        """SDXL's conditioning (two text encoders, pooled text and size embeddings)."""
        return self.key == "sdxl"

    def variant(self, channels: int) -> Variant | None:
        return next((v for v in self.variants if v.channels == channels), None)

    def variant_of_folder(self, class_name: str, channels: int) -> Variant | None:
        """A diffusers folder's variant: the one its pipeline class names where its denoiser has that variant's
        channels (Flux.1 Kontext's 64 are Flux.1's too), else the one its channels make."""
        named = self.variant_named(self.folder_classes.get(class_name, ""))
        return named if named is not None and named.channels == channels else self.variant(channels)

    def variant_named(self, kind: str) -> Variant | None:
        return next((v for v in self.variants if v.kind == kind), None)

    def pipeline(self, kind: str, mode: str) -> str | None:
        return next((v.pipelines.get(mode) for v in self.variants if v.kind == kind), None)

    def flavour_of(self, config: dict, index: dict | None = None) -> str:
        """The flavour a denoiser's config, or its folder's model_index.json (``index``), makes a model ("" when none
        of the row's says so)."""
        for flavour in self.flavours:
            found = (index or {}) if flavour.in_index else config
            if flavour.config_key in found and found[flavour.config_key] == flavour.value:
                return flavour.name
        return ""

    def defaults_for(self, flavour: str = "") -> MappingProxyType:
        """The defaults a model of ``flavour`` brings: the family's, with its flavour's over them."""
        own = next((f.defaults for f in self.flavours if f.name == flavour), None)
        return self.defaults if own is None else _frozen({**self.defaults, **own})

    def every_defaults(self) -> tuple[MappingProxyType, ...]:
        """The family's defaults and each flavour's (what the panels tell from a value the user chose)."""
        return (self.defaults, *(self.defaults_for(f.name) for f in self.flavours))

    def uses_negative(self, true_cfg_scale: float = 1.0, flavour: str = "") -> bool:
        """Whether a job's negative prompt is used: where the family takes one (but not in a flavour whose pipeline
        runs no unconditional pass), or through true CFG above 1."""
        if self.unguided_why(flavour):
            return False
        return self.negative_prompt or (self.true_cfg and true_cfg_scale > 1.0)

    def unguided_why(self, flavour: str = "") -> str:
        """Why a model of ``flavour`` runs no unconditional pass at any guidance (step-distilled Klein); "" if it may."""
        return next((f.unguided_why for f in self.flavours if f.name == flavour), "")
