"""The models and stopping rules of the command line, in two registries.

``MODELS`` maps a model name to a factory per task; ``STOPPING_RULES`` maps a
``--stopping`` name to a factory of the screen's ``stopping`` parameter from
the target and delta. Adding a model or a rule is one line in its registry:
the parser's choices, the help and campaign.json's schema follow.
"""

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


def _rule(name):
    """A factory of a rule of :mod:`sklearn_isd.stopping`, by class name."""

    def make(target, delta):
        from .. import stopping

        return getattr(stopping, name)(target=target, delta=delta)

    make.__name__ = name
    return make


#: ``--stopping`` names -> factory(target, delta) of the screen's ``stopping``.
STOPPING_RULES = {
    "ppi": lambda target, delta: "ppi",
    "kl": lambda target, delta: "kl",
    "anytime-kl": _rule("AnytimeKLBound"),
    "pooled-kl": _rule("PooledKLBound"),
    "audit": _rule("AuditBound"),
    "none": lambda target, delta: None,
}
DEFAULT_STOPPING = "kl"
#: What each rule does, in a few words (the demo's header says it).
STOPPING_SUMMARY = {
    "ppi": "an exact audit of the inference set, timed by the model's own "
    "predicted errors",
    "kl": "the paper's KL lower bound from the accuracy on each batch",
    "anytime-kl": "the KL bound with delta spent over the rounds",
    "pooled-kl": "the anytime KL bound pooling the last 5 batches",
    "audit": "a uniform audit share of every batch",
    "none": "none, measure up to the budget",
}
STOPPING_HELP = (
    "the stopping rule (sklearn_isd.stopping): ppi = PredictionPoweredBound, "
    "an exact audit of the inference set timed by the model, no calibration "
    "assumption, valid for the whole screen; kl = KLBound, the paper's bound "
    "tested anew each round (Eq. 5-6); anytime-kl = AnytimeKLBound, delta spent "
    "over rounds, valid for the whole screen; pooled-kl = PooledKLBound, the "
    "anytime bound pooling the last 5 batches; audit = AuditBound, a uniform "
    "audit share of every batch, no calibration assumption; none = measure up "
    "to --max-fraction (the KL bound is still reported). Each runs at --target "
    f"and --delta (default: {DEFAULT_STOPPING})"
)


def make_stopping(name, target, delta):
    """The screen's ``stopping`` parameter for a ``--stopping`` name."""
    return STOPPING_RULES[name](target, delta)


def make_model(name, task, n_outputs=1):
    """The unfitted estimator of a model name for a task.

    With several outputs (a matrix campaign), the model is wrapped in
    :class:`~sklearn_isd.multioutput.MaskedMultiOutputClassifier` or
    :class:`~sklearn_isd.multioutput.MaskedMultiOutputRegressor`, which fit
    one model per output on the rows where it has a label.
    """
    name = DEFAULT_MODEL[task] if name is None else name
    factory = MODELS[name].get(task)
    if factory is None:
        offered = [m for m, tasks in MODELS.items() if task in tasks]
        raise InputError(
            f"--model {name} is not offered for --task {task} (logistic regression "
            f"is a classifier); use one of {', '.join(offered)}."
        )
    estimator = factory()
    if n_outputs > 1:
        from ..multioutput import (
            MaskedMultiOutputClassifier,
            MaskedMultiOutputRegressor,
        )

        wrapper = (
            MaskedMultiOutputClassifier
            if task == "classification"
            else MaskedMultiOutputRegressor
        )
        estimator = wrapper(estimator)
    return name, estimator


def screen_options(args, n_outputs=1):
    """Validate the screen options of start/simulate; return them as a dict.

    The stopping rule is left out: see :func:`make_stopping`.
    """
    stopping = getattr(args, "stopping", DEFAULT_STOPPING)
    if args.task == "regression" and args.tolerance is None and stopping != "none":
        raise InputError(
            "--task regression needs --tolerance T: the stopping rule counts a "
            "prediction within T of the measured value as correct (or pass "
            "--stopping none to measure up to --max-fraction)."
        )
    if (
        n_outputs > 1
        and args.task == "regression"
        and args.acquisition in ("auto", "std", "vote_entropy")
    ):
        raise InputError(
            f"--acquisition {args.acquisition} needs a committee of models, which a "
            "matrix regression campaign (one model per output) does not have: pass "
            "--acquisition random."
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


def build_screen(estimator, options, stopping=DEFAULT_STOPPING, *, verbose=0):
    """The HybridScreenCV of the options (the screen validates them itself)."""
    from .. import HybridScreenCV

    rule = make_stopping(stopping, options["target"], options["delta"])
    return HybridScreenCV(estimator, stopping=rule, verbose=verbose, **options)
