#!/usr/bin/python3
"""PyTorch CPU timing and the comparison table for bench_lavapipe.sh.

  bench_torch.py time --threads 2 --iters 10 resnet18 resnet50   -> one JSON line per model
  bench_torch.py compare PEAK.txt TORCH.jsonl REPORT.json...      -> the comparison table

Runs with Debian's /usr/bin/python3 (python3-torch, python3-torchvision). Not part of the
product or the test suite: it only measures the machine rmvk is compared on.
"""
import argparse
import json
import re
import statistics
import sys
import time

# Figures of the reference Vulkan engine (fp32), measured on this same lavapipe, 2 threads,
# 224x224, batch 1 (latency in ms).
REFERENCE_MS = {"resnet18": 217.0, "resnet50": 523.0}


def time_torch(args):
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    for name in args.models:
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(1, 3, args.size, args.size)
        times = []
        with torch.inference_mode():
            for i in range(args.warmup + args.iters):
                t0 = time.perf_counter()
                model(x)
                if i >= args.warmup:
                    times.append((time.perf_counter() - t0) * 1000.0)
        print(json.dumps({"model": name, "threads": args.threads, "median_ms": statistics.median(times),
                          "min_ms": min(times), "iters": args.iters, "torch": torch.__version__}), flush=True)


def conv3x3_gflops(graph):
    """Aggregate rate of all 3x3 convs: their MACs over their device time."""
    macs = sum(l["macs"] for l in graph["layers"] if l["op"] == "Conv" and l.get("kernel", "").startswith("3x3"))
    ms = sum(l["device_ms"] for l in graph["layers"] if l["op"] == "Conv" and l.get("kernel", "").startswith("3x3"))
    return (2.0 * macs / (ms * 1e6) if ms > 0 else 0.0), ms


def compare(args):
    peak_text = open(args.peak).read()
    m = re.search(r"peak: ([0-9.]+) GFLOP/s.*?, ([0-9.]+) GB/s", peak_text)
    peak = float(m.group(1)) if m else 0.0
    bandwidth = float(m.group(2)) if m else 0.0
    torch_ms = {}
    for line in open(args.torch):
        if line.strip().startswith("{"):
            r = json.loads(line)
            torch_ms[r["model"]] = r["median_ms"]
    print(f"\nmeasured peak: {peak:.1f} GFLOP/s (vec4 FMA), {bandwidth:.2f} GB/s (copy)\n")
    head = f"{'model':9} {'graph':8} {'device ms':>10} {'wall med':>9} {'wall p95':>9} {'GFLOP/s':>8} {'%peak':>6}" \
           f" {'3x3 GF/s':>9} {'3x3 %pk':>7} {'ref ms':>7} {'rmvk/ref':>8} {'torch ms':>9} {'rmvk/torch':>10}"
    print(head)
    print("-" * len(head))
    for path in args.reports:
        rep = json.load(open(path))
        name = rep["model"].split(":")[-1].split("?")[0]
        for g in rep["graphs"]:
            rate3, _ = conv3x3_gflops(g)
            wall = g["wall_median_ms"]
            ref = REFERENCE_MS.get(name)
            tms = torch_ms.get(name)
            print(f"{name:9} {g['graph']:8} {g['device_total_ms']:10.1f} {wall:9.1f} {g['wall_p95_ms']:9.1f}"
                  f" {g['gflops']:8.1f} {100 * g['gflops'] / peak if peak else 0:5.1f}%"
                  f" {rate3:9.1f} {100 * rate3 / peak if peak else 0:6.1f}%"
                  f" {ref if ref else 0:7.0f} {wall / ref if ref else 0:7.2f}x"
                  f" {tms if tms else 0:9.1f} {wall / tms if tms else 0:9.2f}x")
    print("\nref ms: the reference Vulkan engine (fp32) on this lavapipe; rmvk/ref and rmvk/torch use rmvk's wall")
    print("median (upload + run + download), < 1 means rmvk is faster. torch: PyTorch CPU, same thread count.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--iters", type=int, default=10)
    t.add_argument("--warmup", type=int, default=3)
    t.add_argument("--size", type=int, default=224)
    t.add_argument("models", nargs="+")
    c = sub.add_parser("compare")
    c.add_argument("peak")
    c.add_argument("torch")
    c.add_argument("reports", nargs="+")
    args = p.parse_args()
    time_torch(args) if args.cmd == "time" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
