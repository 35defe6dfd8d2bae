"""Tiny random editing pipelines of the three supported families, built in memory.

Sizes follow diffusers' own fast pipeline tests (in the diffusers repository:
diffusers/tests/pipelines/qwenimage/test_qwenimage_edit.py,
diffusers/tests/pipelines/flux/test_pipeline_flux_kontext.py,
diffusers/tests/pipelines/stable_diffusion/test_stable_diffusion_instruction_pix2pix.py). Those tests load
their tokenizers from the hub; here the tokenizers are byte-level vocabularies built in memory,
so nothing is downloaded. The weights are random (seeded): the pipelines run end to end, train
and generate in well under a second on CPU, and mean nothing visually.

    pipe = build_tiny_pipeline("qwen_image_edit", seed=0)   # or "flux_kontext", "instruct_pix2pix"

Two pipelines built with the same name and seed have identical weights, which is how a tuned
LoRA is compared with its base without saving the base anywhere.
"""
from __future__ import annotations

import torch

TINY_NAMES = ("qwen_image_edit", "flux_kontext", "instruct_pix2pix")

# The special tokens Qwen2-VL's processor and chat template need.
_QWEN_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>")


def _byte_symbols() -> list[str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return list(bytes_to_unicode().values())


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):  # CLIP marks the last symbol of a word with </w>
        for symbol in _byte_symbols():
            vocab.setdefault(symbol + suffix, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(c, -1.0) for c in "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'!?-"]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def _clip_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=5, vocab_size=1000,
        hidden_act="gelu", projection_dim=32,
    )
    return CLIPTextModel(config)


def _qwen_processor(tokenizer):
    """Qwen2-VL's processor without its video slot: the video processor needs torchvision,
    which this project does not install."""
    from transformers import Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor, tokenizer, chat_template=chat_template, **kwargs)

    return ImageOnlyQwen2VLProcessor(Qwen2VLImageProcessorPil(), tokenizer)


def _tiny_qwen_image_edit():
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler,
                           QwenImageEditPipeline, QwenImageTransformer2DModel)
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer(vocab={s: i for i, s in enumerate(_byte_symbols())}, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": list(_QWEN_SPECIALS)})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": len(tokenizer),
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0, "bos_token_id": None, "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tokenizer),
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
    ))
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
        num_attention_heads=3, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
    )
    vae = AutoencoderKLQwenImage(
        base_dim=4 * 6, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1, temperal_downsample=[False, True],
        latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )
    return QwenImageEditPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, processor=_qwen_processor(tokenizer), transformer=transformer,
    )


def _tiny_flux_kontext():
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8],
    )
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=1000, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, decoder_start_token_id=0,
    ))
    vae = AutoencoderKL(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
        latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
        shift_factor=0.0609, scaling_factor=1.5035,
    )
    return FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=_clip_text_encoder(),
        text_encoder_2=text_encoder_2, tokenizer=_clip_tokenizer(), tokenizer_2=_t5_tokenizer(),
        transformer=transformer, vae=vae, image_encoder=None, feature_extractor=None,
    )


def _tiny_instruct_pix2pix():
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel

    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
    )
    return StableDiffusionInstructPix2PixPipeline(
        unet=unet, scheduler=PNDMScheduler(skip_prk_steps=True), vae=vae,
        text_encoder=_clip_text_encoder(), tokenizer=_clip_tokenizer(), safety_checker=None,
        feature_extractor=None, image_encoder=None, requires_safety_checker=False,
    )


_BUILDERS = {
    "qwen_image_edit": _tiny_qwen_image_edit,
    "flux_kontext": _tiny_flux_kontext,
    "instruct_pix2pix": _tiny_instruct_pix2pix,
}


def build_tiny_pipeline(name: str, seed: int = 0):
    """A tiny random pipeline of one family; same (name, seed) -> same weights."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown tiny pipeline {name!r}; choose from {', '.join(TINY_NAMES)}")
    with torch.random.fork_rng(devices=[]):  # seed the weights without touching the caller's RNG
        torch.manual_seed(seed)
        pipe = _BUILDERS[name]()
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()  # as from_pretrained leaves them: no dropout (T5 has some)
    pipe.set_progress_bar_config(disable=True)
    return pipe
