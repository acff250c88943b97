"""Calibrated confidence, fitted on PDNC (see bench/attribution.py): each sieve rule's accuracy, and per
family of rules whose decisions carry evidence (the ranker's signals, see ranker.SIGNALS) a logistic
regression on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.errors import CorpusError
from corpus.shards.parquet import atomic_write_bytes

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
PRIOR_CORRECT, PRIOR_TOTAL = 1.0, 2.0  # Laplace prior so a rarely fired rule is not 0 or 1
LOGISTIC_L2 = 1.0  # ridge on the logistic weights (summed loss over some 20k decisions)
NEWTON_STEPS = 50
SCORE_CLIP = 30.0  # a logistic score is clipped to +-this, so a confidence is never exactly 0 or 1
MIN_FAMILY_DECISIONS = 300  # a family of rules with fewer decisions keeps its plain accuracy


def family(method: str) -> str:
    """The rules that share one logistic model: the ranker's ("ranker", "ranker-parity"), else the rule."""
    return "ranker" if method.startswith("ranker") else method


@dataclass
class LogisticModel:
    """P(right) = sigmoid(bias + sum of weight * signal)."""

    weights: dict[str, float]
    bias: float

    def probability(self, signals: dict[str, float]) -> float:
        return float(_sigmoid(self.bias + sum(w * signals.get(name, 0.0) for name, w in self.weights.items())))


@dataclass
class Calibration:
    """P(speaker is right): a rule's logistic model on the decision's signals where its family has one,
    else the rule's accuracy."""

    accuracy: dict[str, float] = field(default_factory=dict)
    default: float = 0.5  # for a rule not in the table
    models: dict[str, LogisticModel] = field(default_factory=dict)  # family -> model

    def confidence(self, method: str, signals: dict[str, float] | None = None) -> float:
        model = self.models.get(family(method))
        if signals and model is not None:
            return model.probability(signals)
        return self.accuracy.get(method, self.default)

    @classmethod
    def fit(cls, outcomes: list[tuple[str, dict[str, float], bool]]) -> "Calibration":
        """From (method, signals, correct) triples: per-method accuracy (with a Laplace prior), and for
        each family with MIN_FAMILY_DECISIONS decisions with signals, the logistic regression of
        correctness on their signals."""
        tally: dict[str, list[int]] = {}
        rows: dict[str, list[tuple[dict[str, float], bool]]] = {}
        for method, signals, correct in outcomes:
            t = tally.setdefault(method, [0, 0])
            t[0] += int(correct)
            t[1] += 1
            if signals:
                rows.setdefault(family(method), []).append((signals, correct))
        accuracy = {m: round((c + PRIOR_CORRECT) / (n + PRIOR_TOTAL), 4) for m, (c, n) in sorted(tally.items())}
        right = sum(int(correct) for _, _, correct in outcomes)  # a rule not in the table: the overall accuracy
        default = (right + PRIOR_CORRECT) / (len(outcomes) + PRIOR_TOTAL) if outcomes else 0.5
        models = {name: _fit_model(found) for name, found in sorted(rows.items())
                  if len(found) >= MIN_FAMILY_DECISIONS}
        return cls(accuracy, round(default, 4), models)

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        """Write the table as JSON through a temp file and a rename (a killed write leaves the old table)."""
        data = {"accuracy": self.accuracy, "default": self.default,
                "models": {name: {"weights": {k: round(w, 6) for k, w in m.weights.items()}, "bias": round(m.bias, 6)}
                           for name, m in self.models.items()}}
        atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


def _fit_model(rows: list[tuple[dict[str, float], bool]]) -> LogisticModel:
    names = sorted({name for signals, _ in rows for name in signals})
    x = np.array([[signals.get(name, 0.0) for name in names] for signals, _ in rows])
    coefficients = _logistic_regression(x, np.array([float(c) for _, c in rows]))
    return LogisticModel(dict(zip(names, map(float, coefficients[:-1]))), float(coefficients[-1]))


def _sigmoid(score):
    """The logistic function of a score or an array of them, the score clipped to +-SCORE_CLIP."""
    return 1.0 / (1.0 + np.exp(-np.clip(score, -SCORE_CLIP, SCORE_CLIP)))


def _logistic_regression(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights of P(y=1) = sigmoid(x @ w + bias), bias last, by Newton's method with LOGISTIC_L2 on the
    weights (a tiny ridge on the bias keeps the Hessian invertible)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    ridge = np.full(design.shape[1], LOGISTIC_L2)
    ridge[-1] = 1e-6
    coefficients = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(design @ coefficients)
        gradient = design.T @ (p - y) + ridge * coefficients
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient)
        coefficients -= step
        if np.abs(step).max() < 1e-9:
            break
    return coefficients


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """The bundled calibration (an empty one, default 0.5, if it was never fitted)."""
    if not path.exists():
        return Calibration()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = {name: LogisticModel({k: float(w) for k, w in m["weights"].items()}, float(m["bias"]))
                  for name, m in data.get("models", {}).items()}
        return Calibration(dict(data["accuracy"]), float(data["default"]), models)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"corrupt calibration table {path}: {exc}") from exc
