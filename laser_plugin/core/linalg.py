"""Dense float64 helpers of the ridge engine: exactly symmetric low-rank downdates and inverses."""
from __future__ import annotations

from typing import Any

import numpy as np

TILE = 64  # tiles of the downdate: small enough that OpenBLAS runs each product on one thread (larger
# tiles cross its threading threshold and stall for 10x longer on a busy 2-core machine)


def subtract_gram(s: np.ndarray, g: np.ndarray, tile: int = TILE, sign: Any = 1.0) -> None:
    """s -= g^T diag(sign) g in place (g: [r, d], s: [d, d], any row stride; sign a scalar or one per row
    of g, -1 adding: a row leaving a sliding window), keeping a symmetric s EXACTLY symmetric.

    Tile by tile over the upper triangle: each off-diagonal product g_I^T g_J is computed once and
    subtracted from tile (I, J) and, transposed, from tile (J, I), so the two sides see the same
    numbers; diagonal tiles are averaged with their transpose first (fp addition commutes). Half
    the flops of a full gemm, one pass over s, no d x d temporary. (numpy's own ``a.T @ a`` runs
    syrk and then mirrors the triangle element by element: 2x slower at d = 4096.)"""
    d = s.shape[0]
    if len(g) == 0:
        return
    w = np.asarray(sign, dtype=np.float64)
    h = g if np.all(w == 1.0) else (w[:, None] if w.ndim else w) * g  # the signs ride on one factor
    for i in range(0, d, tile):
        gi = g[:, i:i + tile]
        diag = gi.T @ h[:, i:i + tile]
        s[i:i + tile, i:i + tile] -= 0.5 * (diag + diag.T)
        for j in range(i + tile, d, tile):
            blk = gi.T @ h[:, j:j + tile]
            s[i:i + tile, j:j + tile] -= blk
            s[j:j + tile, i:i + tile] -= blk.T


def gram(g: np.ndarray, d: int) -> np.ndarray:
    """g^T g as a new exactly symmetric [d, d] matrix."""
    out = np.zeros((d, d))
    subtract_gram(out, g)
    return -out


def spd_inverse(a: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(a)
    return 0.5 * (inv + inv.T)  # exactly symmetric: fp addition commutes
