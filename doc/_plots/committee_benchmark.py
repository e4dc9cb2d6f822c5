"""Figure of benchmarks/results/committee.json for the benchmarks page.

Run by matplotlib's plot directive with this folder as working directory.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt

RESULTS = Path("..", "..", "benchmarks", "results", "committee.json")
result = json.loads(RESULTS.read_text())

n = result["n_members"]
labels = [f"{n} separate fits\n(n_members=1)", f"one vectorised fit\n(n_members={n})"]
times = [result["time_separate_s"], result["time_vectorised_s"]]
accuracies = [result["test_accuracy_separate"], result["test_accuracy_vectorised"]]

fig, (ax_time, ax_acc) = plt.subplots(1, 2, figsize=(8, 3.2))
bars = ax_time.bar(labels, times, color=["C7", "C0"])
ax_time.bar_label(bars, fmt="%.2f s")
ax_time.set_ylabel("training time (s)")
ax_time.set_title(f"{result['speedup']:.2f}x faster")
ax_time.set_ylim(0, max(times) * 1.2)
bars = ax_acc.bar(labels, accuracies, color=["C7", "C0"])
ax_acc.bar_label(bars, fmt="%.3f")
ax_acc.set_ylabel("test accuracy")
ax_acc.set_ylim(0, 1.05)
ax_acc.set_title("held-out accuracy")
fig.suptitle(
    f"ResMLP committee: {result['n_train']:,} rows x {result['n_features']:,} "
    f"features, {result['epochs']} epochs, hidden {result['hidden_size']}, "
    f"{result['threads']['torch_num_threads']} torch thread, "
    f"{result['device'].upper()}",
    fontsize=9,
)
