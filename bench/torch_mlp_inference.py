#!/usr/bin/python3
"""Peer for nn_bench's BM_Inference784x256x256x10: inference of a 784-256-256-10 ReLU MLP with
PyTorch on the CPU, batch 1 latency (median of 2000 calls) and batch 10 000 throughput (median
of 20), on Fashion-MNIST test images.

  bench/torch_mlp_inference.py THREADS

Needs Debian's python3-torch and dataset-fashion-mnist; for PyTorch's best figure install
libopenblas0-pthread (the reference BLAS that python3-torch pulls in otherwise is far slower) and
try THREADS 1 and 2. Not run in CI.
"""
import gzip
import statistics
import struct
import sys
import time

import numpy as np
import torch

if len(sys.argv) != 2:
    sys.exit(__doc__)
threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    nd = struct.unpack(">I", f.read(4))[0] & 0xFF
    dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
    images = np.frombuffer(f.read(), dtype=np.uint8).reshape(dims[0], -1)
x = torch.tensor(images, dtype=torch.float32) / 255.0
net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                          torch.nn.ReLU(), torch.nn.Linear(256, 10)).eval()


def timed(batch, calls):
    out = []
    with torch.no_grad():
        for _ in range(calls):
            t0 = time.perf_counter()
            net(batch)
            out.append(time.perf_counter() - t0)
    return statistics.median(out)


one = x[:1]
timed(one, 200)  # warm-up
lat = timed(one, 2000)
big = x[:10000]
timed(big, 3)
thr = timed(big, 20)
print(f"threads {threads}: batch 1 latency {lat * 1e6:.1f} us, batch 10000 {thr * 1e3:.2f} ms "
      f"({10000 / thr / 1e3:.0f} k examples/s)")
