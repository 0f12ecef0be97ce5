"""Wild cluster restricted score bootstrap for one coefficient of an OLS or Poisson model.

Used by :func:`csp_analysis.interventions.difference_in_differences` for the p-value and
confidence interval of the DiD coefficient when observations are clustered.

Method (Kline & Santos 2012; Roodman, MacKinnon, Nielsen & Webb 2019, section 3.4 "score
bootstrap"; restricted as MacKinnon & Webb 2017 recommend):

1. Fit the model with the coefficient of interest fixed at ``delta0`` (the null value),
   i.e. the other coefficients only, with ``delta0 * x`` in the offset.
2. Partial ``x`` out of the other regressors in the model's weight metric
   (``W = mu`` for Poisson, ``1`` for OLS): ``x~ = x - Z (Z'WZ)^-1 Z'W x``. The cluster
   scores of the coefficient of interest, net of the nuisance parameters, are
   ``s_g = sum_{i in g} x~_i (y_i - mu_i)``.
3. The cluster-robust score statistic is ``T = sum_g s_g / sqrt(sum_g s_g^2)``; its
   bootstrap copies are ``T*_b = sum_g v_bg s_g / sqrt(sum_g v_bg^2 s_g^2)`` with Webb's
   six-point weights ``v`` (one per cluster and draw; better than Rademacher with few
   clusters, Webb 2023), the Hessian held fixed (no refit per draw).
4. p-value: share of ``|T*_b| >= |T|`` (symmetric, two-sided); the interval is the set of
   ``delta0`` not rejected, found by bisection with the same draws for every ``delta0``
   (so that the p-value is a fixed function of ``delta0``).

Why by hand: the maintained Python package for this, ``wildboottest`` (PyPI), supports OLS
only and gives p-values but no intervals; the report's DiD is a Poisson GLM with unit and
period fixed effects and needs an interval. Everything is vectorised numpy; the draws come
from a seeded generator so results are reproducible. Speed (issue 12): the draws and the
statistic of every candidate null are one matrix product; each candidate's restricted
Poisson refit warm-starts from the last and forms ``Z'WZ`` from a sparse copy of the
fixed-effect dummies (:class:`_Nuisance`); for OLS the factor of ``Z'Z`` and the
partialled-out regressor are computed once.

References
----------
Kline, P. & Santos, A. (2012). A score based approach to wild bootstrap inference.
*Journal of Econometric Methods* 1:23-41.
MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different
cluster sizes. *Journal of Applied Econometrics* 32:233-254.
Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild:
bootstrap inference in Stata using boottest. *The Stata Journal* 19:4-60.
Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors.
*Canadian Journal of Economics* 56:839-858.
"""
from __future__ import annotations

import math

import numpy as np

#: Webb's six-point distribution (mean 0, variance 1).
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
DEFAULT_REPS = 999
DEFAULT_SEED = 20191


def _solve_normal(A, b):
    """Solve the normal equations ``A beta = b`` (Cholesky; least squares if singular)."""
    try:
        L = np.linalg.cholesky(A)
        return np.linalg.solve(L.T, np.linalg.solve(L, b))
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def _wls(Z, y, w):
    """Weighted least squares by the normal equations (Cholesky; least squares if singular)."""
    Zw = Z if w is None else Z * w[:, None]
    return _solve_normal(Zw.T @ Z, Zw.T @ y)


#: A nuisance design with at most this share of non-zero entries (unit and period
#: dummies: 2-3 per row of 100-300 columns) has its weighted cross-products formed as a
#: sparse product; the dense BLAS product costs n k^2 whatever the zeros.
SPARSE_MAX_DENSITY = 0.1
SPARSE_MIN_COLUMNS = 20


class _Nuisance:
    """The nuisance design ``Z`` and its weighted least-squares solves.

    Why by hand: every candidate null of the interval search refits the nuisance model
    (Poisson IRLS, a few iterations each); with unit and period fixed effects ``Z`` is
    mostly zeros, so ``Z'WZ`` is formed from a :mod:`scipy.sparse` copy (same products,
    summed in another order: equal to rounding error) instead of a dense ``n x k^2`` BLAS
    product. With constant weights (OLS) ``Z'Z`` and its Cholesky factor are formed once.
    """

    def __init__(self, Z):
        self.Z = Z
        self.sparse = None
        n, k = Z.shape
        if k >= SPARSE_MIN_COLUMNS and np.count_nonzero(Z) <= SPARSE_MAX_DENSITY * n * k:
            from scipy import sparse

            self.sparse = sparse.csr_matrix(Z)
            self._sparse_t = self.sparse.T.tocsr()
        self._ols = None  # (Cholesky factor or None, Z'Z) for unit weights

    def dot(self, beta):
        """``Z @ beta``."""
        return self.Z @ beta if self.sparse is None else self.sparse @ beta

    def wls(self, y, w):
        """Coefficients of the weighted least-squares fit of ``y`` on ``Z`` (``w=None``: OLS)."""
        if w is None:
            return self._wls_unit(y)
        if self.sparse is None:
            return _wls(self.Z, y, w)
        from scipy import linalg

        Zw_t = self._sparse_t.multiply(w[None, :]).tocsr()
        A, b = (Zw_t @ self.sparse).toarray(), Zw_t @ y
        try:
            return linalg.cho_solve(linalg.cho_factor(A, lower=True, check_finite=False), b,
                                    check_finite=False)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(A, b, rcond=None)[0]

    def _wls_unit(self, y):
        # as _wls(Z, y, None), with the factor of Z'Z kept between calls
        if self._ols is None:
            A = self.Z.T @ self.Z
            try:
                self._ols = (np.linalg.cholesky(A), A)
            except np.linalg.LinAlgError:
                self._ols = (None, A)
        L, A = self._ols
        b = self.Z.T @ y
        if L is None:
            return np.linalg.lstsq(A, b, rcond=None)[0]
        return np.linalg.solve(L.T, np.linalg.solve(L, b))


