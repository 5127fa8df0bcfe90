# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Bolivia, census 2012 → census 2024: what changed, and how far the two can be compared
#
# The real Bolivian city (`cities/bolivia_municipal`: INE's municipal census tables) has an index for both
# censuses and its change (`marts.index_change`, `marts.indicator_change`; `docs/marts.md`). Before reading a
# change, this notebook states what makes the two periods comparable and what does not: the index's tree and
# weights in each period, how its indicators are normalised, which indicators exist in only one census, and how
# the department figures are made.
#
# **Parameters.** Edit the cell tagged `parameters` (the cell papermill fills with `-p`), or set environment
# variables before starting Jupyter:
#
# | parameter | environment | default |
# | --- | --- | --- |
# | `snapshot` | `BIENESTAR_SNAPSHOT` | `published/bolivia_municipal/current.duckdb` under `BIENESTAR_HOME` (1) |
# | `top_n` | | 10: how many municipalities to list that moved most, each way |
#
# (1) `var/` in the checkout when `BIENESTAR_HOME` is not set: run `.venv/bin/bienestar run --city
# bolivia_municipal` first.

# %%
import os

import duckdb
import matplotlib.pyplot as plt
import pandas as pd
import yaml

from bienestar import settings

# %% tags=["parameters"]
city = "bolivia_municipal"
index_id = "wellbeing"
snapshot = os.environ.get("BIENESTAR_SNAPSHOT") or settings.paths().current_snapshot_for(city)
top_n = 10

# %%
LA_PAZ, EL_ALTO = "020101", "020105"  # INE municipality codes
pd.set_option("display.max_colwidth", 150)
con = duckdb.connect(str(snapshot), read_only=True)
areas = con.execute("SELECT area_id, level, depth, name, parent_id FROM marts.areas WHERE city = ?",
                    [city]).df().set_index("area_id")
assert len(areas), f"{snapshot} holds no areas of {city!r}"
pairs = con.execute("SELECT DISTINCT period_from, period_to FROM marts.index_change WHERE city = ? AND index_id = ? "
                    "ORDER BY period_to DESC, period_from DESC", [city, index_id]).fetchall()
assert pairs, f"{snapshot} has no change of index {index_id!r} for {city!r}"
period_from, period_to = pairs[0]
municipal = areas.loc[areas["depth"] == 0, "level"].iloc[0]
print(f"{snapshot}: {city}, {period_from} → {period_to}; {len(areas)} areas "
      f"({', '.join(f'{n} {level}' for level, n in areas['level'].value_counts().items())})")

# %% [markdown]
# ## Comparability
#
# ### 1. The index spec of each period

# %%
runs = con.execute("SELECT period, spec_sha256, engine_version, spec_yaml FROM marts.index_runs "
                   "WHERE city = ? AND index_id = ? AND period IN (?, ?) ORDER BY period",
                   [city, index_id, period_from, period_to]).df().set_index("period")
if runs["spec_sha256"].nunique() == 1 and runs["engine_version"].nunique() == 1:
    print(f"Both periods were scored from the same spec text (sha256 {runs['spec_sha256'].iloc[0][:12]}…) by "
          f"engine {runs['engine_version'].iloc[0]}.")
else:
    print("The periods were scored from different specs or engines: compare them before reading a change.")
runs[["spec_sha256", "engine_version"]]

# %% [markdown]
# ### 2. Dimensions, indicators and weights (`marts.index_weights`)

# %%
weights = con.execute("SELECT period, node_id, child_id, weight FROM marts.index_weights "
                      "WHERE city = ? AND index_id = ? AND period IN (?, ?)",
                      [city, index_id, period_from, period_to]).df()
tree = (weights.pivot_table(index=["node_id", "child_id"], columns="period", values="weight")
        .reindex(columns=[period_from, period_to]))
differs = tree[tree.isna().any(axis=1) | ((tree[period_from] - tree[period_to]).abs() > 1e-12)]
for period in (period_from, period_to):
    edges = weights[weights["period"] == period]
    dimensions = edges.loc[edges["node_id"] == index_id, "child_id"]
    leaves = set(edges["child_id"]) - set(edges["node_id"])
    print(f"{period}: {len(dimensions)} dimensions ({', '.join(sorted(dimensions))}), {len(leaves)} indicators")
if differs.empty:
    print("Same dimensions, same indicators, same weights in both periods.")
else:
    print(f"{len(differs)} node/child weight(s) differ (NaN: absent in that period):")
differs

# %% [markdown]
# ### 3. Normalisation: one scale across the censuses?
#
# A goalpost (or target) normalisation puts a value on the same 0..100 scale in every period, so a change in score
# is a change in the indicator. A min-max, rank or z-score normalisation is relative to the areas of its own
# period: there a change in score is a change in *relative* position.

# %%
ABSOLUTE = {"goalposts", "distance_to_target", "nbi_gap"}


def normalisations(spec_yaml: str) -> dict[str, str]:
    """indicator id -> its normalisation method in one spec (minmax when the spec names none)."""
    spec = yaml.safe_load(spec_yaml)
    methods = {}
    for indicator in spec["indicators"]:
        method = indicator.get("normalise", "minmax")
        methods[indicator["id"]] = method if isinstance(method, str) else method.get("method", "minmax")
    return methods


methods = pd.DataFrame({period: normalisations(runs.loc[period, "spec_yaml"]) for period in runs.index})
relative = methods[~methods.isin(ABSOLUTE).all(axis=1)]
if relative.empty:
    print("Every indicator of the index is normalised on fixed goalposts or targets in both periods: "
          "its scores are on one scale, and a score change is a change in the indicators.")
