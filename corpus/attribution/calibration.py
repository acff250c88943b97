"""Calibrated confidence: the accuracy of each sieve rule measured on PDNC (see bench/attribution.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import CorpusError

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
PRIOR_CORRECT, PRIOR_TOTAL = 1.0, 2.0  # Laplace prior so a rarely fired rule is not 0 or 1


@dataclass
class Calibration:
    """Per-rule accuracy: P(speaker is right | the rule that fired)."""

    accuracy: dict[str, float] = field(default_factory=dict)
    default: float = 0.5  # for a rule not in the table

    def confidence(self, method: str) -> float:
        return self.accuracy.get(method, self.default)

    @classmethod
    def fit(cls, outcomes: list[tuple[str, bool]]) -> "Calibration":
        """Per-method accuracy (with a Laplace prior) from (method, correct) pairs."""
        tally: dict[str, list[int]] = {}
        for method, correct in outcomes:
            t = tally.setdefault(method, [0, 0])
            t[0] += int(correct)
            t[1] += 1
        accuracy = {m: round((c + PRIOR_CORRECT) / (n + PRIOR_TOTAL), 4) for m, (c, n) in sorted(tally.items())}
        total = sum(n for _, n in tally.values())
        default = (sum(c for c, _ in tally.values()) + PRIOR_CORRECT) / (total + PRIOR_TOTAL) if total else 0.5
        return cls(accuracy, round(default, 4))

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(json.dumps({"accuracy": self.accuracy, "default": self.default}, indent=1) + "\n")


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """The bundled calibration table (an empty one, default 0.5, if it was never fitted)."""
    if not path.exists():
        return Calibration()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Calibration(dict(data["accuracy"]), float(data["default"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"corrupt calibration table {path}: {exc}") from exc