class ScoreBootstrap:
    """Restricted wild cluster score bootstrap for the coefficient of column ``x``.

    Parameters
    ----------
    y : array (n,)
    Z : array (n, k)
        The other regressors (nuisance), full column rank.
    x : array (n,)
        The regressor whose coefficient is tested.
    groups : integer array (n,)
        Cluster codes 0..G-1.
    family : {"gaussian", "poisson"}
    offset : array (n,), optional
        Log offset (Poisson) or known part of the mean (gaussian).
    start : array (k,), optional
        Starting values for the nuisance coefficients (e.g. from the unrestricted fit).
    reps : int
        Bootstrap draws.
    seed : int
        Seed of the weights.
    """

    def __init__(self, y, Z, x, groups, family, offset=None, start=None, reps=DEFAULT_REPS,
                 seed=DEFAULT_SEED):
        self.y = np.asarray(y, dtype=float)
        self.Z = np.asarray(Z, dtype=float)
        self.x = np.asarray(x, dtype=float)
        self.groups = np.asarray(groups)
        self.G = int(self.groups.max()) + 1
        self.family = family
        self.offset = np.zeros(len(self.y)) if offset is None else np.asarray(offset, dtype=float)
        self.beta = (np.zeros(self.Z.shape[1]) if start is None
                     else np.asarray(start, dtype=float).copy())
        rng = np.random.default_rng(seed)
        self.v = WEBB[rng.integers(0, 6, size=(int(reps), self.G))]
        self.v2 = self.v * self.v
        self.reps = int(reps)
        self._design = _Nuisance(self.Z)
        self._xt_ols = None  # OLS: the partialled-out regressor does not depend on delta0

    # ------------------------------------------------------------------ #
    def _restricted(self, delta0):
        """Nuisance fit with the coefficient fixed at ``delta0``: (mu, weights)."""
        off = self.offset + delta0 * self.x
        if self.family == "gaussian":
            self.beta = self._design.wls(self.y - off, None)
            return self.Z @ self.beta + off, np.ones(len(self.y))
        # Poisson IRLS from the last solution (a few iterations when delta0 moves a little)
        beta = self.beta
        eta = self._design.dot(beta) + off
        if not np.all(np.isfinite(eta)) or np.abs(eta).max() > 50:
            beta = np.linalg.lstsq(self.Z, np.log(self.y + 0.5) - off, rcond=None)[0]
            eta = self._design.dot(beta) + off
        dev_old = np.inf
        for _ in range(100):
            mu = np.exp(eta)
            z = eta - off + (self.y - mu) / mu
            beta = self._design.wls(z, mu)
            eta = self._design.dot(beta) + off
            mu = np.exp(eta)
            with np.errstate(divide="ignore", invalid="ignore"):
                ylog = np.where(self.y > 0, self.y * np.log(self.y / mu), 0.0)
            dev = 2.0 * float(np.sum(ylog - (self.y - mu)))
            if abs(dev - dev_old) <= 1e-10 * (abs(dev) + 0.1):
                break
            dev_old = dev
        self.beta = beta
        return mu, mu

    def scores(self, delta0):
        """Cluster scores ``s_g`` of the coefficient at ``delta0``, net of the nuisance fit."""
        mu, w = self._restricted(delta0)
        if self.family == "gaussian":
            if self._xt_ols is None:
                self._xt_ols = self.x - self.Z @ _wls(self.Z, self.x, w)
            xt = self._xt_ols
        else:
            xt = self.x - self._design.dot(self._design.wls(self.x, w))
        return np.bincount(self.groups, weights=xt * (self.y - mu), minlength=self.G)

    def p_value(self, delta0) -> float:
        """Two-sided (symmetric) bootstrap p-value of H0: coefficient = ``delta0``."""
        s = self.scores(delta0)
        den = math.sqrt(float(np.sum(s * s)))
        if not den > 0:
            return float("nan")
        t = float(s.sum()) / den
        tb = (self.v @ s) / np.sqrt(self.v2 @ (s * s))
        return float(np.mean(np.abs(tb) >= abs(t) * (1 - 1e-12)))

    def interval(self, estimate, se, confidence, crit):
        """Bounds ``{delta0: p(delta0) > 1 - confidence}`` by bracketing and bisection.

        ``estimate``/``se``/``crit`` (the analytic estimate, standard error and critical
        value) give the starting brackets. A bound that cannot be found (the p-value never
        falls below the level within 2^10 standard errors) is infinite.
        """
        alpha = 1.0 - confidence
        tol = max(2e-3 * se, 1e-9)
        out = []
        for sign in (-1.0, 1.0):
            inside, step = estimate, crit * se
            outside = None
            for _ in range(12):
                cand = estimate + sign * step
                if self.p_value(cand) <= alpha:
                    outside = cand
                    break
                inside, step = cand, step * 2.0
            if outside is None:
                out.append(sign * math.inf)
                continue
            while abs(outside - inside) > tol:
                mid = 0.5 * (inside + outside)
                if self.p_value(mid) <= alpha:
                    outside = mid
                else:
                    inside = mid
            out.append(0.5 * (inside + outside))
        return out[0], out[1]
