"""bienestar/views.py on a planted snapshot: the planners' views and change_basis, by hand."""

import duckdb
import pytest

from bienestar.views import create_views


@pytest.fixture()
def con(tmp_path):
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 's.duckdb'}' AS snapshot")
    con.execute("CREATE SCHEMA snapshot.marts")
    run = lambda sql: con.execute(sql.replace("marts.", "snapshot.marts."))  # noqa: E731
    run("CREATE TABLE marts.areas AS SELECT * FROM (VALUES ('c', 'Z1', 'zona', 0, 'Uno', 'D1', 10),"
        " ('c', 'Z2', 'zona', 0, 'Dos', 'D1', 20), ('c', 'D1', 'distrito', 1, 'Norte', NULL, 30))"
        " t(city, area_id, level, depth, name, parent_id, population)")
    run("ALTER TABLE marts.areas ADD COLUMN geometry_wkt VARCHAR")
    run("CREATE TABLE marts.area_population AS SELECT * FROM (VALUES ('c', 'Z1', '2024', 10), ('c', 'Z2', '2024', 20),"
        " ('c', 'D1', '2024', 30), ('c', 'Z1', '2012', NULL), ('c', 'Z2', '2012', 25), ('c', 'D1', '2012', 33))"
        " t(city, area_id, period, population)")
    # ten zones ranked 1..10 in quintiles of 2: Z1 rank 2 (quintile 1), band 1.4 .. 2.6 -> ranks 1..3 (q 1..2)
    rows = ", ".join(f"('c', 'wb', 'Z{r}', 'zona', '2024', 'wb', {100 - r}.0, {r}, {(r + 1) // 2}, 0)"
                     for r in range(1, 11))
    run(f"CREATE TABLE marts.index_scores AS SELECT * FROM (VALUES {rows}, "
        "('c', 'wb', 'Z1', 'zona', '2024', 'health', 55.0, 1, NULL, 0)) "
        "t(city, index_id, area_id, level, period, node_id, score, rank, quantile, suppressed_inputs)")
    run("CREATE TABLE marts.index_uncertainty AS SELECT * FROM (VALUES "
        "('c', 'wb', 'Z2', 'zona', '2024', 2, 2.0, 1.4, 2.6), ('c', 'wb', 'Z3', 'zona', '2024', 3, 3.0, 3.0, 4.0))"
        " t(city, index_id, area_id, level, period, nominal_rank, median_rank, p05_rank, p95_rank)")
    run("CREATE TABLE marts.index_weights AS SELECT * FROM (VALUES ('c', 'wb', '2024', 'wb', 'health', 1.0, 1.0))"
        " t(city, index_id, period, node_id, child_id, weight, scale_factor)")
    run("CREATE TABLE marts.indicator_catalogue AS SELECT * FROM (VALUES ('c', 'x', 'X', 'share'),"
        " ('c', 'y', 'Y', 'share')) t(city, indicator_id, name_en, unit)")
    run("CREATE TABLE marts.indicator_values AS SELECT * FROM (VALUES ('c', 'Z1', 'zona', 'x', '2024', 0.25),"
        " ('c', 'Z1', 'zona', 'y', '2024', 0.5)) t(city, area_id, level, indicator_id, period, value)")
    create_views(con)
    return con


def test_v_area_has_every_ancestor_as_columns(con):
    rows = con.execute("SELECT area_id, zona_id, distrito_id, distrito_name FROM snapshot.marts.v_area "
                       "ORDER BY area_id").fetchall()
    assert rows == [("D1", None, "D1", "Norte"), ("Z1", "Z1", "D1", "Norte"), ("Z2", "Z2", "D1", "Norte")]


def test_v_area_has_the_population_of_every_census_year_as_columns(con):
    """One column per year, oldest first, withheld (NULL) where area_population withholds it."""
    columns = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'snapshot' "
                                         "AND table_name = 'v_area' AND column_name LIKE 'population%'").fetchall()]
    assert columns == ["population", "population_2012", "population_2024"]
    rows = con.execute("SELECT area_id, population_2012, population_2024 FROM snapshot.marts.v_area "
                       "ORDER BY area_id").fetchall()
    assert rows == [("D1", 33, 30), ("Z1", None, 10), ("Z2", 25, 20)]