else:
    print(f"{len(relative)} indicator(s) normalised relative to their own period: their score changes are "
          f"changes in relative position, not in the indicator: {', '.join(relative.index)}")
methods

# %% [markdown]
# ### 4. Indicators measured in only one census
#
# The census questionnaires differ: some figures exist for one census only. An indicator missing from a period
# cannot enter that period's index, nor a change.

# %%
coverage = con.execute("""
    SELECT indicator_id, period, count(value) AS areas_with_value
    FROM marts.indicator_values WHERE city = ? AND level = ? AND period IN (?, ?)
    GROUP BY ALL
""", [city, municipal, period_from, period_to]).df().pivot(index="indicator_id", columns="period",
                                                            values="areas_with_value")
in_index = set(weights["child_id"])
one_census = coverage[(coverage[period_from] == 0) != (coverage[period_to] == 0)].copy()
one_census["in the index"] = one_census.index.isin(in_index)
print(f"{len(one_census)} indicator(s) have values in one census only"
      + (", none of them in the index." if not one_census["in the index"].any() else
         ": SOME ARE IN THE INDEX, so its two periods are not built alike."))
one_census

# %% [markdown]
# ### 5. How the figures of the larger areas are made
#
# The notes say how a value was made; read them before comparing departments across censuses.

# %%
notes = con.execute("""
    SELECT period, level, regexp_replace(note, 'of its [0-9]+ ', 'of its N ') AS note, count(*) AS cells
    FROM marts.indicator_values WHERE city = ? AND period IN (?, ?) AND note IS NOT NULL
    GROUP BY ALL ORDER BY period, level, cells DESC
""", [city, period_from, period_to]).df()
notes

# %% [markdown]
# ## What changed
#
# ### The index and its dimensions: the median municipality

# %%
change = con.execute("""
    SELECT c.area_id, a.name, d.name AS department, c.node_id, c.score_from, c.score_to, c.score_change,
           c.rank_from, c.rank_to, c.rank_change
    FROM marts.index_change c
    JOIN marts.areas a ON a.city = c.city AND a.area_id = c.area_id
    LEFT JOIN marts.areas d ON d.city = a.city AND d.area_id = a.parent_id
    WHERE c.city = ? AND c.index_id = ? AND c.period_from = ? AND c.period_to = ? AND c.level = ?
""", [city, index_id, period_from, period_to, municipal]).df()
assert len(change) > 0, "no change rows for the municipalities"
by_node = change.groupby("node_id").agg(
    municipalities=("score_change", "count"), median_from=("score_from", "median"),
    median_to=("score_to", "median"), median_change=("score_change", "median"),
    improved=("score_change", lambda s: f"{(s > 0).mean():.0%}"))
by_node.sort_values("median_change", ascending=False)

# %% [markdown]
# ### The municipalities that moved most
#
# By score change of the index (points on its 0..100 scale); rank change is positive when a municipality moved
# up among the municipalities.

# %%
index_change = change[change["node_id"] == index_id].dropna(subset=["score_change"])
columns = ["area_id", "name", "department", "score_from", "score_to", "score_change", "rank_from", "rank_to",
           "rank_change"]
most_up = index_change.nlargest(top_n, "score_change")[columns]
assert len(most_up) == min(top_n, len(index_change))
most_up

# %%
least_up = index_change.nsmallest(top_n, "score_change")[columns]
least_up

# %%
fell_most_in_rank = index_change.nsmallest(top_n, "rank_change")[columns]
fell_most_in_rank

# %% [markdown]
# ### Unsatisfied basic needs (NBI): La Paz and El Alto
#
# The share of the population with unsatisfied basic needs, as INE publishes it for each census.

# %%
nbi = con.execute("""
    SELECT c.area_id, a.name, c.value_from, c.value_to, c.change_pp
    FROM marts.indicator_change c JOIN marts.areas a ON a.city = c.city AND a.area_id = c.area_id
    WHERE c.city = ? AND c.indicator_id = 'nbi' AND c.period_from = ? AND c.period_to = ? AND c.area_id IN (?, ?)
    ORDER BY c.area_id
""", [city, period_from, period_to, LA_PAZ, EL_ALTO]).df()
assert sorted(nbi["area_id"]) == [LA_PAZ, EL_ALTO], "NBI change of La Paz or El Alto is missing"
for row in nbi.itertuples():
    print(f"{row.name}: {row.value_from:.1%} in {period_from} → {row.value_to:.1%} in {period_to} "
          f"({row.change_pp:+.1f} percentage points)")
nbi

# %% [markdown]
# ### Every municipality, both censuses

# %%
fig, ax = plt.subplots(figsize=(5.5, 5.5))
ax.scatter(index_change["score_from"], index_change["score_to"], s=8, alpha=0.5)
ax.plot([0, 100], [0, 100], color="grey", linewidth=0.8, linestyle="--")
for row in index_change[index_change["area_id"].isin([LA_PAZ, EL_ALTO])].itertuples():
    ax.annotate(row.name, (row.score_from, row.score_to), fontsize="small", xytext=(-6, 6), ha="right",
                textcoords="offset points")
ax.set_xlim(0, 100)
ax.set_ylim(0, 100)
ax.set_xlabel(f"index score {period_from}")
ax.set_ylabel(f"index score {period_to}")
ax.set_title("Above the dashed line: a higher score in the later census", fontsize="medium")
plt.tight_layout()

# %%
con.close()
