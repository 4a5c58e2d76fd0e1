"""DDPM Studio: local image generation with diffusion models, every denoising step made visible."""

__version__ = "0.1.0"
