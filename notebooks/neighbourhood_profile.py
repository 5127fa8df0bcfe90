# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A neighbourhood's profile
#
# One zone on one page: its well-being score and rank, the band that the index's methodological choices put
# around that rank, its indicators beside those of the areas it lies in and of the whole city, and the figures
# withheld for privacy, each with its reason. Everything comes from the published snapshot (`docs/marts.md`).
#
# **Parameters.** Edit the cell tagged `parameters` (the cell papermill fills with `-p`), or set environment
# variables before starting Jupyter:
#
# | parameter | environment | default |
# | --- | --- | --- |
# | `snapshot` | `BIENESTAR_SNAPSHOT` | `published/la_paz_demo/current.duckdb` under `BIENESTAR_HOME` (1) |
# | `area_id` | `BIENESTAR_AREA_ID` | the best-ranked zone of the latest period |
# | `city`, `index_id` | | `la_paz_demo`, `wellbeing` |
#
# (1) `var/` in the checkout when `BIENESTAR_HOME` is not set: run `make demo` first.

# %%
import os

import duckdb
import matplotlib.pyplot as plt
import pandas as pd

from bienestar import settings

# %% tags=["parameters"]
city = "la_paz_demo"
index_id = "wellbeing"
snapshot = os.environ.get("BIENESTAR_SNAPSHOT") or settings.paths().current_snapshot_for(city)
area_id = os.environ.get("BIENESTAR_AREA_ID") or None  # None: the best-ranked zone of the latest period

# %% [markdown]
# ## The zone and the areas it lies in

# %%
con = duckdb.connect(str(snapshot), read_only=True)
period = con.execute("SELECT max(period) FROM marts.index_scores WHERE city = ? AND index_id = ?",
                     [city, index_id]).fetchall()[0][0]
assert period is not None, f"{snapshot} has no scores of index {index_id!r} for {city!r}"
areas = con.execute("SELECT area_id, level, depth, name, parent_id, population FROM marts.areas WHERE city = ?",
                    [city]).df().set_index("area_id")
smallest_level = areas.loc[areas["depth"] == 0, "level"].iloc[0]
best_ranked = con.execute("""
    SELECT area_id FROM marts.index_scores
    WHERE city = ? AND index_id = ? AND period = ? AND level = ? AND node_id = index_id AND rank IS NOT NULL
    ORDER BY rank, area_id LIMIT 1
""", [city, index_id, period, smallest_level]).fetchall()[0][0]
area_id = area_id or best_ranked
assert area_id in areas.index, f"{area_id!r} is not an area of {city!r} in {snapshot}"


def ancestors(area: str) -> list[str]:
    """The area, its parent, its parent's parent, ... up to the top level."""
    chain = [area]
    while pd.notna(areas.loc[chain[-1], "parent_id"]):
        chain.append(areas.loc[chain[-1], "parent_id"])
    return chain


chain = ancestors(area_id)
top_level = areas["level"][areas["depth"] == areas["depth"].max()].iloc[0]
print(f"{areas.loc[area_id, 'name']} ({area_id}), {city}, period {period}")
where = areas.loc[chain, ["level", "name", "population"]].astype({"population": "object"})
where["population"] = where["population"].map(lambda p: "withheld for privacy" if pd.isna(p) else f"{p:,.0f}")
where

# %% [markdown]
# ## Index scores and ranks
#
# Every level is scored separately: a zone's rank is among the zones, its macrodistrict's among the macrodistricts,
# and with min-max normalisation (the sample city's spec) a zone's score and its macrodistrict's are not on one
# scale. Compare ranks within a column, not scores across columns.

# %%
scores = con.execute("""
    SELECT area_id, level, node_id, score, rank, quantile, suppressed_inputs,
           count(score) OVER (PARTITION BY level, node_id) AS ranked_areas
    FROM marts.index_scores WHERE city = ? AND index_id = ? AND period = ?
""", [city, index_id, period]).df()
dimensions = con.execute("SELECT dimension_id, name_en, display_order FROM marts.dimensions WHERE city = ?",
                         [city]).df().set_index("dimension_id")
dimension_names = dimensions["name_en"].to_dict()
root_children = con.execute("SELECT child_id FROM marts.index_weights WHERE city = ? AND index_id = ? AND period = ? "
                            "AND node_id = ?", [city, index_id, period, index_id]).df()["child_id"]
nodes = [index_id, *sorted(root_children, key=lambda n: (dimensions["display_order"].get(n, len(dimensions)), n))]


def score_text(row) -> str:
    if pd.isna(row["score"]):
        return "no score"
    return f"{row['score']:.1f} (rank {row['rank']} of {row['ranked_areas']})"


