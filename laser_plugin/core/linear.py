"""Per-arm ridge regression kept in inverse form: the engine shared by LinUCB and linear Thompson.

For each arm k (every row weighted 1 unless discounted):
    A_k = lam I + sum_t x_t x_t^T,    b_k = lam mu0_k + sum_t r_t x_t,    theta_k = A_k^-1 b_k.
One row of arm k (Sherman-Morrison, O(d^2)), with u = A^-1 x and c = 1 + x.u:
    A^-1 <- A^-1 - u u^T / c,           theta <- theta + u (r - x.theta) / c
m rows X of one arm in one call (Woodbury, O(m d^2) as BLAS-3 products), U = A^-1 X^T:
    C = I + X U,   A^-1 <- A^-1 - U C^-1 U^T = A^-1 - G G^T,   theta <- theta + U C^-1 (r - X theta)
Deferred downdates: A_k^-1 = s_k (S_k - V_k V_k^T), where V_k collects up to ``_DEFER`` columns
(sqrt(s/c) u, or the columns of G) before they are subtracted from S_k in ONE tiled pass. Between
passes every product with A^-1 is S_k x minus an O(d r) correction, so a one-row update costs
O(d r) instead of a pass over a d x d matrix: select + update reads each S_k about once, as a bare
selection would. The tiled subtraction (``linalg.subtract_gram``) keeps S_k exactly symmetric.
Every ``refactor_every`` updates of an arm, A^-1 and theta are recomputed exactly from A (kept as
A_base plus a buffer of recent rows: no d x d pass per row).

Forgetting, for a best arm that moves while the policy trains. Both keep the ridge (the prior) at
exactly lam I / lam mu0, so an arm that is not played drifts back to the prior, regains
uncertainty and is re-explored, but never becomes MORE uncertain than the prior:
  window W (Cheung et al. 2019, sliding-window LinUCB): A_k, b_k hold the last W rows of ALL arms
      (a row leaves W decisions after it arrived, whichever arms were played since). A leaving row is
      a Sherman-Morrison downdate with weight -1 (A^-1 <- A^-1 + u u^T / (1 - x.u)): O(d^2), exact.
  discount gamma < 1 (Russac et al. 2019, D-LinUCB): per decision (a call with m rows is m decisions),
      every arm's DATA part decays toward the prior before the new rows are added,
          A_k <- gamma^m (A_k - lam I) + lam I,    b_k <- gamma^m (b_k - lam mu0) + lam mu0.
      The identity term is full rank, so no rank-one formula applies: every arm's A^-1 is recomputed
      exactly (O(K d^3) per call; meant for d <= ~256, use ``window`` above that).
(The previous discount scaled the whole A_k, ridge included, and restored the ridge once it fell
below a floor: unplayed arms' prior variance grew up to 10x and snapped back, a sawtooth in regret.)
"""
from __future__ import annotations

from collections import deque
from typing import Any, Optional

import numpy as np

from laser_plugin.core.base import Selector
from laser_plugin.core.linalg import spd_inverse, subtract_gram

_DEFER = 32  # downdate columns collected per arm before one pass over S_k
_FLUSH_ROWS = 256  # buffered rows per arm (at least d) before they are folded into A_base (one gemm)
_CACHE_MAX = 1 << 24  # float64 entries of the cached x^T A_k^-1 products (128 MiB)


