"""Anomaly detection: an Isolation Forest on features relative to each unit's own baseline,
robust-scaled per compressor model, with scores calibrated to [0, 1].

Training history is chosen by rules, never by ID lists or the simulator's truth: hours whose
gold status is normal and whose every feature lies within ``healthy_max_robust_z`` robust
sigmas of its compressor model's median. The calibrated score of an hour is the share of
those healthy hours that were less anomalous, so 0.999 means "stranger than 99.9 % of healthy
operation" on every fleet.

Like any isolation forest, it saturates: a point far outside the healthy range in one feature
scores no higher than one just outside it. It is the multivariate early-warning layer; the
limit and trend alerts see single-sensor excursions of any size.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from altaviz.config.schema import AnomalyRules
from altaviz.core.features import FEATURE_SENSOR, MODEL_FEATURES

MAD_TO_SIGMA = 1.4826
_CALIBRATION_POINTS = 2001
_MIN_SCALE = 1e-6
_REFERENCE_ROWS = 20_000


class GroupScaler:
    """Robust z-scores per group (compressor model): (x - median) / (1.4826 MAD), with the
    whole sample's statistics for a group not seen when fitting."""

    def fit(self, X: np.ndarray, groups: np.ndarray) -> GroupScaler:
        self.stats_ = {g: _robust_center_scale(X[groups == g]) for g in np.unique(groups)}
        self.fallback_ = _robust_center_scale(X)
        return self

    def transform(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        center = np.tile(self.fallback_[0], (len(X), 1))
        scale = np.tile(self.fallback_[1], (len(X), 1))
        for g, (c, sc) in self.stats_.items():
            rows = groups == g
            center[rows], scale[rows] = c, sc
        return (X - center) / scale


class AnomalyModel(BaseEstimator):
    """Isolation Forest behind a per-compressor-model robust scaler and a calibration.

    ``fit(X, groups)`` and ``score(X, groups)`` take a float matrix of :data:`MODEL_FEATURES`
    (rows with a NaN are not scored: NaN out) and each row's compressor model.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(1.0, 0.01, size=(2000, 3))
    >>> groups = np.array(["a", "b"] * 1000)
    >>> m = AnomalyModel(n_estimators=50, random_state=0).fit(X, groups)
    >>> float(m.score(np.array([[1.0, 1.0, 1.0]]), np.array(["a"]))[0]) < 0.9
    True
    >>> float(m.score(np.array([[1.05, 1.05, 1.05]]), np.array(["a"]))[0]) > 0.999
    True
    """

    def __init__(
        self, n_estimators: int = 100, max_samples: int = 256, random_state: int = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, groups: np.ndarray) -> AnomalyModel:
        X = np.asarray(X, dtype=float)
        groups = np.asarray(groups).astype(str)
        self.scaler_ = GroupScaler().fit(X, groups)
        Z = self.scaler_.transform(X, groups)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(Z)),
            random_state=self.random_state,
        ).fit(Z)
        raw = -self.forest_.score_samples(Z)  # larger: more anomalous
        self.calibration_ = np.quantile(raw, np.linspace(0.0, 1.0, _CALIBRATION_POINTS))
        self.n_training_rows_ = len(Z)
        # A sample of the training inputs, the reference for feature-drift monitoring.
        keep = np.random.default_rng(self.random_state).permutation(len(X))[:_REFERENCE_ROWS]
        self.reference_ = X[np.sort(keep)]
        return self

    def standardize(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Robust z-scores of each row against its compressor model (fleet-wide for a model
        not seen in training)."""
        return self.scaler_.transform(np.asarray(X, dtype=float), np.asarray(groups).astype(str))

    def score(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Calibrated anomaly score in [0, 1] per row; NaN where a feature is missing."""
        Z = self.standardize(X, groups)
        out = np.full(len(Z), np.nan)
        ok = np.isfinite(Z).all(axis=1)
        if ok.any():
            raw = -self.forest_.score_samples(Z[ok])
            levels = np.linspace(0.0, 1.0, _CALIBRATION_POINTS)
            out[ok] = np.interp(raw, self.calibration_, levels, left=0.0, right=1.0)
        return out


def _robust_center_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = np.nanmedian(X, axis=0)
    scale = np.nanmedian(np.abs(X - center), axis=0) * MAD_TO_SIGMA
    return center, np.where(np.isfinite(scale) & (scale > _MIN_SCALE), scale, _MIN_SCALE)


def feature_matrix(features: nw.DataFrame[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The model's inputs from feature-store rows: a float matrix (NaN for missing) and each
    row's compressor model."""
    X = features.select(
        nw.col(f).cast(nw.Float64).fill_null(float("nan")) for f in MODEL_FEATURES
    ).to_numpy()
    groups = features.get_column("model").fill_null("unknown").to_numpy().astype(str)
    return X.astype(float), groups


def healthy_rows(features: nw.DataFrame[Any], rules: AnomalyRules) -> nw.DataFrame[Any]:
    """Feature rows that count as healthy history: gold status normal, every model feature
    present and within ``healthy_max_robust_z`` robust sigmas of its compressor model."""
    candidates = features.filter(nw.col("worst_status") == "normal").drop_nulls(
        list(MODEL_FEATURES)
    )
    if not candidates.shape[0]:
        return candidates
    X, groups = feature_matrix(candidates)
    z = GroupScaler().fit(X, groups).transform(X, groups)
    inside = (np.abs(z) <= rules.healthy_max_robust_z).all(axis=1)
    keep = nw.new_series("_keep", inside, nw.Boolean, backend=candidates.implementation)
    return candidates.filter(keep)


def train_anomaly_model(features: nw.DataFrame[Any], rules: AnomalyRules) -> AnomalyModel:
    """Fit a model on the healthy rows of ``features``; ``ValueError`` when there are fewer
    than ``min_training_hours`` of them."""
    healthy = healthy_rows(features, rules)
    if healthy.shape[0] < rules.min_training_hours:
        raise ValueError(
            f"only {healthy.shape[0]} healthy feature hours to learn from "
            f"(models.yaml anomaly.min_training_hours is {rules.min_training_hours})"
        )
    X, groups = feature_matrix(healthy)
    return AnomalyModel(rules.n_estimators, rules.max_samples, rules.random_state).fit(X, groups)


def confidence_note(model: AnomalyModel, rules: AnomalyRules) -> str | None:
    """What to say about a model learned from fewer healthy hours than a confident one needs.

    >>> from altaviz.config import load_config
    >>> model = AnomalyModel(); model.n_training_rows_ = 235
    >>> confidence_note(model, load_config().models.anomaly)[:61]
    'anomaly model learned from 235 healthy hours of this fleet (2'
    """
    rows = model.n_training_rows_
    if rows >= rules.confident_training_hours:
        return None
    return (
        f"anomaly model learned from {rows:,} healthy hours of this fleet "
        f"({rules.confident_training_hours:,} recommended): its scores are less certain until "
        "it is retrained on more history"
    )


def top_sensors(model: AnomalyModel, X: np.ndarray, groups: np.ndarray, k: int) -> list[str]:
    """Per row, the ``k`` sensors whose features lie furthest from their compressor model's
    healthy centre (comma-separated, most deviant first). Meant for the few anomalous rows."""
    Z = np.abs(np.nan_to_num(model.standardize(X, groups), nan=0.0))
    order = np.argsort(-Z, axis=1)
    names = np.array([FEATURE_SENSOR[f] for f in MODEL_FEATURES])
    out = []
    for row in names[order]:  # one short pass over strings; the scoring itself is vectorised
        seen = list(dict.fromkeys(row))
        out.append(",".join(seen[:k]))
    return out