mine = scores[scores["area_id"].isin(chain)].copy()
mine["text"] = mine.apply(score_text, axis=1)
index_table = (mine.pivot(index="node_id", columns="area_id", values="text").reindex(index=nodes, columns=chain)
               .rename(index=lambda n: "Index" if n == index_id else dimension_names.get(n, n),
                       columns=lambda a: f"{areas.loc[a, 'level']} {areas.loc[a, 'name']}"))
zone_scores = mine[mine["area_id"] == area_id].set_index("node_id")
assert zone_scores.loc[index_id, "rank"] >= 1, f"{area_id} has no rank"
withheld_inputs = int(zone_scores.loc[index_id, "suppressed_inputs"])
print(f"The zone's index rests on {withheld_inputs} indicator value(s) withheld from publication: the score is "
      "computed from the exact values (docs/privacy.md), which this snapshot does not show.")
index_table

# %% [markdown]
# ## How firm is the rank?
#
# `marts.index_uncertainty` recomputes the ranks many times, each time drawing one of the choices the index spec
# declares under `uncertainty:` (weights, normalisation, aggregation, imputation; `docs/indices.md` and the
# `sensitivity_walkthrough` notebook). The band from the 5th to the 95th percentile rank is where the zone's rank
# falls in 90% of those runs: zones whose bands overlap cannot be told apart by this index.

# %%
has_bands = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts' "
                        "AND table_name = 'index_uncertainty'").fetchall()[0][0] == 1
band = None
if has_bands:
    bands = con.execute("SELECT area_id, level, nominal_rank, median_rank, p05_rank, p95_rank "
                        "FROM marts.index_uncertainty WHERE city = ? AND index_id = ? AND period = ?",
                        [city, index_id, period]).df()
    level_bands = bands[bands["level"] == areas.loc[area_id, "level"]].dropna(subset=["median_rank"])
    band = level_bands.set_index("area_id").loc[[area_id]]
    mine_band = band.iloc[0]
    assert mine_band["nominal_rank"] == zone_scores.loc[index_id, "rank"], "the band is of the published rank"
    overlapping = level_bands[(level_bands["area_id"] != area_id) & (level_bands["p05_rank"] <= mine_band["p95_rank"])
                              & (level_bands["p95_rank"] >= mine_band["p05_rank"])]
    print(f"Published rank {mine_band['nominal_rank']} of {len(level_bands)}: in 90% of the runs between "
          f"{mine_band['p05_rank']:.0f} and {mine_band['p95_rank']:.0f} (median {mine_band['median_rank']:.0f}). "
          f"The bands of {len(overlapping)} other {areas.loc[area_id, 'level']} area(s) overlap it.")
else:
    print("This snapshot has no rank bands (marts.index_uncertainty): its index spec declares no uncertainty.")
band

# %% [markdown]
# ## The index's indicators: the zone, the areas it lies in, the city
#
# A figure withheld by disclosure control reads *withheld for privacy*: the snapshot has no value for it, and
# neither does this notebook. The city figure pools the counts of the top-level areas (numerators over
# denominators) that have a value (an area with no measurement, such as no air station near it, is left out); it
# is not shown when a top-level area's figure is withheld (pooling the others would not be the city's figure) or
# when the counts are not published at all (rates republished as they are, such as INE's).

# %%
catalogue = con.execute("SELECT indicator_id, name_en, unit, direction FROM marts.indicator_catalogue "
                        "WHERE city = ?", [city]).df().set_index("indicator_id")
leaves = con.execute("""
    SELECT node_id AS dimension, child_id AS indicator_id FROM marts.index_weights
    WHERE city = ? AND index_id = ? AND period = ?
      AND child_id NOT IN (SELECT node_id FROM marts.index_weights WHERE city = ? AND index_id = ? AND period = ?)
""", [city, index_id, period, city, index_id, period]).df()
leaves = leaves.sort_values(["dimension", "indicator_id"],
                            key=lambda column: column.map(nodes.index) if column.name == "dimension" else column)
values = con.execute("SELECT area_id, level, indicator_id, value, numerator, denominator, suppressed, suppression, "
                     "note FROM marts.indicator_values WHERE city = ? AND period = ?", [city, period]).df()


