#!/usr/bin/python3
"""deepfm_crosscheck.py -- an independent numpy DeepFM, to check that
adfunnel's C trainer (core/learn/deepfm_train.c) computes the anchor's
model and training step (../shared/anchors/README.md, "DeepFM").

It reads two encoded splits written by `adfunnel train --dump` (train and
valid; global indices, one column per single-valued field) and trains the
anchor's DeepFM with plain numpy: dense Adam (torch.optim.Adam semantics),
weight decay 2*l2 on both embedding tables, batch 256, dropout 0.

  --rng adfunnel  draws the initial weights and the per-epoch row order
                  exactly as `adfunnel train --seed S` does (xoshiro256**
                  seeded through splitmix64, Box-Muller normals, Fisher-Yates;
                  core/world/wrand.h), so its per-epoch train loss and valid
                  AUC must match adfunnel's history up to float summation
                  order;
  --rng numpy     draws them from numpy.random.RandomState(seed) as the
                  anchor draws its permutation: a third, independent stream.

Not a test (it takes seconds per epoch); docs/benchmarks.md ("DeepFM")
shows its output next to adfunnel's.  Needs numpy and scikit-learn
(/usr/bin/python3 has both).

  adfunnel train --spec pipelines/features/recipes/avazu.lua --dump train > tr.tsv
  adfunnel train --spec pipelines/features/recipes/avazu.lua --dump valid > va.tsv
  bench/deepfm_crosscheck.py tr.tsv va.tsv --seed 3 --l2 1e-2 --epochs 3
"""
import argparse
import math

import numpy as np
from sklearn.metrics import roc_auc_score

M64 = (1 << 64) - 1


class WRand:
    """core/world/wrand.h: xoshiro256** for (seed, stream)."""

    def __init__(self, seed, stream):
        x = (seed ^ ((stream * 0xd1342543de82ef95) & M64)) & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        t = (s[1] << 17) & M64
        x = (s[1] * 5) & M64
        res = ((((x << 7) | (x >> 57)) & M64) * 9) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
        return res

    def unit(self):
        return (self.u64() >> 11) * 2.0 ** -53

    def normal(self):
        u1 = 1.0 - self.unit()
        u2 = self.unit()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


def load(path):
    a = np.loadtxt(path, skiprows=1, dtype=np.int64, delimiter="\t")
    return a[:, 1:], a[:, 0].astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train")
    ap.add_argument("valid")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--l2", type=float, default=1e-6)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rng", choices=["adfunnel", "numpy"], default="adfunnel")
    args = ap.parse_args()
    xtr, ytr = load(args.train)
    xva, yva = load(args.valid)
    n_index = int(max(xtr.max(), xva.max())) + 1
    n_fields, dim, hidden = xtr.shape[1], 16, [400, 400, 400]
    f32 = np.float32
    ours = args.rng == "adfunnel"
    nrng = np.random.RandomState(args.seed)

    # Initialisation: the anchor's distributions, from the chosen stream.
    w1 = np.zeros(n_index, f32)
    if ours:
        r = WRand(args.seed, 1)
        emb = np.array([f32(0.01 * r.normal()) for _ in range(n_index * dim)],
                       f32).reshape(n_index, dim)
    else:
        emb = (nrng.randn(n_index, dim) * 0.01).astype(f32)
    p0 = min(max(float(ytr.mean()), 1e-6), 1 - 1e-6)
    bias = np.array([math.log(p0 / (1 - p0))], f32)
    widths = [n_fields * dim] + hidden + [1]
    ws, bs = [], []
    rx = WRand(args.seed, 2)
    for i in range(len(widths) - 1):
        a = math.sqrt(6.0 / (widths[i] + widths[i + 1]))
        shape = (widths[i], widths[i + 1])
        if ours:
            w = np.array([f32((2.0 * rx.unit() - 1.0) * a)
                          for _ in range(shape[0] * shape[1])], f32).reshape(shape)
        else:
            w = nrng.uniform(-a, a, shape).astype(f32)
        ws.append(w)
        bs.append(np.zeros(widths[i + 1], f32))
    params = [w1, emb, bias] + ws + bs
    decay = [2 * args.l2, 2 * args.l2] + [0.0] * (1 + 2 * len(ws))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    shuffle_rng = WRand(args.seed, 3)

    def permutation(n):
        if not ours:
            return nrng.permutation(n)
        perm = list(range(n))
        for i in range(n, 1, -1):
            j = ((shuffle_rng.u64() >> 32) * i) >> 32
            perm[i - 1], perm[j] = perm[j], perm[i - 1]
        return np.array(perm)

    def forward(x):
        e = emb[x]
        s = e.sum(1)
        fm = 0.5 * (s * s - (e * e).sum(1)).sum(1)
        h = e.reshape(len(x), -1)
        acts = [h]
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        return bias[0] + w1[x].sum(1) + fm + h[:, 0], e, s, acts

    t = 0
    for epoch in range(1, args.epochs + 1):
        perm = permutation(len(xtr))
        total = 0.0
        for a0 in range(0, len(xtr), 256):
            idx = perm[a0:a0 + 256]
            x, y, nb = xtr[idx], ytr[idx], len(idx)
            logit, e, s, acts = forward(x)
            z = logit.astype(np.float64)
            total += float((np.logaddexp(0, -np.abs(z)) + np.maximum(z, 0) - y * z).sum())
            g = ((1 / (1 + np.exp(-z)) - y) / nb).astype(f32)
            grads = [np.zeros_like(p) for p in params]
            grads[2][0] = g.sum()
            np.add.at(grads[0], x, np.repeat(g[:, None], n_fields, 1))
            dh = g[:, None]
            nw = len(ws)
            for i in range(nw - 1, -1, -1):
                grads[3 + i] = acts[i].T @ dh
                grads[3 + nw + i] = dh.sum(0)
                dh = dh @ ws[i].T
                if i > 0:
                    dh = dh * (acts[i] > 0)
            de = dh.reshape(nb, n_fields, dim) + g[:, None, None] * (s[:, None, :] - e)
            np.add.at(grads[1], x, de)
            t += 1
            bc1, bc2 = 1 - 0.9 ** t, 1 - 0.999 ** t
            for k, p in enumerate(params):
                gk = grads[k] + decay[k] * p if decay[k] else grads[k]
                m[k] = 0.9 * m[k] + 0.1 * gk
                v[k] = 0.999 * v[k] + 0.001 * gk * gk
                p -= (1e-3 / bc1) * m[k] / (np.sqrt(v[k]) / math.sqrt(bc2) + 1e-8)
        lv = forward(xva)[0].astype(np.float64)
        print("epoch %d  train_loss %.5f  valid_auc %.5f"
              % (epoch, total / len(xtr), roc_auc_score(yva, 1 / (1 + np.exp(-lv)))),
              flush=True)


if __name__ == "__main__":
    main()
