"""The metric registry: every key evaluate may write to metrics.json, its direction and meaning.

The gate reads directions here (maximize -> value >= threshold, minimize -> value <= threshold)
and the HTML report lists the same one-line meanings, so one table explains both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MetricInfo:
    """One metric key: which way is better, its ideal value (None: compare with a baseline)."""

    key: str
    goal: Literal["maximize", "minimize"]
    ideal: float | None
    description: str

    @property
    def family(self) -> str:
        return self.key.split(".", 1)[0]

    def passes(self, value: float, threshold: float) -> bool:
        """True when `value` is on the good side of `threshold` (ties pass)."""
        return value >= threshold if self.goal == "maximize" else value <= threshold


def _m(key: str, goal: Literal["maximize", "minimize"], ideal: float | None, desc: str
       ) -> tuple[str, MetricInfo]:
    return key, MetricInfo(key, goal, ideal, desc)


METRICS: dict[str, MetricInfo] = dict([
    _m("fidelity.overall", "maximize", 1.0,
       "sdmetrics Quality score: mean of column shapes and (thresholded) column pair trends"),
    _m("fidelity.column_shapes", "maximize", 1.0,
       "mean per-column similarity of marginals (KS complement / TV complement)"),
    _m("fidelity.column_pair_trends", "maximize", 1.0,
       "sdmetrics pair trends over pairs that are correlated in the real data (|r|>0.5, V>0.3)"),
    _m("fidelity.column_pair_trends_all", "maximize", 1.0,
       "pair trends (correlation / contingency similarity) averaged over all column pairs"),
    _m("diagnostic.overall", "maximize", 1.0,
       "sdmetrics Diagnostic score: mean of data validity and data structure"),
    _m("diagnostic.validity", "maximize", 1.0,
       "share of synthetic values inside the real range / seen categories, unique keys"),
    _m("diagnostic.structure", "maximize", 1.0,
       "share of (column, dtype) pairs the synthetic table has in common with the real one"),
    _m("detection.auc", "minimize", 0.5,
       "cross-validated ROC AUC of a classifier telling real train rows from synthetic rows"),
    _m("detection.score", "maximize", 1.0,
       "1 - 2*|detection.auc - 0.5|: 1 = indistinguishable, 0 = perfectly separable"),
    _m("utility.synthetic_score", "maximize", 1.0,
       "holdout score (macro F1 or R^2) of a model trained on synthetic rows"),
    _m("utility.real_score", "maximize", 1.0,
       "holdout score of the same model trained on real train rows (reference)"),
    _m("utility.ratio", "maximize", 1.0,
       "utility.synthetic_score / utility.real_score: share of real-data utility kept"),
    _m("privacy.dcr_share", "minimize", 0.5,
       "share of synthetic rows closer to a train row than to any holdout row (ties count half)"),
    _m("privacy.dcr_overfitting_protection", "maximize", 1.0,
       "min(2*(1 - privacy.dcr_share), 1): 1 = synthetic rows no closer to train than holdout"),
    _m("privacy.dcr_synthetic_median", "maximize", None,
       "median distance from a synthetic row to its closest train row (Gower-like, 0..1)"),
    _m("privacy.dcr_holdout_median", "maximize", None,
       "baseline: median distance from a holdout row to its closest train row"),
    _m("privacy.dcr_baseline_ratio", "maximize", 1.0,
       "dcr_synthetic_median / dcr_holdout_median: >= 1 = as far from train as fresh real rows"),
    _m("privacy.nndr_median", "maximize", None,
       "median nearest / 2nd-nearest train distance ratio of synthetic rows (low = singled out)"),
    _m("privacy.holdout_nndr_median", "maximize", None,
       "baseline: the same ratio for holdout rows"),
    _m("privacy.exact_copy_rate", "minimize", 0.0,
       "share of synthetic rows identical to some train row (id columns ignored)"),
    _m("privacy.holdout_copy_rate", "minimize", None,
       "baseline: share of holdout rows identical to some train row"),
    _m("privacy.mia_auc", "minimize", 0.5,
       "ROC AUC of a distance-to-synthetic membership attack, train members vs holdout"),
    _m("privacy.mia_density_auc", "minimize", 0.5,
       "ROC AUC of a density-ratio membership attack (DOMIAS-style), train vs holdout rows"),
    _m("privacy.mia_density_tpr_at_1pct_fpr", "minimize", 0.01,
       "true-positive rate of that attack at a 1% false-positive rate (0.01 = chance)"),
    _m("privacy.singling_out_risk", "minimize", 0.0,
       "singling-out risk (Giomi et al. 2023): predicate success on train beyond the holdout"),
    _m("privacy.linkability_risk", "minimize", 0.0,
       "linkability risk: linking two column halves via synthetic rows, train beyond holdout"),
    _m("privacy.inference_risk", "minimize", 0.0,
       "attribute-inference risk: worst secret column, nearest-synthetic-row guess"),
    _m("privacy.epsilon", "minimize", 0.0,
       "differential-privacy epsilon spent in training (train.privacy; null: not DP)"),
    _m("privacy.delta", "minimize", 0.0,
       "the delta that privacy.epsilon holds with"),
    _m("privacy.sdm_dcr_overfitting_protection", "maximize", 1.0,
       "sdmetrics DCROverfittingProtection on a fixed-size seeded subsample (optional)"),
    _m("privacy.sdm_dcr_baseline_protection", "maximize", 1.0,
       "sdmetrics DCRBaselineProtection on a fixed-size seeded subsample (optional)"),
    # image modality (pipeline/images/evaluate.py; features of a CNN trained on real train images)
    _m("image.frechet", "minimize", 0.0,
       "Frechet distance of generated vs real train images in the classifier's feature space"),
    _m("image.frechet_holdout", "minimize", None,
       "baseline: the same distance for real holdout images"),
    _m("image.precision", "maximize", 1.0,
       "share of generated images inside the real images' k-NN feature balls (Kynkaanniemi)"),
    _m("image.recall", "maximize", 1.0,
       "share of real images inside the generated images' k-NN feature balls"),
    _m("image.precision_holdout", "maximize", None, "baseline: precision of real holdout images"),
    _m("image.recall_holdout", "maximize", None, "baseline: recall of real holdout images"),
    _m("image.conditional_accuracy", "maximize", 1.0,
       "share of generated images the classifier assigns to the class they were asked for"),
    _m("image.classifier_holdout_accuracy", "maximize", None,
       "baseline: the classifier's accuracy on real holdout images"),
    _m("image.separability_auc", "minimize", 0.5,
       "CV ROC AUC of a logistic regression telling real from generated image features"),
    _m("privacy.image_nn_train_share", "minimize", 0.5,
       "share of generated images nearer a train than a holdout image (same-size sets)"),
    _m("privacy.image_nn_ratio", "maximize", 1.0,
       "median generated->train pixel NN distance / median holdout->train NN distance"),
])
