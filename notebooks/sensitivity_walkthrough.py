# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where rank bands come from: a sensitivity analysis, step by step
#
# A composite index rests on choices: weights, how each indicator is put on a common scale, how dimensions are
# combined, how gaps are filled. `marts.index_uncertainty` publishes, for every area, the band in which its rank
# falls when those choices vary. This notebook builds such bands by hand on the small example that ships with the
# engine (`indicators/examples/neighbourhoods.yaml` and `.csv`: ten La Paz-style zones, made-up values), with the
# same functions the pipeline uses (`indicators.engine.compute_index`, `indicators.sensitivity.run_sensitivity`;
# the guide is `docs/indices.md`). It needs no pipeline run and no snapshot.
#
# **Parameters** (the cell tagged `parameters`): `runs` (Monte Carlo runs, default 1000) and `seed` (default 1):
# the same spec, data and seed give the same bands, byte for byte.

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bienestar import settings
from indicators.engine import compute_index, load_spec
from indicators.index_cli import describe_tree, read_input
from indicators.sensitivity import run_sensitivity

# %% tags=["parameters"]
runs = 1000
seed = 1

# %% [markdown]
# ## The spec and the data
#
# The tree: five dimensions under a geometric mean (a zone cannot make up for no services with clean air), each an
# arithmetic mean of its indicators, every indicator with its direction and normalisation.

# %%
EXAMPLES = settings.PROJECT_ROOT / "indicators" / "examples"
spec = load_spec(EXAMPLES / "neighbourhoods.yaml")
frame = read_input(EXAMPLES / "neighbourhoods.csv", spec)
print("\n".join(describe_tree(spec)))
print("\nuncertainty:", spec.uncertainty)
frame

# %% [markdown]
# ## The nominal index: the spec's own choices
#
# One score per dimension and for the index (0..100, higher is better), the rank (1 = best) and the quintile.

# %%
nominal = compute_index(frame, spec)
nominal.insert(1, "name", frame["name"])
nominal.sort_values("rank")

# %% [markdown]
# ## The Monte Carlo: each run draws its own choices
#
# The spec's `uncertainty:` section lists the alternatives. Every run draws, uniformly and independently, one
# imputation, one normalisation (for every indicator at once), one aggregation for the root, and multiplies every
# weight by a factor in U(0.75, 1.25) before rescaling each node's weights to sum to 1. `result.runs` records the
# draws of every run.

# %%
result = run_sensitivity(frame, spec, runs=runs, seed=seed)
choices = [c for c in result.runs.columns if not c.startswith("w:") and c not in ("run", "seed")]
print({c: result.runs[c].value_counts().to_dict() for c in choices})
result.runs.head()

# %% [markdown]
# ## The rank bands
#
# Per zone: the nominal rank, the median rank over the runs, and the 5th and 95th percentile ranks. The band from
# p05 to p95 holds the zone's rank in 90% of the runs. Zones whose bands overlap are not told apart by the index:
# their order depends on choices the analyst could reasonably have made otherwise.

# %%
summary = result.summary.merge(frame[["area_id", "name"]], on="area_id")
summary["band_width"] = summary["p95_rank"] - summary["p05_rank"]
assert len(summary) == len(frame), "one band per zone"
assert ((summary["p05_rank"] <= summary["median_rank"]) & (summary["median_rank"] <= summary["p95_rank"])).all()
assert summary["nominal_rank"].tolist() == nominal["rank"].tolist(), "the nominal rank is compute_index's rank"
bands = summary.sort_values("nominal_rank")
bands[["area_id", "name", "nominal_rank", "median_rank", "p05_rank", "p95_rank", "band_width"]]

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
y = np.arange(len(bands))
ax.hlines(y, bands["p05_rank"], bands["p95_rank"], color="tab:blue", linewidth=6, alpha=0.35, label="p05–p95 rank")
ax.plot(bands["median_rank"], y, "o", color="tab:blue", label="median rank")
ax.plot(bands["nominal_rank"], y, "x", color="black", label="nominal rank")
ax.set_yticks(y, bands["name"])
ax.invert_yaxis()
ax.set_xticks(range(1, len(bands) + 1))
ax.set_xlabel("rank (1 = best)")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize="small", frameon=False)
plt.tight_layout()

# %% [markdown]
# ## Which choice moves a zone?
#
# Join each run's ranks (`result.ranks_frame`) with its draws (`result.runs`): the median rank of a zone among the
# runs that made one choice against the runs that made another. Here for the zone with the widest band.

# %%
widest = summary.sort_values(["band_width", "nominal_rank"], ascending=[False, True]).iloc[0]
ranks = result.ranks_frame("area_id").set_index("area_id").loc[widest["area_id"]].to_numpy(dtype=float)
per_run = result.runs.assign(rank=ranks)
print(f"{widest['name']} ({widest['area_id']}): nominal rank {widest['nominal_rank']}, "
      f"band {widest['p05_rank']:.0f}–{widest['p95_rank']:.0f}")
by_choice = pd.concat({c: per_run.groupby(c)["rank"].median() for c in choices}, names=["parameter", "choice"])
by_choice.to_frame("median rank")

# %% [markdown]
# Every run can be rebuilt exactly with `compute_index` from its record: here the run in which that zone ranked
# worst, its choices written back into the spec.

# %%
worst = per_run.sort_values(["rank", "run"], ascending=[False, True]).iloc[0]
data = copy.deepcopy(spec.data)
data.pop("uncertainty")
data["missing"]["impute"] = worst["impute"]
if worst["normalise"] != "nominal":
    for entry in data["indicators"]:
        entry["normalise"] = {"method": worst["normalise"]}
nodes = {node["id"]: node for node in data["nodes"]}
nodes["wellbeing"]["aggregate"] = worst["aggregate:wellbeing"]
for column in [c for c in per_run.columns if c.startswith("w:")]:
    _, node, child = column.split(":")
    nodes[node].setdefault("weights", {})[child] = float(worst[column])
rebuilt = compute_index(frame, data).set_index("area_id")["rank"]
assert rebuilt[widest["area_id"]] == worst["rank"], "the run record rebuilds the run"
print(f"run {worst['run']}: {', '.join(f'{c} = {worst[c]}' for c in choices)}; "
      f"rank {rebuilt[widest['area_id']]} rebuilt, {worst['rank']:.0f} recorded")

# %% [markdown]
# ## Drop one: what each indicator and dimension contributes
#
# `shift_without_X` is the zone's rank with X left out (its weight set to 0, its siblings' weights rescaled; a
# dimension left with no weight is dropped in turn) minus its nominal rank: positive means the zone falls without
# X, i.e. X was holding it up. Every other choice stays nominal.

# %%
shifts = summary.set_index("name")[[c for c in summary.columns if c.startswith("shift_without_")]]
shifts.columns = [c.removeprefix("shift_without_") for c in shifts.columns]
shifts.loc[bands["name"]]

# %% [markdown]
# By hand, for one dimension: *environment*. With its weight 0 in the root (the other four keep equal weights),
# the nominal index, recomputed, gives each zone its rank without environment.

# %%
data = copy.deepcopy(spec.data)
root = next(node for node in data["nodes"] if node["id"] == spec.root)
root["weights"] = {child: 0 if child == "environment" else 1 for child in root["children"]}
without_environment = compute_index(frame, data)["rank"] - nominal["rank"]
assert without_environment.tolist() == summary["shift_without_environment"].tolist(), "drop-one shift by hand"
pd.DataFrame({"name": frame["name"], "by hand": without_environment,
              "run_sensitivity": summary["shift_without_environment"]})
