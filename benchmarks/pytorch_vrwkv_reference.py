#!/usr/bin/env python3
"""PyTorch baselines for bench_encoder_cuda, on the same GPU, sizes and batches.

(a) VRWKV-T reimplemented in plain PyTorch ops (SPEC sections 1-7). Bi-WKV is
    the exact function computed with an O(T) cumulative formulation: per
    channel, with a_i = k_i + i*w,
        F_t = e^{-(t-1)w} sum_{i<t} e^{a_i} v_i      (torch.cumsum, shifted)
        G_t = e^{(t+1)w}  sum_{i>t} e^{k_i - i*w} v_i (reverse cumsum)
        y_t = (F_t + G_t + e^{u+k_t} v_t) / (F^1_t + G^1_t + e^{u+k_t})
    with the exponents shifted by their maximum over the sequence (float32,
    like the published model's kernel input). No custom kernels.
(b) timm's ViT-T (vit_tiny_patch16_224, dynamic_img_size) with SDPA (flash).

Both run under torch.autocast(bfloat16) (VRWKV-T's Bi-WKV in float32); the
VRWKV-T float32 row at 224 has no autocast. Each forward is timed alone with
CUDA events after warm-up; img/s uses the median. Memory beyond the weights:
torch.cuda.max_memory_allocated() during the forward minus what was allocated
before it (weights and the input batch), i.e. it excludes the input, like
bench_encoder_cuda's MiB_beyond_w.

  python3 benchmarks/pytorch_vrwkv_reference.py [--out results.json]
      [--check vrwkv_t.pth vrwkv_t.io.safetensors]   # (a) against the float64 fixture first
"""
import argparse
import json
import math
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = [(224, 64), (1024, 4), (2048, 1)]


# ------------------------------------------------------------------ VRWKV-T

def q_shift(x, h, w, shift=1, gamma=0.25):
    """SPEC 3 on tokens (B, T, C)."""
    b, t, c = x.shape
    x = x.transpose(1, 2).reshape(b, c, h, w)
    out = torch.zeros_like(x)
    q = int(c * gamma)
    s = shift
    out[:, 0:q, :, s:] = x[:, 0:q, :, :-s]
    out[:, q:2 * q, :, :-s] = x[:, q:2 * q, :, s:]
    out[:, 2 * q:3 * q, s:, :] = x[:, 2 * q:3 * q, :-s, :]
    out[:, 3 * q:4 * q, :-s, :] = x[:, 3 * q:4 * q, s:, :]
    out[:, 4 * q:] = x[:, 4 * q:]
    return out.flatten(2).transpose(1, 2)


def bi_wkv(w, u, k, v):
    """Exact Bi-WKV (SPEC 5), O(T) with cumulative sums. w, u: (C); k, v: (B, T, C)."""
    acc = torch.float64 if k.dtype == torch.float64 else torch.float32
    # (B, C, T): the scans run along the last, contiguous dimension (a first
    # version scanning dim 1 of (B, T, C) ran at 63 img/s at 1024/4 and 4.9 at
    # 2048/1, its time growing with T rather than with the token count)
    k = k.to(acc).transpose(1, 2).contiguous()
    v = v.to(acc).transpose(1, 2).contiguous()
    w = w.to(acc).view(1, -1, 1)
    u = u.to(acc).view(1, -1, 1)
    t = k.shape[-1]
    pos = torch.arange(t, device=k.device, dtype=acc).view(1, 1, t)
    fa = k + pos * w                      # forward exponents a_i = k_i + i w
    ga = k - pos * w                      # backward exponents k_i - i w
    fm = fa.amax(dim=-1, keepdim=True)
    gm = ga.amax(dim=-1, keepdim=True)
    fe = torch.exp(fa - fm)
    ge = torch.exp(ga - gm)

    # exclusive prefix sums (i < t) and suffix sums (i > t), shifted rather than
    # subtracted so no term cancels against a larger one
    def before(x):
        return F.pad(torch.cumsum(x, dim=-1)[..., :-1], (1, 0))

    def after(x):
        return torch.flip(before(torch.flip(x, [-1])), [-1])

    fnum, fden = before(fe * v), before(fe)
    gnum, gden = after(ge * v), after(ge)
    # scale back: F_t = e^{-(t-1) w + fm} fnum, G_t = e^{(t+1) w + gm} gnum; diagonal e^{u + k_t}
    fs = -(pos - 1) * w + fm
    gs = (pos + 1) * w + gm
    ds = u + k
    top = torch.maximum(torch.maximum(fs, gs), ds)
    f = torch.exp(fs - top)
    g = torch.exp(gs - top)
    d = torch.exp(ds - top)
    y = (f * fnum + g * gnum + d * v) / (f * fden + g * gden + d)
    return y.transpose(1, 2)


