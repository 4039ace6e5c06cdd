"""The stack: one calibrated answer from the structured matcher's and the neural matcher's probabilities.

Why: the two models err differently — the structured matcher sees hard numbers and the admin hierarchy
(parsed components), the neural matcher sees wording the parser does not tag — so a log-linear blend of
their probabilities beats either alone on the validation split (see the neural model card). The blend is a
multinomial logistic regression over ``[log p_structured, log p_neural]`` (6 inputs, 3 outputs): 21
numbers, stored as JSON beside the neural model, fitted on the validation split (pairs neither model
trained on), with decision weights for macro-F1 folded into its intercepts. Small enough to audit, no
pickle, no new dependency (numpy + scipy, which LightGBM already brings).

Label order everywhere here is ``types.LABELS`` (exact, partial, not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.errors import ModelLoadError
from geoalign.types import LABELS

FORMAT: Final[str] = "geoalign-stack"
_EPS: Final[float] = 1e-6


def _inputs(p_structured: np.ndarray, p_neural: np.ndarray) -> np.ndarray:
    return np.hstack([np.log(np.clip(p_structured, _EPS, 1.0)), np.log(np.clip(p_neural, _EPS, 1.0))])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Stack:
    """``p = softmax(W @ [log p_s, log p_n] + b)``; ``b`` includes the macro-F1 decision weights."""

    coef: np.ndarray  # (3, 6)
    intercept: np.ndarray  # (3,)
    meta: dict[str, Any]

    def predict(self, p_structured: np.ndarray, p_neural: np.ndarray) -> np.ndarray:
        x = _inputs(np.atleast_2d(p_structured), np.atleast_2d(p_neural))
        return _softmax(x @ self.coef.T + self.intercept)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "labels": list(LABELS),
            "inputs": [f"log_p_structured_{x}" for x in LABELS] + [f"log_p_neural_{x}" for x in LABELS],
            "coef": self.coef.round(6).tolist(),
            "intercept": self.intercept.round(6).tolist(),
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Stack:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path}: cannot read the stack ({exc})") from exc
        if data.get("format") != FORMAT or data.get("labels") != list(LABELS):
            raise ModelLoadError(f"{path}: not a {FORMAT} file with labels {list(LABELS)}")
        coef = np.asarray(data["coef"], dtype=np.float64)
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        finite = bool(np.isfinite(coef).all() and np.isfinite(intercept).all())
        if coef.shape != (3, 6) or intercept.shape != (3,) or not finite:
            raise ModelLoadError(f"{path}: stack coefficients must be finite, shapes (3, 6) and (3,)")
        return cls(coef, intercept, dict(data.get("meta") or {}))


def fit_stack(
    p_structured: np.ndarray,
    p_neural: np.ndarray,
    labels: np.ndarray,
    *,
    l2: float = 1e-2,
    decision_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    meta: dict[str, Any] | None = None,
) -> Stack:
    """Fit the blend by L-BFGS on the mean cross-entropy (+ ``l2`` on the coefficients).

    ``labels`` are indices into ``LABELS``. ``decision_weights`` multiply the probabilities before the
    argmax (a prior correction tuned for macro-F1 on out-of-fold predictions); they are folded into the
    intercept as ``log w`` so the shipped answer's argmax is the tuned decision.
    """
    from scipy.optimize import minimize

    x = _inputs(p_structured, p_neural)
    n, d = x.shape
    onehot = np.eye(3)[labels]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: 3 * d].reshape(3, d), theta[3 * d :]
        p = _softmax(x @ w.T + b)
        value = -float(np.sum(onehot * np.log(np.clip(p, 1e-12, 1.0)))) / n + l2 * float(np.sum(w * w))
        grad_z = (p - onehot) / n
        grad_w = grad_z.T @ x + 2 * l2 * w
        return value, np.concatenate([grad_w.ravel(), grad_z.sum(axis=0)])

    start = np.zeros(3 * d + 3)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w, b = result.x[: 3 * d].reshape(3, d), result.x[3 * d :]
    b = b + np.log(np.asarray(decision_weights, dtype=np.float64))
    return Stack(w, b, dict(meta or {}))
