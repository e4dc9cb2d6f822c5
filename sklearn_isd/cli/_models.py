"""The models of the command line (a registry: name -> task -> factory)."""

from ._errors import DependencyError, InputError


def _logreg_classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _rf_classifier():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=1)


def _rf_regressor():
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, n_jobs=1)


def _import_neural():
    try:
        from .. import neural
    except ImportError as exc:
        raise DependencyError(
            f"--model resmlp needs torch and skorch ({exc}); install them with "
            "`pip install sklearn-isd[neural]`, or use --model logreg or rf."
        ) from None
    return neural


#: Small, CPU-friendly ResMLP settings (the paper's are for GPUs).
RESMLP_PARAMS = {
    "module__hidden_size": 128,
    "module__n_blocks": 2,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 256,
}


def _resmlp_classifier():
    return _import_neural().ResMLPClassifier(n_members=1, **RESMLP_PARAMS)


def _resmlp_regressor():
    # A committee of 5, so that the default 'std' acquisition has a spread.
    return _import_neural().ResMLPRegressor(n_members=5, **RESMLP_PARAMS)


MODELS = {
    "logreg": {"classification": _logreg_classifier},
    "rf": {"classification": _rf_classifier, "regression": _rf_regressor},
    "resmlp": {"classification": _resmlp_classifier, "regression": _resmlp_regressor},
}
DEFAULT_MODEL = {"classification": "logreg", "regression": "rf"}
MODEL_HELP = (
    "the model: logreg = LogisticRegression(max_iter=1000), classification "
    "only (logistic regression has no regression form, so it is not offered "
    "for --task regression); rf = RandomForestClassifier/Regressor("
    "n_estimators=100, n_jobs=1); resmlp = ResMLPClassifier (one net) or "
    "ResMLPRegressor (a committee of 5) with small CPU settings (hidden size "
    "128, 2 blocks, up to 100 epochs, patience 10), needs torch and skorch. "
    "Default: logreg for classification, rf for regression"
)


def make_model(name, task):
    """The unfitted estimator of a model name for a task."""
    name = DEFAULT_MODEL[task] if name is None else name
    factory = MODELS[name].get(task)
    if factory is None:
        offered = [m for m, tasks in MODELS.items() if task in tasks]
        raise InputError(
            f"--model {name} is not offered for --task {task} (logistic regression "
            f"is a classifier); use one of {', '.join(offered)}."
        )
    return name, factory()


def screen_options(args):
    """Validate the screen options of start/simulate; return them as a dict."""
    if args.task == "regression" and args.tolerance is None:
        raise InputError(
            "--task regression needs --tolerance T: the stopping rule counts a "
            "prediction within T of the measured value as correct."
        )
    if args.task == "classification" and args.tolerance is not None:
        raise InputError(
            "--tolerance applies to --task regression only: a class prediction "
            "is correct when it equals the label."
        )
    return {
        "acquisition": args.acquisition,
        "batch_size": args.batch_size,
        "target": args.target,
        "delta": args.delta,
        "tolerance": args.tolerance,
        "max_fraction": args.max_fraction,
        "random_state": args.random_state,
    }


def build_screen(estimator, options, *, verbose=0):
    """The HybridScreenCV of the options (the screen validates them itself)."""
    from .. import HybridScreenCV

    return HybridScreenCV(estimator, verbose=verbose, **options)