class SpatialMix(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.key = nn.Linear(c, c, bias=False)
        self.value = nn.Linear(c, c, bias=False)
        self.receptance = nn.Linear(c, c, bias=False)
        self.output = nn.Linear(c, c, bias=False)
        self.spatial_decay = nn.Parameter(torch.randn(c) * 0.1)
        self.spatial_first = nn.Parameter(torch.randn(c) * 0.1)
        self.spatial_mix_k = nn.Parameter(torch.rand(1, 1, c))
        self.spatial_mix_v = nn.Parameter(torch.rand(1, 1, c))
        self.spatial_mix_r = nn.Parameter(torch.rand(1, 1, c))

    def forward(self, x, h, w):
        t = x.shape[1]
        xx = q_shift(x, h, w)
        xk = x * self.spatial_mix_k + xx * (1 - self.spatial_mix_k)
        xv = x * self.spatial_mix_v + xx * (1 - self.spatial_mix_v)
        xr = x * self.spatial_mix_r + xx * (1 - self.spatial_mix_r)
        k, v, r = self.key(xk), self.value(xv), self.receptance(xr)
        y = bi_wkv(self.spatial_decay / t, self.spatial_first / t, k, v).to(r.dtype)
        return self.output(torch.sigmoid(r) * y)


class ChannelMix(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.key = nn.Linear(c, hidden, bias=False)
        self.value = nn.Linear(hidden, c, bias=False)
        self.receptance = nn.Linear(c, c, bias=False)
        self.spatial_mix_k = nn.Parameter(torch.rand(1, 1, c))
        self.spatial_mix_r = nn.Parameter(torch.rand(1, 1, c))

    def forward(self, x, h, w):
        xx = q_shift(x, h, w)
        xk = x * self.spatial_mix_k + xx * (1 - self.spatial_mix_k)
        xr = x * self.spatial_mix_r + xx * (1 - self.spatial_mix_r)
        k = torch.square(torch.relu(self.key(xk)))
        return torch.sigmoid(self.receptance(xr)) * self.value(k)


class Block(nn.Module):
    def __init__(self, c, hidden, first):
        super().__init__()
        if first:
            self.ln0 = nn.LayerNorm(c)
        self.ln1 = nn.LayerNorm(c)
        self.ln2 = nn.LayerNorm(c)
        self.att = SpatialMix(c)
        self.ffn = ChannelMix(c, hidden)
        self.first = first

    def forward(self, x, h, w):
        if self.first:
            x = self.ln0(x)
        x = x + self.att(self.ln1(x), h, w)
        return x + self.ffn(self.ln2(x), h, w)


class PatchEmbed(nn.Module):
    def __init__(self, c, p):
        super().__init__()
        self.projection = nn.Conv2d(3, c, p, p)


class Backbone(nn.Module):
    def __init__(self, c=192, depth=12, p=16, img=224):
        super().__init__()
        self.p = p
        self.g0 = img // p
        self.patch_embed = PatchEmbed(c, p)
        self.pos_embed = nn.Parameter(torch.randn(1, self.g0 * self.g0, c) * 0.02)
        self.layers = nn.ModuleList([Block(c, 4 * c, i == 0) for i in range(depth)])
        self.ln1 = nn.LayerNorm(c)

    def forward(self, x):
        hp, wp = x.shape[2], x.shape[3]
        x = F.pad(x, (0, (-wp) % self.p, 0, (-hp) % self.p))
        x = self.patch_embed.projection(x)
        h, w = x.shape[2], x.shape[3]
        x = x.flatten(2).transpose(1, 2)
        pos = self.pos_embed
        if (h, w) != (self.g0, self.g0):
            pos = pos.reshape(1, self.g0, self.g0, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(pos, size=(h, w), mode="bicubic", align_corners=False)
            pos = pos.flatten(2).transpose(1, 2)
        x = x + pos
        for blk in self.layers:
            x = blk(x, h, w)
        return self.ln1(x)


class Head(nn.Module):
    def __init__(self, c, classes):
        super().__init__()
        self.fc = nn.Linear(c, classes)


class VRWKV(nn.Module):
    def __init__(self, c=192, depth=12, classes=1000):
        super().__init__()
        self.backbone = Backbone(c, depth)
        self.head = Head(c, classes)

    def forward(self, x):
        return self.head.fc(self.backbone(x).mean(dim=1))


def check_against_fixture(pth, io_file):
    from safetensors.torch import load_file
    model = VRWKV().cuda().eval().double()
    ckpt = torch.load(pth, map_location="cpu", weights_only=False)
    sd = ckpt.get("state_dict", ckpt)
    sd = {k: (v.reshape(-1) if k.endswith(("spatial_decay", "spatial_first")) else v) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    io = load_file(io_file)
    with torch.no_grad():
        logits = model(io["input"].double().cuda()).cpu()
    err = (logits - io["logits_ref"].double()).abs().max().item()
    print(f"check: float64 PyTorch VRWKV-T vs logits_ref: max abs error {err:.3e} "
          f"(missing {len(missing)}, unexpected {len(unexpected)} keys)", file=sys.stderr)
    return err


# ------------------------------------------------------------------ timing

def weights_mib(model):
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def time_model(model, size, batch, autocast, iters=20, warmup=3):
    images = torch.randn(batch, 3, size, size, device="cuda")
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if autocast else torch.autocast("cuda", enabled=False)
    times = []
    with torch.no_grad(), ctx:
        out = model(images)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        del out
        for i in range(warmup + iters):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            out = model(images)
            stop.record()
            stop.synchronize()
            del out
            if i >= warmup:
                times.append(start.elapsed_time(stop))
    ms = statistics.median(times)
    return {"ms_median": ms, "img_per_s": batch * 1000.0 / ms, "peak_mib_beyond_weights": peak / 2**20}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--check", nargs=2, metavar=("PTH", "IO"), default=None)
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "runs": []}
    if a.check:
        results["check_max_abs_error"] = check_against_fixture(*a.check)

    import timm
    vr = VRWKV().cuda().eval()
    for (size, batch) in SHAPES:
        r = time_model(vr, size, batch, autocast=True, iters=a.iters)
        r.update(model="vrwkv_t", impl="pytorch_ops_cumsum_biwkv", dtype="bf16_autocast", size=size, batch=batch,
                 weights_mib=weights_mib(vr))
        results["runs"].append(r)
        print(json.dumps(r), file=sys.stderr)
    r = time_model(vr, 224, 64, autocast=False, iters=a.iters)
    r.update(model="vrwkv_t", impl="pytorch_ops_cumsum_biwkv", dtype="float32", size=224, batch=64,
             weights_mib=weights_mib(vr))
    results["runs"].append(r)
    print(json.dumps(r), file=sys.stderr)
    del vr
    torch.cuda.empty_cache()

    for (size, batch) in SHAPES:
        vit = timm.create_model("vit_tiny_patch16_224", img_size=size, dynamic_img_size=True).cuda().eval()
        r = time_model(vit, size, batch, autocast=True, iters=a.iters)
        r.update(model="vit_t", impl="timm_sdpa", dtype="bf16_autocast", size=size, batch=batch,
                 weights_mib=weights_mib(vit), fused_attn=bool(getattr(vit.blocks[0].attn, "fused_attn", False)))
        results["runs"].append(r)
        print(json.dumps(r), file=sys.stderr)
        del vit
        torch.cuda.empty_cache()

    text = json.dumps(results, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
