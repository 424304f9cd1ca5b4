"""`r2v wan make-tiny DIR`: a tiny, randomly initialised Wan VACE pipeline folder built fully offline, with the
real classes and the real folder layout, so that tests and new users can run the wan engine's whole path on a
CPU. It makes noise, not pictures: its weights are random."""

from __future__ import annotations

import json
from pathlib import Path

from r2v.wan_folder import HINTS_FILE

TINY_RESOLUTION = "96x64"

# A small word-piece vocabulary (the tokenizer must exist; the words hardly matter to random weights).
_WORDS = (
    "a the and of in on at with is says walks runs holds sits stands looks man woman boy girl child cat "
    "dog guitar flowers chair room street forest sky sun close up wide shot medium camera push pull pan"
).split()


def make_tiny(folder: Path, seed: int = 0, two_experts: bool = False) -> Path:
    """The folder; with two_experts, a Wan2.2-style one (a second transformer for the low-noise steps)."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    pieces = ["<pad>", "</s>", "<unk>", "▁"] + [f"▁{w}" for w in _WORDS] + list("abcdefghijklmnopqrstuvwxyz0123456789")
    pieces += [chr(c) for c in range(0x4E00, 0x4E00 + 64)]  # some Hanzi, so Chinese prompts are not all <unk>
    vocab = [(p, 0.0 if i < 3 else -2.0 - i * 0.01) for i, p in enumerate(dict.fromkeys(pieces))]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0))  # fmt: skip
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])  # fmt: skip
    experts = []
    for expert in range(2 if two_experts else 1):
        torch.manual_seed(seed + expert)
        experts.append(WanVACETransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96))  # fmt: skip
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    second = {"transformer_2": experts[1], "boundary_ratio": 0.875} if two_experts else {}
    pipeline = WanVACEPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=experts[0],
                               scheduler=scheduler, **second)  # fmt: skip
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(folder)
    # A small native size by default: at 480P a CPU would take minutes per shot even with these tiny weights.
    (folder / HINTS_FILE).write_text(json.dumps({"resolution": TINY_RESOLUTION}))
    return folder
