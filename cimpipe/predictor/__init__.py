"""The accuracy predictor: gradient-boosted trees and a Gaussian process beside an ensemble of small MLPs.

The search asks for the accuracy of hundreds of thousands of designs; the predictor answers from
:func:`features` (architecture gene values + CIM settings) and :func:`crossbar_features` (the
ADC's shortfall and the crossbar noise of every layer, from the space's layer shapes) with a mean and a
spread. Accuracy predictors in the NAS literature are MLPs on architecture encodings (once-for-all, APQ,
BatchQuant), tree ensembles (AttentiveNAS, AnalogNAS) or Gaussian processes (the surrogates of Bayesian
optimization). The prediction is ``gp_weight`` times the Gaussian process plus ``mlp_weight`` times the MLP
ensemble's mean plus the rest times the trees. The trees and the process fit the log of the error rate, and
the trees are held monotone in the features whose effect is known (:func:`predictor_trends`). On the demo
table (``python bench/predictor_quality.py``, five cross-validation folds of 292 rows) the trees alone reach
RMSE 1.49 points and Kendall tau 0.81 (300 trees at half the learning rate: 1.45 and 0.81; without the
trends 1.56 and 0.80), the process 1.41 and 0.83, their mean 1.37 and 0.83, the MLPs 2.40 and 0.65, so
``gp_weight`` defaults to 0.5 and ``mlp_weight`` to 0: the MLP ensemble gives only the spread (its members'
disagreement and the largest distance between the models). A second measurement of the table's labels would
rank its rows only to about the same tau (``python bench/label_repeatability.py``).
Trees and process are stored as tensors and evaluated without sklearn.

Protocol of :func:`fit_predictor`: rows are split into fit / held-out (``holdout`` fraction, seeded; the
fixed anchor rows always stay in fit); the model trained on the fit rows is scored on the held-out rows
(Kendall tau, RMSE / MAE in accuracy points, spread; the MLP ensemble and the trees alone beside it); then
it is retrained with the same recipe on all rows and saved. The metrics describe the recipe's error on
unseen configurations.

The package, one job per module: ``settings``, ``features`` (the inputs and their trends), ``mlp``, ``trees``
and ``gp`` (each model, fitted and evaluated as tensors), ``model`` (:class:`Predictor`: checks, the blend, its
file), ``scoring`` (held-out scores) and ``fit`` (:func:`fit` returns the model, :func:`save_predictor`
writes it, :func:`fit_predictor` does both).
"""

from cimpipe.predictor.settings import FORMAT, PredictorError, PredictorSettings
from cimpipe.predictor.features import crossbar_features, feature_trends, features, predictor_trends
from cimpipe.predictor.mlp import standardization, train_ensemble
from cimpipe.predictor.trees import TREE_DEPTH, error_target, fit_trees, predict_trees
from cimpipe.predictor.gp import GP_NU, fit_gp, predict_gp
from cimpipe.predictor.model import Predictor, blend
from cimpipe.predictor.scoring import ACCURACY_BANDS, gbt_baseline, score
from cimpipe.predictor.fit import fit, fit_predictor, save_predictor, split_rows

__all__ = [
    "ACCURACY_BANDS", "FORMAT", "GP_NU", "TREE_DEPTH", "Predictor", "PredictorError", "PredictorSettings", "blend",
    "crossbar_features", "error_target", "feature_trends", "features", "fit", "fit_gp", "fit_predictor",
    "fit_trees", "gbt_baseline", "predict_gp", "predict_trees", "predictor_trends", "save_predictor", "score",
    "split_rows", "standardization", "train_ensemble",
]