def city_figure(rows: pd.DataFrame, unit: str) -> str:
    """Numerators over denominators of the top-level areas with a value, on the indicator's scale (share, per 1000)."""
    measured = rows.dropna(subset=["value"])
    if rows["suppressed"].any():
        return f"not shown: withheld in a {top_level}"
    if measured.empty:
        return "no value"
    if measured[["numerator", "denominator"]].isna().any(axis=None):
        return "not shown: no published counts"
    counted = measured[measured["numerator"] > 0]
    per = (counted["value"] * counted["denominator"] / counted["numerator"]).median() if len(counted) else 1.0
    return value_text(measured["numerator"].sum() / measured["denominator"].sum() * per, False, unit)


def value_text(value: float, suppressed: bool, unit: str) -> str:
    if suppressed:
        return "withheld for privacy"
    if pd.isna(value):
        return "no value"
    return f"{value:.1%}" if unit == "share" else f"{value:,.1f} {unit}"


top = values[values["level"] == top_level]
rows = []
for leaf in leaves.itertuples():
    entry = catalogue.loc[leaf.indicator_id]
    row = {"dimension": dimension_names.get(leaf.dimension, leaf.dimension), "indicator": entry["name_en"],
           "better": "higher" if entry["direction"] > 0 else "lower"}
    for area in chain:
        cell = values[(values["area_id"] == area) & (values["indicator_id"] == leaf.indicator_id)].iloc[0]
        row[f"{areas.loc[area, 'level']} {areas.loc[area, 'name']}"] = value_text(cell["value"], cell["suppressed"],
                                                                                  entry["unit"])
    row["city"] = city_figure(top[top["indicator_id"] == leaf.indicator_id], entry["unit"])
    rows.append(row)
indicator_table = pd.DataFrame(rows)
assert len(indicator_table) == len(leaves) > 0, "the index has no indicators in this snapshot"
indicator_table

# %% [markdown]
# ## Figures withheld for privacy, and why
#
# Every indicator of the zone (not only the index's) that disclosure control withholds, grouped by the reason the
# snapshot gives (`docs/privacy.md`). A reason says why a figure is withheld, never what it would have been.

# %%
REASONS = {
    "primary": "too few people or households behind the figure: publishing it could single someone out",
    "sensitive": "a violence or health indicator, held to stricter limits, with too few cases behind it",
    "secondary": "withheld so that another withheld figure cannot be worked out from the published ones",
}
zone_values = values[values["area_id"] == area_id].merge(catalogue, left_on="indicator_id", right_index=True)
withheld = zone_values[zone_values["suppressed"]]
assert withheld["value"].isna().all() and withheld["numerator"].isna().all(), "a withheld cell must carry no figure"
withheld_summary = (withheld.groupby("suppression")
                    .agg(cells=("indicator_id", "size"), indicators=("name_en", lambda n: "; ".join(sorted(n))))
                    .reset_index())
withheld_summary.insert(1, "why", withheld_summary["suppression"].map(REASONS))
print(f"{len(withheld)} of {len(zone_values)} figures of the zone are withheld for privacy; "
      f"{zone_values['value'].isna().sum() - len(withheld)} more have no value for another reason (below).")
withheld_summary

# %%
# Figures that are missing but not withheld: no measurement (e.g. no air station near the zone), said in `note`.
unmeasured = zone_values[~zone_values["suppressed"] & zone_values["value"].isna()]
unmeasured[["name_en", "note"]].rename(columns={"name_en": "indicator"})

# %% [markdown]
# ## The zone's dimensions beside its macrodistrict's and the city's zones
#
# Zone scores only, so every bar is on the same scale: the zone, the median zone of its top-level area
# (macrodistrict) and the median zone of the city.

# %%
zone_level = areas.loc[area_id, "level"]
top_of = {a: ancestors(a)[-1] for a in areas.index[areas["level"] == zone_level]}
same_level = scores[(scores["level"] == zone_level) & scores["node_id"].isin(nodes)].copy()
same_level["top"] = same_level["area_id"].map(top_of)
top_area = chain[-1]
chart = pd.DataFrame({
    areas.loc[area_id, "name"]: same_level[same_level["area_id"] == area_id].set_index("node_id")["score"],
    f"median zone, {areas.loc[top_area, 'name']}":
        same_level[same_level["top"] == top_area].groupby("node_id")["score"].median(),
    "median zone, city": same_level.groupby("node_id")["score"].median(),
}).reindex(nodes).rename(index=lambda n: "Index" if n == index_id else dimension_names.get(n, n))
ax = chart.plot.barh(figsize=(7, 4.5), width=0.8)
ax.invert_yaxis()
ax.set_xlim(0, 100)
ax.set_ylabel("")
ax.set_xlabel(f"score 0..100, higher is better ({period})")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize="small", frameon=False)
plt.tight_layout()

# %%
con.close()
