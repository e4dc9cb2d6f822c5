"""The simulate subcommand: a whole screen on a library with known labels."""

from pathlib import Path

from ._errors import EXIT_OK, InputError
from ._files import (
    cell,
    featurize,
    fmt,
    max_confidence,
    parse_labels,
    read_library,
    write_history,
    write_plot,
    write_rows,
)
from ._models import build_screen, make_model, screen_options


def cmd_simulate(args):
    options = screen_options(args)
    model, estimator = make_model(args.model, args.task)
    screen = build_screen(estimator, options, verbose=1)
    library = read_library(args.library, args.smiles_col, args.id_col, args.label_col)
    y = parse_labels(library, args.task, args.label_col)
    _check_batch_size(options, len(library))
    X = featurize(library)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(
        f"Simulated screen of {library.path.name}: {len(library)} compounds, "
        f"labels revealed from column {args.label_col!r}; model {model}, "
        f"acquisition {args.acquisition}, target {args.target} (delta "
        f"{args.delta}).\n"
    )
    screen.fit(X, y)  # verbose=1 prints the table of rounds
    h = screen.history_
    n_obs = int(h["n_observed"][-1])
    print(
        f"\nStopped after {screen.n_iter_} rounds ({screen.termination_condition_}): "
        f"{n_obs} of {len(library)} measured ({n_obs / len(library):.1%}).\n"
        f"Lower bound on system accuracy: {h['system_lower_bound'][-1]:.4f}; "
        f"true system score: {h['system_score'][-1]:.4f}."
    )

    confidence = max_confidence(screen, X)
    rows = []
    for i in range(len(library)):
        measured = bool(screen.observed_mask_[i])
        rows.append(
            [
                library.ids[i],
                library.smiles[i],
                cell(screen.transduction_[i]),
                cell(y[i]),
                "measured" if measured else "predicted",
                int(screen.acquired_iter_[i]) if measured else "",
                fmt(confidence[i], ".4f"),
            ]
        )
    header = ["id", "smiles", "value", "true_value", "source", "round", "confidence"]
    written = [
        write_rows(out / "readout.csv", header, rows),
        write_history(out / "history.csv", h),
        write_plot(out / "screen.png", screen),
    ]
    print("Written: " + ", ".join(str(p) for p in written if p is not None))
    return EXIT_OK


def _check_batch_size(options, n):
    size = options["batch_size"]
    if isinstance(size, int) and size > n:
        raise InputError(
            f"--batch-size {size} is larger than the library ({n} compounds)."
        )
