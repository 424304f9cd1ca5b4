"""Wan VACE speed on a GPU, with random bf16 weights in the real architectures (no download): seconds per
denoising step (81 frames, classifier-free guidance: two transformer passes per step) at 480P and 720P, peak
memory, end-to-end seconds for a 5 s clip (text embeddings given, VAE decode included), and the achieved fraction
of the GPU's peak bf16 FLOP/s; each as diffusers runs it by default beside r2v's settings, in one run.

    python benchmarks/wan_gpu.py [--models 1.3B,14B] [--sizes 480P,720P] [--steps 3] [--peak-tflops 989]
    python benchmarks/wan_gpu.py --tiny       # a CPU smoke run of the same code on a tiny architecture

"diffusers default": the transformer as loaded (SDPA chooses the kernel), eager, guidance as two passes. "r2v":
guidance as one batched pass (engines/wan/batched_guidance.py, on by default), the attention backend
(--attention, default _native_cudnn) and torch.compile, as `r2v serve --engine wan` runs with
R2V_WAN_ATTENTION=_native_cudnn R2V_WAN_COMPILE=1. Published anchors: Wan2.1 T2V-1.3B, 5 s of 480P at 50
steps, 261 s on one RTX 4090; diffusers Wan2.1-I2V-14B-480P about 9.8 s/step on one H100.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src"))

# Real Wan2.1 sizes (architecture doc): dim, ffn, heads, layers; patch (1,2,2); text 4096-d, 512 tokens.
ARCHS = {
    "1.3B": {"num_attention_heads": 12, "attention_head_dim": 128, "ffn_dim": 8960, "num_layers": 30},
    "14B": {"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824, "num_layers": 40},
    "tiny": {"num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32, "num_layers": 4},
}
SIZES = {"480P": (832, 480), "720P": (1280, 720), "tiny": (64, 48)}
FRAMES = 81
TEXT_TOKENS, TEXT_DIM = 512, 4096


def build(arch: str, device: str, dtype):
    from diffusers import WanVACETransformer3DModel

    config = ARCHS[arch]
    layers = config["num_layers"]
    text_dim = 32 if arch == "tiny" else TEXT_DIM
    with torch.device(device):  # weights are made where they run: no 28 GB round trip through host memory
        model = WanVACETransformer3DModel(
            patch_size=(1, 2, 2), in_channels=16, out_channels=16, text_dim=text_dim, freq_dim=256,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", vace_layers=list(range(0, layers, 2)),
            vace_in_channels=96, **config).to(dtype)  # fmt: skip
    return model.eval(), text_dim


def flops_per_pass(arch: str, tokens: int) -> float:
    """Matmul FLOPs of one transformer pass: projections and FFN (2 per multiply-add) and attention."""
    c = ARCHS[arch]
    d = c["num_attention_heads"] * c["attention_head_dim"]
    blocks = c["num_layers"] + len(range(0, c["num_layers"], 2))  # main blocks + VACE context blocks
    per_token = 2 * (4 * d * d + 2 * d * d + 2 * d * c["ffn_dim"])  # self q,k,v,o; cross q,o; ffn in/out
    text = 2 * 2 * d * d * TEXT_TOKENS  # cross-attention k,v over the text
    attention = 2 * 2 * tokens * tokens * d + 2 * 2 * tokens * TEXT_TOKENS * d
    return blocks * (per_token * tokens + text + attention)


def step_seconds(model, size, text_dim: int, device: str, dtype, repeats: int, batched: bool) -> tuple[float, int]:
    width, height = size
    latent_frames, h, w = (FRAMES - 1) // 4 + 1, height // 8, width // 8
    latents = torch.randn(1, 16, latent_frames, h, w, device=device, dtype=dtype)
    control = torch.randn(1, 96, latent_frames, h, w, device=device, dtype=dtype)
    text = [torch.randn(1, TEXT_TOKENS, text_dim, device=device, dtype=dtype) for _ in range(2)]
    timestep = torch.tensor([500], device=device)
    tokens = latent_frames * (h // 2) * (w // 2)
    if batched:
        from r2v.engines.wan.batched_guidance import BatchedGuidance

        model = BatchedGuidance(model)
        model.pair(text[0], text[1])

    def one_step():
        with torch.no_grad():
            for embeds in text:  # classifier-free guidance: conditional and unconditional passes
                model(hidden_states=latents, timestep=timestep, encoder_hidden_states=embeds,
                      control_hidden_states=control, return_dict=False)  # fmt: skip

    one_step()  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        one_step()
        _sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times), tokens


def decode_seconds(size, device: str, dtype) -> float:
    """The real Wan VAE (default config), random weights, decoding 5 s of latents (tiled, as r2v runs it)."""
    from diffusers import AutoencoderKLWan

    width, height = size
    with torch.device(device):
        vae = AutoencoderKLWan().to(torch.float32 if device == "cpu" else dtype).eval()
    vae.enable_tiling()
    latents = torch.randn(1, 16, (FRAMES - 1) // 4 + 1, height // 8, width // 8, device=device, dtype=vae.dtype)
    _sync(device)
    started = time.perf_counter()
    with torch.no_grad():
        vae.decode(latents)
    _sync(device)
    return time.perf_counter() - started


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="1.3B,14B")
    parser.add_argument("--sizes", default="480P,720P")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (median)")
    parser.add_argument("--total-steps", type=int, default=50, help="steps of the end-to-end estimate")
    parser.add_argument("--attention", default="_native_cudnn")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's dense bf16 peak (H100 SXM: 989)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run on a tiny architecture")
    args = parser.parse_args()
    device = "cpu" if args.tiny or not torch.cuda.is_available() else "cuda"
    if device == "cpu" and not args.tiny:
        print("no GPU here: run with --tiny for a CPU smoke run", file=sys.stderr)
        return 1
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    models = ["tiny"] if args.tiny else args.models.split(",")
    sizes = ["tiny"] if args.tiny else args.sizes.split(",")
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}; torch {torch.__version__}")
    print("| model | size | setting | s/step (CFG) | speed-up | peak GB | 5 s clip, s | MFU |")
    print("|---|---|---|---|---|---|---|---|")
    for arch in models:
        for size_name in sizes:
            size = SIZES[size_name]
            base = None
            for setting in ("diffusers default", "r2v"):
                if device == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                model, text_dim = build(arch, device, dtype)
                if setting == "r2v":
                    if device == "cuda":
                        model.set_attention_backend(args.attention)
                    model.compile(mode="max-autotune-no-cudagraphs")
                seconds, tokens = step_seconds(model, size, text_dim, device, dtype, args.steps, setting == "r2v")
                base = base or seconds
                peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
                del model
                clip = seconds * args.total_steps + decode_seconds(size, device, dtype)
                mfu = 2 * flops_per_pass(arch, tokens) / seconds / (args.peak_tflops * 1e12)
                print(f"| {arch} | {size_name} | {setting} | {seconds:.3f} | {base / seconds:.2f}x | {peak:.1f} "
                      f"| {clip:.1f} | {mfu:.1%} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
