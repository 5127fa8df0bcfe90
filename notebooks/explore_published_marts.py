# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring the published marts
#
# What a planner can do with the sample city's published snapshot: it is a plain DuckDB file, opened read-only, so
# this notebook never blocks the pipeline and always sees a complete, validated snapshot. The schema is documented
# in `docs/marts.md`.
#
# **Which snapshot.** By default `published/la_paz_demo/current.duckdb` under `BIENESTAR_HOME` (`var/` in the
# checkout: run `make demo` first). To read another file, set the environment variable `BIENESTAR_SNAPSHOT` to its
# path before starting Jupyter, or edit the cell tagged `parameters` below (the cell papermill fills with `-p`).

# %%
import os

import duckdb
import geopandas as gpd
import shapely

from bienestar import settings

# %% tags=["parameters"]
snapshot = os.environ.get("BIENESTAR_SNAPSHOT") or settings.paths().current_snapshot_for("la_paz_demo")

# %%
con = duckdb.connect(str(snapshot), read_only=True)
period = con.execute("SELECT max(period) FROM marts.index_scores WHERE city = 'la_paz_demo'").fetchall()[0][0]
print(f"{snapshot}: census {period}")
con.sql("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY table_name").df()

# %% [markdown]
# ## The ten zones with the highest well-being score (latest census)

# %%
top_zones = con.execute("""
    SELECT s.rank, a.area_id, a.name, s.score, s.quantile
    FROM marts.index_scores s JOIN marts.areas a USING (city, area_id)
    WHERE s.city = 'la_paz_demo' AND s.level = 'zona' AND s.node_id = s.index_id AND s.period = ?
    ORDER BY s.rank LIMIT 10
""", [period]).df()
assert len(top_zones) == 10 and top_zones["rank"].iloc[0] == 1, "the snapshot has fewer than ten ranked zones"
top_zones

# %% [markdown]
# ## Dimension scores of the macrodistricts

# %%
macro = con.execute("""
    SELECT a.name, s.node_id, s.score FROM marts.index_scores s JOIN marts.areas a USING (city, area_id)
    WHERE s.city = 'la_paz_demo' AND s.level = 'macrodistrito' AND s.period = ?
""", [period]).df().pivot(index="name", columns="node_id", values="score").sort_values("wellbeing", ascending=False)
assert len(macro) == 9, "La Paz has nine macrodistricts"
macro

# %% [markdown]
# ## One indicator for every zone, with its counts
# Suppressed cells have no value and say why in `note`.

# %%
water = con.execute("""
    SELECT v.area_id, a.name, v.value, v.numerator, v.denominator, v.suppressed, v.note
    FROM marts.indicator_values v JOIN marts.areas a USING (city, area_id)
    WHERE v.city = 'la_paz_demo' AND v.indicator_id = 'no_piped_water' AND v.level = 'zona' AND v.period = ?
    ORDER BY v.value DESC NULLS LAST
""", [period]).df()
assert water["value"][water["suppressed"]].isna().all(), "a withheld cell must have no value"
water.head(10)

# %% [markdown]
# ## A map of any indicator

# %%
zones = con.sql("SELECT area_id, geometry_wkt FROM marts.areas WHERE city = 'la_paz_demo' AND level = 'zona'").df()
merged = zones.merge(water, on="area_id")
frame = gpd.GeoDataFrame(merged, geometry=shapely.from_wkt(merged["geometry_wkt"]), crs="EPSG:4326")
ax = frame.plot(column="value", legend=True, missing_kwds={"color": "lightgrey", "hatch": "//"}, figsize=(6, 8))
ax.set_axis_off()

# %%
con.close()
