#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention at the shapes of bench_biwkv_vs_attention_cuda.

(B, T, C) bf16 tensors viewed as (B, H, T, 64) heads without a copy (the same
memory layout our kernels read), B = max(1, 16384 // T), non-causal. Each call
is timed alone with CUDA events after warm-up, inputs rotating over copies so
they are not served from L2; the mean per call is reported, as Google Benchmark
does. Output: Google-Benchmark-style JSON on stdout, names sdpa_<backend>/T:<T>/C:<C>.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

TOKENS = [196, 1024, 4096, 16384, 65536]
CHANNELS = [192, 768]
BACKENDS = {
    "sdpa_flash": SDPBackend.FLASH_ATTENTION,
    "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
    "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION,
}


def time_calls(fn, sets, min_time):
    for i in range(sets):
        fn(i)
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times, began, i = [], time.perf_counter(), 0
    while len(times) < 10 or (time.perf_counter() - began < min_time and len(times) < 1000):
        start.record()
        fn(i % sets)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
        i += 1
    return sum(times) / len(times), len(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "half"])
    args = ap.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    out = {"context": {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "dtype": args.dtype,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S")},
           "benchmarks": []}
    for c in CHANNELS:
        for t in TOKENS:
            b, h = max(1, 16384 // t), c // 64
            sets = min(8, max(1, math.ceil(100e6 / (3 * b * t * c * 2))))
            qkv = [[torch.empty(b, t, c, device="cuda", dtype=dtype).uniform_(-1, 1) for _ in range(3)]
                   for _ in range(sets)]
            heads = [[x.view(b, t, h, 64).transpose(1, 2) for x in s] for s in qkv]
            flops = 4.0 * b * t * t * c
            for name, backend in BACKENDS.items():
                try:
                    with sdpa_kernel(backend):
                        ms, n = time_calls(lambda i: F.scaled_dot_product_attention(*heads[i]), sets, args.min_time)
                except Exception as e:  # backend not available for this shape / build
                    print(f"{name} T={t} C={c}: {type(e).__name__}: {str(e).splitlines()[0][:200]}", file=sys.stderr)
                    continue
                out["benchmarks"].append({
                    "name": f"{name}/T:{t}/C:{c}", "run_name": f"{name}/T:{t}/C:{c}", "run_type": "iteration",
                    "iterations": n, "real_time": ms, "cpu_time": ms, "time_unit": "ms", "B": b,
                    "tokens/s": b * t / (ms * 1e-3), "bytes/s": 4.0 * b * t * c * 2 / (ms * 1e-3),
                    "FLOP/s": flops / (ms * 1e-3), "label": args.dtype})
                print(f"{name:15s} T={t:6d} C={c:4d} B={b:3d} {ms:9.3f} ms {flops / ms * 1e-9:7.1f} TFLOP/s",
                      file=sys.stderr)
            del qkv, heads
            torch.cuda.empty_cache()
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