def test_v_index_bands_are_whole_ranks_and_say_when_the_quantile_is_uncertain(con):
    """10 zones in 5 quantiles: Z2 (rank 2, band 1.4..2.6 -> 1..3) spans quantiles 1 and 2; Z3 (3..4) stays in 2."""
    rows = dict((r[0], r[1:]) for r in con.execute(
        "SELECT area_id, rank_best, rank_worst, quantile_uncertain, score_health FROM snapshot.marts.v_index"
    ).fetchall())
    assert rows["Z2"][:3] == (1, 3, True) and rows["Z3"][:3] == (3, 4, False)
    assert rows["Z4"][:3] == (None, None, None)  # no band
    assert rows["Z1"][3] == 55.0 and rows["Z2"][3] is None


def test_v_indicator_wide_is_one_row_per_area_and_period(con):
    assert con.execute("SELECT area_id, x, y FROM snapshot.marts.v_indicator_wide").fetchall() == [("Z1", 0.25, 0.5)]


def test_no_change_tables_no_change_views_and_an_empty_basis(con):
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = 'snapshot'")
             .fetchall()}
    assert views == {"v_area", "v_index", "v_indicator_wide"}
    assert con.execute("SELECT count(*) FROM snapshot.marts.change_basis").fetchall() == [(0,)]


def test_change_basis_names_a_dimension_scored_in_one_period_only_and_changed_weights():
    from bienestar.views import change_basis

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.index_change AS SELECT 'c' AS city, 'wb' AS index_id, '2012' AS period_from, "
                "'2024' AS period_to")
    con.execute("CREATE TABLE marts.index_scores AS SELECT * FROM (VALUES ('c', 'wb', '2012', 'wb', 50.0),"
                " ('c', 'wb', '2012', 'env', NULL), ('c', 'wb', '2024', 'wb', 60.0), ('c', 'wb', '2024', 'env', 70.0))"
                " t(city, index_id, period, node_id, score)")
    con.execute("CREATE TABLE marts.index_weights AS SELECT * FROM (VALUES "
                "('c', 'wb', '2012', 'wb', 'env', 0.5, 'full'), ('c', 'wb', '2024', 'wb', 'env', 0.5, 'full'),"
                "('c', 'wb', '2012', 'wb', 'home', 0.5, 'full'), ('c', 'wb', '2024', 'wb', 'home', 0.5, 'full'),"
                "('c', 'wb', '2012', 'env', 'pm25', 1.0, 'full'), ('c', 'wb', '2024', 'env', 'pm25', 1.0, 'full'),"
                "('c', 'wb', '2012', 'home', 'rooms', 0.5, 'full'), ('c', 'wb', '2024', 'home', 'rooms', 0.5, 'full'),"
                "('c', 'wb', '2012', 'home', 'water', 0.5, 'full'), ('c', 'wb', '2024', 'home', 'water', 0.5, 'full'),"
                "('c', 'wb', '2024', 'wb', 'home', 1.0, 'change 2012-2024'),"
                "('c', 'wb', '2024', 'home', 'rooms', 1.0, 'change 2012-2024')"
                ") t(city, index_id, period, node_id, child_id, weight, basis)")
    [row] = change_basis(con).to_dict("records")
    assert not row["comparable"] and row["why"] == "scored in 2024 but not in 2012: env"
    assert row["basis"] == ("the index rebuilt on what both periods measure, with the same goalposts in both; "
                            "left out of both: nodes env; indicators pm25, water")
    con.execute("UPDATE marts.index_scores SET score = 40.0 WHERE node_id = 'env'")
    con.execute("UPDATE marts.index_weights SET weight = 0.6 WHERE period = '2024' AND child_id = 'env'")
    [row] = change_basis(con).to_dict("records")
    assert not row["comparable"] and row["why"] == "weights differ: wb -> env"
    con.execute("UPDATE marts.index_weights SET weight = 0.5 WHERE child_id = 'env'")
    [row] = change_basis(con).to_dict("records")
    assert row["comparable"] and row["why"] is None
    con.execute("DELETE FROM marts.index_weights WHERE basis <> 'full'")  # a change built before the basis
    assert change_basis(con)["basis"].tolist() == ["the difference of the two periods' own scores"]
