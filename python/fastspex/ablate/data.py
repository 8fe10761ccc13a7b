"""Data ablation (datamodels): retrain on the kept training examples, report a test output.

The built-in trainer is L2-regularised logistic regression on fixed features (for example
sentence embeddings of the training texts), one-vs-rest for more than two classes, with the
same objective as scikit-learn's ``LogisticRegression(C=C)`` (intercept not penalised). It
trains one model per mask *and* per class at once, by batched Newton steps warm-started from
the full-data solution. Because the L2-optimal weights lie in the span of the training
features, it works in that span (rank <= number of examples), which makes each Newton step
cheap when there are fewer examples than feature dimensions.

Any other learner plugs in as ``train_fn(kept: bool (N,)) -> float``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from ._base import AblationBase, check_masks, finite_or_raise

__all__ = ["DataAblation", "LogisticTrainer", "embed_texts"]

Output = Literal["margin", "prob", "loss", "correct"]
# A tiny ridge on the intercept keeps it finite when a subset holds one class only.
_INTERCEPT_RIDGE = 1e-6


def _cholesky(H: Any) -> Any:
    """Batched Cholesky factors of small SPD matrices.

    LAPACK's internal threads do not pay on matrices of a few hundred rows: on one thread
    torch's batched Cholesky ran about 6x faster here, so the call runs single-threaded.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        L, info = torch.linalg.cholesky_ex(H)
        if bool((info > 0).any()):  # lost definiteness to rounding: add a little jitter
            eye = torch.eye(H.shape[-1], dtype=H.dtype, device=H.device)
            L = torch.linalg.cholesky(H + 1e-10 * H.diagonal(dim1=-2, dim2=-1).amax(-1)[:, None, None] * eye)
        return L
    finally:
        torch.set_num_threads(threads)


class LogisticTrainer:
    """Batched L2 logistic regression (one-vs-rest), one model per row of a weight matrix.

    Args:
        X: training features ``(N, d)``.
        y: integer class labels ``(N,)`` (two or more distinct values).
        C: inverse regularisation strength, as in scikit-learn.
        max_iter: Newton iterations at most; tol: stop when every gradient entry is below it.
        device, dtype: torch device and dtype of the computation (float64 by default).
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        *,
        C: float = 1.0,
        max_iter: int = 50,
        tol: float = 1e-7,
        device: Any = "cpu",
        dtype: Any = None,
    ) -> None:
        import torch

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] == 0:
            msg = f"X must be a non-empty (N, d) array, got shape {X.shape}"
            raise ValueError(msg)
        if y.shape != (X.shape[0],):
            msg = f"y must have shape ({X.shape[0]},), got {y.shape}"
            raise ValueError(msg)
        if not np.isfinite(X).all():
            msg = "X holds NaN or inf"
            raise ValueError(msg)
        if not C > 0:
            msg = f"C must be positive, got {C}"
            raise ValueError(msg)
        self.classes = np.unique(y)
        if len(self.classes) < 2:
            msg = "y must hold at least two classes"
            raise ValueError(msg)
        self.C, self.max_iter, self.tol = float(C), int(max_iter), float(tol)
        self.dtype = dtype or torch.float64
        self.device = torch.device(device)
        # Work in the row space of X: w = V z, ||w|| = ||z||, x.w = (x V).z.
        _, s, vt = np.linalg.svd(X, full_matrices=False)
        rank = int((s > s[0] * max(X.shape) * np.finfo(float).eps).sum()) if s[0] > 0 else 0
        self.basis = vt[:max(rank, 1)].T  # (d, r)
        Z = X @ self.basis
        self.Za = torch.from_numpy(np.hstack([Z, np.ones((len(Z), 1))])).to(self.device, self.dtype)
        binary = len(self.classes) == 2
        targets = [self.classes[1]] if binary else list(self.classes)
        self.Y = torch.from_numpy(np.stack([(y == c).astype(np.float64) for c in targets])).to(self.device, self.dtype)
        self.n_problems = len(targets)  # per mask
        r1 = self.Za.shape[1]
        self.ridge = torch.full((r1,), 1.0 / self.C, dtype=self.dtype, device=self.device)
        self.ridge[-1] = _INTERCEPT_RIDGE
        self.iterations = 0
        self.theta_full = self.fit(np.ones((1, X.shape[0]), bool), warm=False)[0]  # (K, r+1)

    def features(self, X: Any) -> Any:
        """Test features in the trainer's coordinates (with the intercept column)."""
        import torch

        Z = np.asarray(X, dtype=np.float64) @ self.basis
        return torch.from_numpy(np.hstack([Z, np.ones((len(Z), 1))])).to(self.device, self.dtype)

    def _loss(self, theta: Any, W: Any, Y: Any) -> Any:
        import torch

        f = theta @ self.Za.T
        # log(1 + e^f) - y f, summed with the sample weights, plus the ridge.
        nll = (W * (torch.nn.functional.softplus(f) - Y * f)).sum(-1)
        return nll + 0.5 * (self.ridge * theta * theta).sum(-1)

    def fit(self, masks: np.ndarray, *, warm: bool = True) -> Any:
        """Parameters ``(m, K, r+1)`` of the models trained on each mask's kept examples."""
        import torch

        m = len(masks)
        K = self.n_problems
        W = torch.from_numpy(np.repeat(masks.astype(np.float64), K, axis=0)).to(self.device, self.dtype)
        Y = self.Y.repeat(m, 1)
        P, r1 = m * K, self.Za.shape[1]
        if warm:
            theta = self.theta_full.repeat(m, 1).clone()
        else:
            theta = torch.zeros((P, r1), dtype=self.dtype, device=self.device)
        active = torch.ones(P, dtype=torch.bool, device=self.device)
        alphas = torch.tensor([1.0, 0.5, 0.25, 0.1, 0.01], dtype=self.dtype, device=self.device)
        for it in range(self.max_iter):
            idx = active.nonzero()[:, 0]
            th, w, yy = theta[idx], W[idx], Y[idx]
            f = th @ self.Za.T
            p = torch.sigmoid(f)
            grad = (w * (p - yy)) @ self.Za + self.ridge * th
            done = grad.abs().amax(-1) < self.tol
            if done.all():
                active[idx] = False
                break
            s = w * p * (1 - p)
            H = torch.matmul(self.Za.T[None] * s[:, None, :], self.Za)  # (P, r+1, r+1)
            H.diagonal(dim1=-2, dim2=-1).add_(self.ridge)
            # H is symmetric positive definite (ridge > 0): Cholesky is cheaper than LU, and
            # torch 2.13's batched LU solve fails on CPU for some sizes.
            step = torch.cholesky_solve(grad[..., None], _cholesky(H))[..., 0]
            # Backtracking: the largest of a few step sizes that lowers the loss.
            base = self._loss(th, w, yy)
            trials = th[None] - alphas[:, None, None] * step[None]
            losses = torch.stack([self._loss(t, w, yy) for t in trials])
            ok = losses <= base[None] + 1e-12
            first = torch.where(ok.any(0), ok.float().argmax(0), torch.full_like(base, len(alphas) - 1, dtype=torch.long))
            new = trials[first, torch.arange(len(idx), device=self.device)]
            new[done] = th[done]
            theta[idx] = new
            active[idx[done]] = False
            self.iterations = it + 1
        return theta.reshape(m, K, r1)

    def decision(self, theta: Any, Xa: Any) -> Any:
        """One-vs-rest decision values ``(m, n_test, K)`` (log-odds of each class vs the rest)."""
        return theta @ Xa.T if theta.ndim == 2 else (theta @ Xa.T).transpose(1, 2)