class RidgeArms:
    """K independent ridge regressions in R^d, in float64, with O(d^2) updates."""

    def __init__(self, num_arms: int, dim: int, ridge: float, discount: float = 1.0, window: int = 0,
                 refactor_every: int = 1000, prior_mean: Optional[np.ndarray] = None, row_scale: float = 1.0) -> None:
        k, d = num_arms, dim
        if discount < 1.0 and window > 0:
            raise ValueError("choose one way to forget: discount < 1 or window > 0, not both")
        self.row_scale = float(row_scale)  # rows and rewards enter as (x, r) * row_scale (Thompson: 1 / noise)
        self.num_arms, self.dim, self.ridge, self.discount = k, d, float(ridge), float(discount)
        self.window, self.refactor_every = int(window), int(refactor_every)
        self.recent: deque = deque()  # window: (arm, raw x, raw r) of the last `window` rows, oldest first
        self.mu0 = np.zeros((k, d)) if prior_mean is None else np.array(prior_mean, dtype=np.float64)
        # A_k^-1 = s_k * S_k. Stored as [d, K, d] so that one gemm scores every arm; S[k] is a view.
        self._S_all = np.repeat(np.eye(d)[:, None, :] / ridge, k, axis=1)
        self._S = self._S_all.transpose(1, 0, 2)
        self._s = np.ones(k)
        self._A_base = np.repeat(np.eye(d)[None] * ridge, k, axis=0)  # A_k = c_k (A_base_k + sum w x x^T)
        self._c = np.ones(k)
        self._pending: list[list[tuple[np.ndarray, float]]] = [[] for _ in range(k)]
        self.b = self.ridge * self.mu0
        self.theta = self.mu0.copy()
        self.counts = np.zeros(k, dtype=np.int64)  # rows seen
        self._since_refactor = np.zeros(k, dtype=np.int64)  # update operations since the last refactor
        self._version = np.zeros(k, dtype=np.int64)  # bumps whenever S_k itself is rewritten (invalidates the cache)
        self._cache: Optional[tuple] = None  # (rows, their raw products x^T S_a, _version) of the last project()
        # the buffer holds up to one d x d matrix worth of rows; below that a refactorisation folds it
        self._buffer_rows = max(_FLUSH_ROWS, d)
        self._Vt = np.zeros((k, _DEFER, d))  # deferred columns, as rows: S_k - Vt_k^T diag(sv_k) Vt_k
        self._sv = np.ones((k, _DEFER))  # +1: a row added (downdate), -1: a row that left the window (update)
        self._nv = np.zeros(k, dtype=np.int64)
        self._exact = np.ones(k, dtype=bool)  # A_k^-1 and theta_k computed exactly from A_k since its last change

    # ------------------------------------------------------------------ reading
    def inverse(self, k: int) -> np.ndarray:
        out = self._S[k].copy()
        subtract_gram(out, self._Vt[k, :self._nv[k]], sign=self._sv[k, :self._nv[k]])
        return self._s[k] * out

    def gram(self, k: int) -> np.ndarray:
        """The exact current A_k (for checks and refactorisation)."""
        return self._c[k] * self._folded(k)

    def _folded(self, k: int) -> np.ndarray:
        """A_base_k + sum_pending w x x^T (one gemm for all buffered rows)."""
        a = self._A_base[k].copy()
        if self._pending[k]:
            x = np.stack([r for r, _ in self._pending[k]])
            w = np.array([w for _, w in self._pending[k]])
            a += (x * w[:, None]).T @ x
        return a

    def _correction(self, k: int, x: np.ndarray) -> np.ndarray:
        """V_k diag(sv_k) V_k^T x for each row of x: the deferred columns' part, O(m d r)."""
        n = self._nv[k]
        return ((x @ self._Vt[k, :n].T) * self._sv[k, :n]) @ self._Vt[k, :n]

    def project(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row and arm: mean x.theta_k and variance x^T A_k^-1 x, both [N, K]."""
        n, k, d = len(x), self.num_arms, self.dim
        raw = (x @ self._S_all.reshape(d, k * d)).reshape(n, k, d)  # x^T S_a (= S_a x): one pass over all S
        prods = raw.copy() if self._nv.any() else raw
        for a in np.flatnonzero(self._nv):
            prods[:, a] -= self._correction(a, x)  # the deferred columns: O(n d r)
        var = np.matmul(prods, x[:, :, None])[:, :, 0] * self._s[None, :]
        if raw.size <= _CACHE_MAX:  # update() reuses S_a x instead of another pass over S_a
            self._cache = (x.copy(), raw, self._version.copy())
        return x @ self.theta.T, np.maximum(var, 0.0)

    def _products(self, k: int, x: np.ndarray) -> np.ndarray:
        """(S_k - V_k diag(sv_k) V_k^T) x for each row of x ([m, d]). The S_k x part comes from the last
        project() call while S_k has not been rewritten since (deferred columns do not rewrite it)."""
        raw = None
        if self._cache is not None and self._cache[2][k] == self._version[k]:
            cx, cached, _ = self._cache
            if len(cx) == len(x) and np.array_equal(cx, x):
                raw = cached[:, k]
            else:
                index = {row.tobytes(): i for i, row in enumerate(cx)}
                hits = [index.get(row.tobytes()) for row in x]
                if all(h is not None for h in hits):
                    raw = cached[hits, k]
        if raw is None:  # one row: a 1-D gemv (a [1, d] @ [d, d] product runs as a 20x slower gemm here)
            raw = (x[0] @ self._S[k])[None, :] if len(x) == 1 else x @ self._S[k]
        return raw - self._correction(k, x) if self._nv[k] else raw

    # ------------------------------------------------------------------ updates
    def update(self, arms: np.ndarray, x: np.ndarray, r: np.ndarray) -> None:
        """One round: forget (discount every arm, if gamma < 1), add the rows of each played arm, then
        (window) drop the rows that fell out of the window."""
        if self.discount < 1.0:
            f = self.discount ** len(arms)  # per decision, so that gamma means the same at any batch size
            for k in range(self.num_arms):
                self._decay(k, f)
        for k in np.unique(arms):
            rows = np.flatnonzero(arms == k)
            self._add(int(k), x[rows], r[rows])
        if self.window > 0:
            self.recent.extend(zip(arms.tolist(), x.copy(), r.tolist()))
            while len(self.recent) > self.window:
                k, row, rew = self.recent.popleft()
                self._remove(int(k), row, float(rew))

    def _decay(self, k: int, f: float) -> None:
        """A_k <- f (A_k - lam I) + lam I and b_k <- f (b_k - lam mu0) + lam mu0, inverse exact."""
        a = f * self.gram(k)
        a[np.diag_indices(self.dim)] += (1.0 - f) * self.ridge
        self.b[k] = f * self.b[k] + (1.0 - f) * self.ridge * self.mu0[k]
        self._set_exact(k, a)

    def _remove(self, k: int, x_raw: np.ndarray, r: float) -> None:
        """Downdate arm k by one row (weight -1): A^-1 <- A^-1 + u u^T / c, c = 1 - x.u > 0 (A - x x^T >= lam I)."""
        x, r = x_raw * self.row_scale, r * self.row_scale
        self._exact[k] = False
        self._pending[k].append((x.copy(), -1.0 / self._c[k]))
        self.b[k] -= r * x
        p = self._products(k, x_raw[None, :])[0] * self.row_scale  # reads S_k once: 1/K of a selection's pass
        s = self._s[k]
        c = 1.0 - s * (x @ p)
        self.theta[k] -= (s * p) * ((r - x @ self.theta[k]) / c)
        # s (S - V W V^T) + s^2 p p^T / c = s (S - V W V^T - (-1) col col^T): a deferred column of sign -1
        self._defer(k, (p * np.sqrt(s / c))[None, :], sign=-1.0)
        self._since_refactor[k] += 1
        if len(self._pending[k]) >= self._buffer_rows:
            self._flush(k)
        if self._since_refactor[k] >= self.refactor_every:
            self.refactor(k)

    def _add(self, k: int, x_raw: np.ndarray, r: np.ndarray) -> None:
        m, x, r = len(x_raw), x_raw * self.row_scale, r * self.row_scale
        self._exact[k] = False
        self._pending[k].extend((row.copy(), 1.0 / self._c[k]) for row in x)
        self.b[k] += r @ x
        self.counts[k] += m
        if m > 1 and m >= self.dim:  # as many rows as dimensions: an exact solve is cheaper than Woodbury
            self.refactor(k)
            return
        p = self._products(k, x_raw) * self.row_scale  # [m, d]: A_k^-1 x_i / s_k
        s = self._s[k]
        if m == 1:
            p0, x0 = p[0], x[0]
            c = 1.0 + s * (x0 @ p0)
            self.theta[k] += (s * p0) * ((r[0] - x0 @ self.theta[k]) / c)
            cols = (p0 * np.sqrt(s / c))[None, :]  # A^-1 - u u^T / c = s (S - V V^T - cols^T cols)
        else:
            u_t = s * p  # U^T
            cm = np.eye(m) + x @ u_t.T
            chol = np.linalg.cholesky(0.5 * (cm + cm.T))
            g_t = np.linalg.solve(chol, u_t)  # G^T = L^-1 U^T, so U C^-1 U^T = G G^T
            self.theta[k] += g_t.T @ np.linalg.solve(chol, r - x @ self.theta[k])
            cols = g_t / np.sqrt(s)
        self._defer(k, cols)
        self._since_refactor[k] += 1
        if len(self._pending[k]) >= self._buffer_rows:
            self._flush(k)
        if self._since_refactor[k] >= self.refactor_every:
            self.refactor(k)

    def _defer(self, k: int, cols: np.ndarray, sign: float = 1.0) -> None:
        n = self._nv[k]
        if n + len(cols) <= _DEFER:
            self._Vt[k, n:n + len(cols)] = cols
            self._sv[k, n:n + len(cols)] = sign
            self._nv[k] += len(cols)
        else:  # full: one tiled pass applies the collected columns and the new ones together
            signs = np.concatenate([self._sv[k, :n], np.full(len(cols), sign)])
            subtract_gram(self._S[k], np.concatenate([self._Vt[k, :n], cols]), sign=signs)
            self._Vt[k], self._sv[k], self._nv[k] = 0.0, 1.0, 0
            self._version[k] += 1

    def _flush(self, k: int) -> None:
        if self._pending[k]:
            self._A_base[k] = self._folded(k)
            self._pending[k] = []

    def refactor(self, k: int) -> None:
        """Exact A_k^-1 and theta_k from A_k (A_base plus the buffered rows)."""
        self._set_exact(k, self.gram(k))

    def _set_exact(self, k: int, a: np.ndarray) -> None:
        self._A_base[k], self._c[k], self._pending[k] = a, 1.0, []
        self._S[k], self._s[k] = spd_inverse(a), 1.0
        self._Vt[k], self._sv[k], self._nv[k] = 0.0, 1.0, 0
        self.theta[k] = self._S[k] @ self.b[k]
        self._since_refactor[k] = 0
        self._version[k] += 1
        self._exact[k] = True

    # ------------------------------------------------------------------ state
    # On disk is the model (A, b, prior, counts, window rows), never the inverse machinery above:
    # A^-1 and theta are rebuilt from A on load (exact). Saving first refactorises every arm that
    # has changed since its last exact inverse (what refactor_every does anyway), so the live engine
    # and one loaded from its file continue from the same bits: a resumed run repeats the original.
    def arrays(self) -> dict[str, np.ndarray]:
        for k in np.flatnonzero(~self._exact):
            self.refactor(int(k))
        self._cache = None  # a loaded engine has none: both recompute the next products alike
        recent = list(self.recent)
        return {"A": self._A_base, "b": self.b, "mu0": self.mu0, "counts": self.counts,
                "window_arm": np.array([k for k, _, _ in recent], dtype=np.int64),
                "window_x": np.stack([x for _, x, _ in recent]) if recent else np.zeros((0, self.dim)),
                "window_r": np.array([r for _, _, r in recent], dtype=np.float64)}

    def load_arrays(self, arrays: dict[str, Any]) -> None:
        """Arrays from ``arrays()`` (names and shapes already checked by ``Selector.load_state_dict``)."""
        self.b = np.array(arrays["b"], dtype=np.float64)
        self.mu0 = np.array(arrays["mu0"], dtype=np.float64)
        self.counts = np.array(arrays["counts"], dtype=np.int64).reshape(self.num_arms)
        a = np.asarray(arrays["A"], dtype=np.float64)
        for k in range(self.num_arms):
            self._set_exact(k, a[k].copy())
        wx = np.asarray(arrays.get("window_x", np.zeros((0, self.dim))), dtype=np.float64).reshape(-1, self.dim)
        self.recent = deque(zip(np.asarray(arrays.get("window_arm", [])).reshape(-1).astype(int).tolist(),
                                [row.copy() for row in wx],
                                np.asarray(arrays.get("window_r", []), dtype=np.float64).reshape(-1).tolist()))
        self._cache = None

    @staticmethod
    def upgrade_arrays(arrays: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint of the earlier engine (its inverse machinery, no ``A``): A_k rebuilt as
        c_k (A_base_k + sum of its buffered rows w x x^T), the rest of the old arrays dropped."""
        if "A" in arrays or "A_base" not in arrays:
            return arrays
        a = np.array(arrays["A_base"], dtype=np.float64)
        px = np.asarray(arrays.get("pending_x", np.zeros((0, a.shape[-1]))), dtype=np.float64).reshape(-1, a.shape[-1])
        for arm, x, w in zip(np.asarray(arrays.get("pending_arm", [])).reshape(-1).astype(int), px,
                             np.asarray(arrays.get("pending_w", []), dtype=np.float64).reshape(-1)):
            a[arm] += w * np.outer(x, x)
        a *= np.asarray(arrays["c"], dtype=np.float64).reshape(-1)[:, None, None]
        keep = ("b", "mu0", "counts", "window_arm", "window_x", "window_r")
        return {"A": a, **{k: v for k, v in arrays.items() if k in keep}}


class RidgeSelector(Selector):
    """A selector whose per-arm state is a ``RidgeArms`` engine (``self.model``): LinUCB and linear
    Thompson differ only in how they score, so updates and state live here once."""

    model: RidgeArms
    optional_arrays = ragged_arrays = ("window_arm", "window_x", "window_r")  # absent before windows; any length

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        self.model.update(*self._update_inputs(arms, contexts, rewards))

    def expected_scores(self, contexts: Any) -> np.ndarray:
        """x . theta_k: the ridge estimate (Thompson: the posterior mean; with a router prior and no
        update yet, the offline router's scores)."""
        return self._contexts(contexts) @ self.model.theta.T

    def lower_bounds(self, contexts: Any) -> np.ndarray:
        mean, var = self.model.project(self._contexts(contexts))
        return mean - self.width_scale * np.sqrt(var)

    @property
    def width_scale(self) -> float:
        """The multiplier of sqrt(x^T A^-1 x) in this selector's exploration (LinUCB alpha, Thompson v)."""
        raise NotImplementedError

    def _arrays(self) -> dict[str, Any]:
        return self.model.arrays()

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        self.model.load_arrays(arrays)

    def _upgrade_arrays(self, arrays: dict[str, Any]) -> dict[str, Any]:
        return self.model.upgrade_arrays(arrays)
