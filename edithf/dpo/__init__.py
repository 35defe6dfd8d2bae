"""Diffusion-/Flow-DPO for diffusers editing pipelines."""