class DataAblation(AblationBase):
    """Value function over training examples: the test output after retraining on the kept ones.

    Built-in trainer: ``DataAblation(X_train, y_train, X_test, y_test, C=1.0, output="margin")``
    where ``output`` (averaged over the test examples) is ``"margin"`` (log-odds of the true
    class: the decision value for binary tasks, the one-vs-rest value otherwise), ``"prob"``
    (probability of the true class), ``"loss"`` (its negative log) or ``"correct"`` (0/1).

    User trainer: ``DataAblation(train_fn=fn, n=N)`` with ``fn(kept: bool (N,)) -> float``.

    Args:
        labels: names of the training examples (default ``"ex{i}"``).
        batch_size: masks trained at once (default 64).
        key: store key (default: hash of the data and settings; a user train_fn needs one to be stored).
    """

    kind = "data"

    def __init__(
        self,
        X_train: Any = None,
        y_train: Any = None,
        X_test: Any = None,
        y_test: Any = None,
        *,
        C: float = 1.0,
        output: Output = "margin",
        train_fn: Callable[[np.ndarray], float] | None = None,
        n: int | None = None,
        labels: Sequence[str] | None = None,
        batch_size: int | None = None,
        max_iter: int = 50,
        key: str | None = None,
    ) -> None:
        self.train_fn = train_fn
        self.batch_size = int(batch_size) if batch_size is not None else 64
        if self.batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise ValueError(msg)
        if output not in ("margin", "prob", "loss", "correct"):
            msg = f"output must be 'margin', 'prob', 'loss' or 'correct', got {output!r}"
            raise ValueError(msg)
        self.output = output
        if train_fn is not None:
            if not callable(train_fn):
                msg = "train_fn must be callable"
                raise TypeError(msg)
            if n is None:
                msg = "pass n (the number of training examples) with train_fn"
                raise ValueError(msg)
            self.n = int(n)
            self.trainer = None
            self.cache_key = key
        else:
            if X_train is None or y_train is None or X_test is None or y_test is None:
                msg = "give X_train, y_train, X_test and y_test (or a train_fn)"
                raise ValueError(msg)
            self.trainer = LogisticTrainer(X_train, y_train, C=C, max_iter=max_iter)
            self.n = len(np.asarray(y_train))
            Xt = np.atleast_2d(np.asarray(X_test, dtype=np.float64))
            yt = np.atleast_1d(np.asarray(y_test))
            if Xt.shape[1] != np.asarray(X_train).shape[1] or yt.shape != (len(Xt),):
                msg = f"X_test {Xt.shape} / y_test {yt.shape} do not match the training features"
                raise ValueError(msg)
            missing = set(yt.tolist()) - set(self.trainer.classes.tolist())
            if missing:
                msg = f"test labels {sorted(missing)} do not occur in y_train"
                raise ValueError(msg)
            self._Xt = self.trainer.features(Xt)
            self._yt_index = np.searchsorted(self.trainer.classes, yt)
            h = hashlib.blake2b(digest_size=20)
            for a in (np.asarray(X_train, np.float64), np.asarray(y_train), Xt, yt):
                h.update(str(a.shape).encode())
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(f"C={C}|output={output}|max_iter={max_iter}".encode())
            self.cache_key = key if key is not None else "data-" + h.hexdigest()
        if self.n < 1:
            msg = "the training set is empty"
            raise ValueError(msg)
        self.labels = list(labels) if labels is not None else [f"ex{i}" for i in range(self.n)]
        if len(self.labels) != self.n:
            msg = f"{len(self.labels)} labels for {self.n} training examples"
            raise ValueError(msg)

    def __call__(self, masks: Any) -> np.ndarray:
        arr = check_masks(masks, self.n)
        if self.trainer is None:
            assert self.train_fn is not None
            out = np.array([float(self.train_fn(row.copy())) for row in arr], dtype=np.float64)
            return finite_or_raise(out, "train_fn")
        out = np.empty(len(arr), dtype=np.float64)
        for s in range(0, len(arr), self.batch_size):
            chunk = arr[s : s + self.batch_size]
            theta = self.trainer.fit(chunk)
            out[s : s + len(chunk)] = self._test_output(theta)
        return finite_or_raise(out, "the trained model")

    def _test_output(self, theta: Any) -> np.ndarray:
        import torch

        f = self.trainer.decision(theta, self._Xt)  # type: ignore[union-attr]  # (m, T, K)
        if f.shape[-1] == 1:  # binary: one decision value, log-odds of classes[1]
            sign = torch.from_numpy(np.where(self._yt_index == 1, 1.0, -1.0)).to(f)
            margin = f[..., 0] * sign
            logp = -torch.nn.functional.softplus(-margin)
            correct = (margin > 0).to(f.dtype)
        else:
            idx = torch.from_numpy(self._yt_index).to(f.device)
            margin = f[:, torch.arange(len(idx)), idx]
            # scikit-learn's one-vs-rest probabilities: sigmoids normalised over the classes.
            sig = torch.sigmoid(f)
            probs = sig / sig.sum(-1, keepdim=True)
            logp = torch.log(probs[:, torch.arange(len(idx)), idx])
            correct = (f.argmax(-1) == idx).to(f.dtype)
        value = {"margin": margin, "prob": logp.exp(), "loss": -logp, "correct": correct}[self.output]
        return value.mean(-1).cpu().numpy()

    @classmethod
    def from_texts(
        cls,
        train_texts: Sequence[str],
        y_train: Any,
        test_texts: Sequence[str],
        y_test: Any,
        *,
        model: Any = None,
        **options: Any,
    ) -> DataAblation:
        """Data ablation on sentence embeddings of the texts (default: the bundled MiniLM)."""
        X = embed_texts(train_texts, model)
        Xt = embed_texts(test_texts, model)
        labels = options.pop("labels", None) or [t if len(t) <= 40 else t[:39] + "…" for t in train_texts]
        return cls(X, y_train, Xt, y_test, labels=labels, **options)


def embed_texts(texts: Sequence[str], model: Any = None, *, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings ``(len(texts), d)`` from an encoder (default MiniLM)."""
    from .models import as_loaded
    from .outputs import embed_rows, encode_prompt

    lm = as_loaded(model)
    if lm.kind != "encoder":
        msg = f"embed_texts needs an encoder model, got a {lm.kind} model"
        raise ValueError(msg)
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        msg = "texts must be a non-empty list of non-empty strings"
        raise ValueError(msg)
    rows = [encode_prompt(lm, t)[0] for t in texts]
    order = np.argsort([len(r) for r in rows], kind="stable")
    emb = embed_rows(lm, [rows[i] for i in order], batch_size).cpu().double().numpy()
    out = np.empty_like(emb)
    out[order] = emb
    return out / np.linalg.norm(out, axis=1, keepdims=True)
