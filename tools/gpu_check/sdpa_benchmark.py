"""Times torch's fused attention (scaled_dot_product_attention: FlashAttention-2 style kernels on
recent GPUs) forward + backward in bfloat16, for the CUDA benchmark's "fused" column
(attention/cuda/sbm_attention_cuda_benchmark.cc --fused=FILE).

    python3 tools/gpu_check/sdpa_benchmark.py --out=fused.json [--sizes=1024,4096,16384]
        [--batch=8] [--heads=8] [--d=64] [--repeats=5]

Writes {"<n>": milliseconds, ...}: the median of --repeats timed runs after one warm-up, by CUDA
events, of one forward and one backward (gradients of q, k and v) at [batch, heads, n, d].
"""
import argparse
import json
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1024,4096,16384")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("sdpa_benchmark: no torch in this python3", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("sdpa_benchmark: torch sees no GPU", file=sys.stderr)
        return 2
    results = {}
    for n in [int(s) for s in a.sizes.split(",")]:
        shape = (a.batch, a.heads, n, a.d)
        q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                   for _ in range(3))
        grad = torch.randn(shape, device="cuda", dtype=torch.bfloat16)

        def run():
            out = F.scaled_dot_product_attention(q, k, v)
            out.backward(grad)

        run()
        torch.cuda.synchronize()
        times = []
        for _ in range(a.repeats):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        results[str(n)] = statistics.median(times)
        print("sdpa_benchmark: n %d: %.3f ms forward + backward (bf16, %s)" %
              (n, results[str(n)], torch.cuda.get_device_name()))
        del q, k, v, grad
        torch.cuda.empty_cache()
    with open(a.out, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
