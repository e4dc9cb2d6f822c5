"""Checking a results file against the pending batch of a campaign."""

from ._campaign import known_classes
from ._inputs import MISSING, parse_class, parse_declared, parse_number


def validate_results(records, campaign, pending, partial):
    """Indices, labels and the list of problems of a results file.

    Parameters
    ----------
    records : list of (int, dict)
        Rows of the results file: (row number, {"id": text, "values": [text,
        ...]}), one value per output of the campaign.
    campaign : Campaign
        The loaded campaign (its screen refit by ``ask``).
    pending : ndarray of int
        The pending batch.
    partial : bool
        Whether results for part of the batch are accepted.

    Returns
    -------
    indices : list of int
        Library positions of the valid rows.
    labels : list
        Their labels: class codes (int), declared class names (str) or values
        (float); a list of floats per row (NaN for an empty cell) in a matrix
        campaign.
    problems : list of str
        One line per problem, naming the row ("row 6: ...").
    """
    classification = campaign.meta["task"] == "classification"
    check = _RowCheck(campaign, pending, classification)
    indices, labels, problems = [], [], []
    for row, record in records:
        index, label, problem = check(row, record["id"], record["values"])
        if problem is not None:
            problems.append(f"row {row}: {problem}")
        else:
            indices.append(index)
            labels.append(label)
    if not records:
        problems.append("no result rows (only a header)")
    ids = campaign.library.ids
    missing = [i for i in pending.tolist() if ids[i] not in check.first]
    if missing and not partial:
        shown = ", ".join(repr(ids[i]) for i in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        problems.append(
            f"{len(missing)} of the {pending.size} compounds of the pending batch "
            f"have no result: {shown}{more} (give them all, or pass --partial)"
        )
    return indices, labels, problems


class _RowCheck:
    """Checks one row after another: (index, label, None) or (.., problem)."""

    def __init__(self, campaign, pending, classification):
        self.screen = campaign.screen
        self.position = {cid: i for i, cid in enumerate(campaign.library.ids)}
        self.in_batch = set(pending.tolist())
        self.declared = campaign.meta.get("classes")
        self.classes = None
        if classification:
            self.classes = self.declared or known_classes(self.screen)
        self.outputs = campaign.outputs
        self.first = {}  # id -> the row it first appeared in

    def __call__(self, row, cid, texts):
        problem = self._id_problem(row, cid)
        if problem is not None:
            return None, None, problem
        if len(texts) == 1:
            value, problem = self._value(texts[0])
            if problem is not None:
                return None, None, f"{problem} for id {cid!r}"
            return self.position[cid], value, None
        values, problems = [], []
        for name, text in zip(self.outputs, texts):
            if text.strip().lower() in MISSING:
                values.append(float("nan"))  # a cell without a label
                continue
            value, problem = self._value(text)
            if problem is not None:
                problems.append(f"{problem} in column {name!r}")
            values.append(float("nan") if value is None else float(value))
        if problems:
            return None, None, f"{'; '.join(problems)} for id {cid!r}"
        if all(v != v for v in values):
            return (
                None,
                None,
                (
                    f"every value is missing for id {cid!r} (leave the row out, with "
                    "--partial, to measure the compound again)"
                ),
            )
        return self.position[cid], values, None

    def _value(self, text):
        """(label, problem) of one cell."""
        if self.classes is None:
            return parse_number(text)
        if self.declared is None:
            return parse_class(text, self.classes)
        return parse_declared(text, self.declared)

    def _id_problem(self, row, cid):
        if not cid:
            return "empty id"
        if cid in self.first:
            return f"duplicate id {cid!r} (first in row {self.first[cid]})"
        self.first[cid] = row
        i = self.position.get(cid)
        if i is None:
            return f"unknown id {cid!r} (not in the library)"
        if i not in self.in_batch:
            if self.screen.observed_mask_[i]:
                why = f"already measured in round {self.screen.acquired_iter_[i]}"
            else:
                why = "not asked for"
            return f"id {cid!r} is not in the pending batch ({why})"
        return None
