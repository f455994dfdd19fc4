#!/usr/bin/python3
"""Peer for wrsec's training benchmark: one epoch of a 784-256-256-10 MLP on Fashion-MNIST with
PyTorch on the CPU (SGD, momentum 0.9, lr 0.05, batch 128), as examples per second.

  python3 torch_mlp_epoch.py THREADS [relu|gelu|silu] [EPOCHS]

Needs Debian's python3-torch and dataset-fashion-mnist. Use /usr/bin/python3 (Debian's Python,
where python3-torch is installed). Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE to work
around old OpenBLAS bugs; they slow a current OpenBLAS, so for the peer's best figure run it as
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 torch_mlp_epoch.py 1` and try
THREADS 1 and 2: quote the best.
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
act = sys.argv[2] if len(sys.argv) > 2 else "relu"
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)
D = "/usr/share/datasets/fashion-mnist/"


def idx(path):
    with gzip.open(path) as f:
        nd = struct.unpack(">I", f.read(4))[0] & 0xFF
        dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


X = torch.tensor(idx(D + "train-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255.0
Y = torch.tensor(idx(D + "train-labels-idx1-ubyte.gz").astype(np.int64))
Xt = torch.tensor(idx(D + "t10k-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255.0
Yt = torch.tensor(idx(D + "t10k-labels-idx1-ubyte.gz").astype(np.int64))
A = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "silu": torch.nn.SiLU}[act]
net = torch.nn.Sequential(torch.nn.Linear(784, 256), A(), torch.nn.Linear(256, 256), A(),
                          torch.nn.Linear(256, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
B = 128
for epoch in range(epochs):
    perm = torch.randperm(X.shape[0])
    t0 = time.perf_counter()
    for i in range(0, X.shape[0], B):
        j = perm[i:i + B]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X[j]), Y[j]).backward()
        opt.step()
    dt = time.perf_counter() - t0
    with torch.no_grad():
        acc = (net(Xt).argmax(1) == Yt).float().mean().item()
    print(f"epoch {epoch} threads {threads} act {act}: {dt:.3f} s, {X.shape[0] / dt:.0f} examples/s, "
          f"test acc {acc:.4f}")
