"""The census stages a chunk at a time (issue 14, out of core): staging a census year and counting it per area give
the same rows, in the same order, whatever BIENESTAR_CHUNK_ROWS is; the chunking rules at, below and above their
limits (transforms/staging.py, indicators/build.py, bienestar/warehouse.py)."""

import duckdb
import pandas as pd
import pytest

from bienestar import settings, warehouse
from indicators.build import area_groups


@pytest.mark.parametrize(("limit", "groups"), [
    (5, [["A", "B"], ["C"], ["D"]]),     # A+B = 5: at the limit, one group; C would make 8
    (4, [["A"], ["B"], ["C"], ["D"]]),   # A+B = 5 > 4: split
    (6, [["A", "B"], ["C", "D"]]),       # C+D = 6 at the limit
    (100, [["A", "B", "C", "D"]]),
])
def test_areas_are_grouped_up_to_the_limit_and_never_split(limit, groups):
    sizes = {"A": 2, "B": 3, "C": 3, "D": 3}
    assert area_groups(sizes, ["A", "B", "C", "D"], limit) == groups


def test_an_area_larger_than_the_limit_is_a_group_of_its_own():
    assert area_groups({"A": 1, "B": 10, "C": 1}, ["A", "B", "C"], 5) == [["A"], ["B"], ["C"]]


def test_an_area_without_persons_weighs_nothing_in_a_group():
    # 2 + 0 + 2 = 4: exactly the limit, one group
    assert area_groups({"A": 2, "B": 2}, ["A", "Z9", "B"], 4) == [["A", "Z9", "B"]]


def test_areas_without_persons_and_staged_areas_outside_the_list_are_kept():
    # Z9 has no persons (still listed, so its zero counts are written); X1 is staged but not a smallest area of
    # the boundaries: it comes last, so nothing counted is lost
    assert area_groups({"Z1": 2, "X1": 1}, ["Z1", "Z9"], 10) == [["Z1", "Z9", "X1"]]
    assert area_groups({}, [], 10) == [[]]


@pytest.mark.parametrize("text", ["0", "-5", "many", "1.5"])
def test_chunk_rows_must_be_a_positive_whole_number(monkeypatch, text):
    monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", text)
    with pytest.raises(ValueError, match="BIENESTAR_CHUNK_ROWS"):
        settings.chunk_rows()


def test_chunk_rows_default_and_setting(monkeypatch):
    monkeypatch.delenv("BIENESTAR_CHUNK_ROWS", raising=False)
    assert settings.chunk_rows() == 1_000_000
    monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", "1")
    assert settings.chunk_rows() == 1


def test_the_working_database_has_the_memory_limit_of_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_DUCKDB_MEMORY", "300MB")
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit.replace(" ", "") in ("286.1MiB", "300.0MB")  # DuckDB prints it in MiB
    monkeypatch.setenv("BIENESTAR_DUCKDB_MEMORY", "lots")
    with pytest.raises(ValueError, match="BIENESTAR_DUCKDB_MEMORY='lots'"):
        warehouse.connect(tmp_path / "w.duckdb")


def test_chunks_replace_a_partition_in_the_order_of_one_sorted_frame():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    old = pd.DataFrame({"id": ["k"], "v": [0]})
    warehouse.replace_partition(con, "s.t", old, {"city": "a"})
    warehouse.replace_partition(con, "s.t", old, {"city": "b"})
    frames = [pd.DataFrame({"id": ["d", "b"], "v": [4, 2]}), pd.DataFrame({"id": ["c", "a"], "v": [3, 1]})]
    assert warehouse.replace_partition_in_chunks(con, "s.t", iter(frames), {"city": "a"}, order_by="id") == 4
    rows = con.execute("SELECT city, id, v FROM s.t").fetchall()
    assert rows == [("b", "k", 0), ("a", "a", 1), ("a", "b", 2), ("a", "c", 3), ("a", "d", 4)]
    # no frame at all: the partition is emptied, the others stay
    assert warehouse.replace_partition_in_chunks(con, "s.t", iter([]), {"city": "a"}, order_by="id") == 0
    assert con.execute("SELECT city, id FROM s.t").fetchall() == [("b", "k")]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_chunks'").fetchall()[0][0] == 0


def test_a_failing_chunk_leaves_the_partition_as_it_was():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    warehouse.replace_partition(con, "s.t", pd.DataFrame({"id": ["k"]}), {"city": "a"})

    def frames():
        yield pd.DataFrame({"id": ["x"]})
        raise RuntimeError("a bad chunk")

    with pytest.raises(RuntimeError, match="a bad chunk"):
        warehouse.replace_partition_in_chunks(con, "s.t", frames(), {"city": "a"}, order_by="id")
    assert con.execute("SELECT city, id FROM s.t").fetchall() == [("a", "k")]


def test_copying_a_partition_stays_in_sql_and_adds_new_columns():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA kept")
    con.execute("CREATE TABLE raw.t AS SELECT * FROM (VALUES ('a', 1, 'x'), ('a', 2, 'y'), ('b', 3, 'z')) "
                "v(city, n, extra)")
    con.execute("CREATE TABLE kept.t AS SELECT 'a' AS city, 9 AS n")
    assert warehouse.copy_partition(con, "raw.t", "kept.t", {"city": "a"}) == 2
    assert con.execute("SELECT city, n, extra FROM kept.t ORDER BY n").fetchall() == [("a", 1, "x"), ("a", 2, "y")]
    assert warehouse.copy_partition(con, "raw.t", "kept.new", {"city": "b"}) == 1
    assert con.execute("SELECT * FROM kept.new").fetchall() == [("b", 3, "z")]


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """The sample city at scale 0.05 (its planted faults: duplicates, bad values, unplaced households) landed."""
    from bienestar.demo import prepare_demo
    from cities import load_city
    from sources.deliveries import land_census

    home = tmp_path_factory.mktemp("chunks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BIENESTAR_HOME", str(home))
        city = load_city("la_paz_demo")
        prepare_demo(city, scale=0.05)
        land_census(city, city.vintage)
    return home, city


def _staged(home, city, monkeypatch, chunk_rows: str) -> dict[str, list]:
    from transforms.staging import stage_census

    monkeypatch.setenv("BIENESTAR_HOME", str(home))
    monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", chunk_rows)
    counts = stage_census(city, city.vintage)
    with warehouse.connect(city, read_only=True) as con:
        tables = {t: con.execute(f"SELECT * FROM {t} WHERE city = ?", [city.name]).fetchall()
                  for t in ("staging.households", "staging.persons")}
        tables["quarantine"] = con.execute("SELECT * FROM audit.quarantine WHERE city = ? AND stage = 'staging'",
                                           [city.name]).fetchall()
    return {"counts": counts, **tables}


def test_staging_in_chunks_gives_the_rows_and_the_order_of_one_pass(landed, monkeypatch):
    home, city = landed
    whole = _staged(home, city, monkeypatch, "100000000")
    chunked = _staged(home, city, monkeypatch, "300")
    assert whole["counts"]["households"] > 3 * 300 and whole["counts"]["persons"] > 10 * 300  # chunks are real
    reasons = " ".join(str(row) for row in whole["quarantine"])
    assert "duplicate: exact copy" in reasons and "missing value" in reasons  # the planted faults are in play
    assert chunked == whole


def poverty_configs() -> dict:
    from indicators.alkire_foster import load_af_config
    from indicators.nbi import load_nbi_config

    return {"nbi": load_nbi_config(), "af": load_af_config()}


def smallest_areas(con, city) -> list[str]:
    return [r[0] for r in con.execute("SELECT area_id FROM staging.areas WHERE city = ? AND depth = 0 ORDER BY "
                                      "area_id", [city.name]).fetchall()]


def test_counting_in_groups_of_areas_gives_the_counts_of_one_pass(landed, monkeypatch):
    from indicators.build import census_parts

    home, city = landed
    _staged(home, city, monkeypatch, "100000000")
    configs = poverty_configs()
    with warehouse.connect(city, read_only=True) as con:
        base_ids = smallest_areas(con, city)
        whole = census_parts(con, city, city.vintage, base_ids, configs)
        monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", "300")
        sizes = dict(con.execute("SELECT area_id, count(*) FROM staging.persons GROUP BY area_id").fetchall())
        assert len(area_groups(sizes, base_ids, 300)) > 5
        grouped = census_parts(con, city, city.vintage, base_ids, configs)
    for one, other in zip(whole[0], grouped[0], strict=True):
        pd.testing.assert_frame_equal(one, other)
    pd.testing.assert_frame_equal(whole[1], grouped[1])
    pd.testing.assert_frame_equal(whole[2], grouped[2])
    assert whole[1]["residents"].sum() == sum(sizes.values())


def test_two_groups_of_areas_count_every_person_once(landed, monkeypatch, caplog):
    """Exactly two groups (the smallest split): each group reads only its areas, both are kept, the log says so."""
    from indicators.build import census_parts

    home, city = landed
    _staged(home, city, monkeypatch, "100000000")
    configs = poverty_configs()
    with warehouse.connect(city, read_only=True) as con:
        base_ids = smallest_areas(con, city)
        with caplog.at_level("INFO", logger="indicators.build"):
            whole = census_parts(con, city, city.vintage, base_ids, configs)
        assert not [m for m in caplog.messages if "areas" in m]  # one group: read whole, nothing to say
        total = con.execute("SELECT count(*) FROM staging.persons").fetchall()[0][0]
        monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", str(total // 2 + 50))
        sizes = dict(con.execute("SELECT area_id, count(*) FROM staging.persons GROUP BY area_id").fetchall())
        assert len(area_groups(sizes, base_ids, total // 2 + 50)) == 2
        with caplog.at_level("INFO", logger="indicators.build"):
            grouped = census_parts(con, city, city.vintage, base_ids, configs)
    assert [m.split(": ", 1)[1].split(" (")[0] for m in caplog.messages if "areas" in m] == ["areas 1 of 2",
                                                                                           "areas 2 of 2"]
    assert grouped[1]["residents"].sum() == total
    for one, other in zip(whole[0], grouped[0], strict=True):
        pd.testing.assert_frame_equal(one, other)


def test_keys_and_lineage_are_added_in_sql_in_the_order_pandas_gave():
    """Missing keys first (as each `frame.insert(0, ...)` put them), the frame's columns, the constants last; a key
    that is also a constant is written once, at the end; the caller's frame is left as it was."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    frame = pd.DataFrame({"_row": [1, 2], "id": ["a", "b"]})
    keys = {"city": "c", "_source": "census/persons", "year": 2024}
    lineage = {"_source": "census/persons", "_sha256": "ab" * 32, "_undeclared_columns": None}
    assert warehouse.replace_partition(con, "raw.t", frame, keys, constants=lineage) == 2
    assert list(frame.columns) == ["_row", "id"]
    described = con.execute("DESCRIBE raw.t").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        ("year", "BIGINT"), ("city", "VARCHAR"), ("_row", "BIGINT"), ("id", "VARCHAR"), ("_source", "VARCHAR"),
        ("_sha256", "VARCHAR"), ("_undeclared_columns", "VARCHAR")]
    assert con.execute("SELECT * FROM raw.t ORDER BY _row").fetchall() == [
        (2024, "c", 1, "a", "census/persons", "ab" * 32, None), (2024, "c", 2, "b", "census/persons", "ab" * 32, None)]
    # a re-delivery of the partition replaces it, whatever its lineage
    warehouse.replace_partition(con, "raw.t", frame.head(1), keys, constants={**lineage, "_sha256": "cd" * 32})
    assert con.execute("SELECT id, _sha256 FROM raw.t").fetchall() == [("a", "cd" * 32)]


def _landed(home, city, monkeypatch, chunk_rows: str, whole: bool = False) -> dict[str, list]:
    import sources.deliveries
    from sources.deliveries import land_census
    from sources.files import NotStreamable

    def refuse(*args, **kwargs):
        raise NotStreamable("read it whole")

    monkeypatch.setenv("BIENESTAR_HOME", str(home))
    monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", chunk_rows)
    with pytest.MonkeyPatch.context() as patch:
        if whole:
            patch.setattr(sources.deliveries, "stream_delivery", refuse)
        counts = land_census(city, city.vintage)
    with warehouse.connect(city, read_only=True) as con:
        tables = {t: (con.execute(f"DESCRIBE {t}").fetchall(), con.execute(f"SELECT * FROM {t} ORDER BY _row")
                      .fetchall()) for t in ("raw.census_households", "raw.census_persons")}
    return {"counts": counts, **tables}


def test_landing_in_chunks_gives_the_raw_rows_of_the_whole_file(landed, monkeypatch):
    """The persons file streamed in 300-row chunks, in one chunk, and read whole (the path a file Arrow cannot
    stream takes): the same columns, types, rows and pseudonyms; coordinates placed chunk by chunk."""
    home, city = landed
    whole = _landed(home, city, monkeypatch, "300", whole=True)
    assert whole["counts"]["persons"] > 10 * 300
    assert _landed(home, city, monkeypatch, "300") == whole
    assert _landed(home, city, monkeypatch, "100000000") == whole
    households = dict(zip([c[0] for c in whole["raw.census_households"][0]],
                          zip(*whole["raw.census_households"][1], strict=True), strict=True))
    assert "lon" not in households and {"placed", "outside", "missing"} >= set(households["location"])


def test_a_file_arrow_reads_otherwise_is_read_whole(tmp_path):
    from sources.files import NotStreamable, stream_delivery

    cases = {"latin.csv": "id,name\n1,Se\xf1ora\n".encode("latin-1"),  # not UTF-8
             "short.csv": b"id,name\n1,a\n2\n",                         # a short line: pandas fills it
             "blank.csv": b"id,,name\n1,2,3\n"}                         # a blank header name
    with pytest.raises(NotStreamable):  # missing: the whole-file path says "delivery not found", whatever the name
        stream_delivery(tmp_path / "gone.weird", relative="gone.weird", source="s", loaded_for="2024",
                        required=["id"], chunk_rows=10)
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(NotStreamable):
            chunks, _ = stream_delivery(path, relative=name, source="s", loaded_for="2024", required=["id"],
                                        chunk_rows=10)
            list(chunks)


def test_frames_in_order_replace_a_partition_in_one_transaction():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    warehouse.replace_partition(con, "raw.t", pd.DataFrame({"_row": [1], "v": ["old"]}), {"city": "a"})
    warehouse.replace_partition(con, "raw.t", pd.DataFrame({"_row": [1], "v": ["other"]}), {"city": "b"})
    frames = [pd.DataFrame({"_row": [1, 2], "v": ["x", "y"]}), pd.DataFrame({"_row": [], "v": []}),
              pd.DataFrame({"_row": [3], "v": ["z"]})]
    assert warehouse.replace_partition_in_order(con, "raw.t", iter(frames), {"city": "a"},
                                                constants={"_sha256": "ab"}) == 3
    assert con.execute("SELECT city, _row, v, _sha256 FROM raw.t WHERE city = 'a'").fetchall() == [
        ("a", 1, "x", "ab"), ("a", 2, "y", "ab"), ("a", 3, "z", "ab")]

    def failing():
        yield pd.DataFrame({"_row": [1], "v": ["new"]})
        raise RuntimeError("row 2: a cell too long")

    with pytest.raises(RuntimeError, match="a cell too long"):
        warehouse.replace_partition_in_order(con, "raw.t", failing(), {"city": "a"})
    assert [r[0] for r in con.execute("SELECT v FROM raw.t WHERE city = 'a' ORDER BY _row").fetchall()] == \
        ["x", "y", "z"]
    assert warehouse.replace_partition_in_order(con, "raw.t", iter([]), {"city": "a"}) == 0
    assert con.execute("SELECT city, v FROM raw.t").fetchall() == [("b", "other")]


@pytest.mark.parametrize(("chunk_rows", "logged"), [
    ("100000000", []),                                  # the whole year in one chunk: nothing to say
    ("2000", ["chunk 1 of 2", "chunk 2 of 2"]),          # ~3,800 persons: two chunks
    ("1000", [f"chunk {n} of 4" for n in range(1, 5)]),  # ceil(3,8xx / 1,000) = 4
])
def test_a_year_is_read_in_as_many_chunks_as_its_rows_need(landed, monkeypatch, caplog, chunk_rows, logged):
    from transforms.staging import raw_chunks

    home, city = landed
    monkeypatch.setenv("BIENESTAR_HOME", str(home))
    monkeypatch.setenv("BIENESTAR_CHUNK_ROWS", chunk_rows)
    with warehouse.connect(city, read_only=True) as con, caplog.at_level("INFO", logger="transforms.staging"):
        rows = con.execute("SELECT count(*) FROM raw.census_persons WHERE _loaded_for = ?",
                           [city.vintage]).fetchall()[0][0]
        assert 3000 < rows < 4000
        chunks = list(raw_chunks(con, "raw.census_persons", "person_id", city, city.vintage))
    assert [m.split(": ", 1)[1] for m in caplog.messages if "chunk" in m] == logged
    assert len(chunks) == max(1, len(logged)) and sum(len(c) for c in chunks) == rows
    assert all(c["_row"].is_monotonic_increasing for c in chunks)  # each chunk in delivery order


def test_quarantine_entries_are_listed_in_delivery_order():
    from transforms.staging import _delivery_order

    entries = [{"delivery": "b.csv", "row": 1, "field": "a", "reason": "r"},
               {"delivery": "a.csv", "row": 10, "field": "a", "reason": "r"},
               {"delivery": "a.csv", "row": 9, "field": "z", "reason": "r"},
               {"delivery": "a.csv", "row": 1, "field": "a", "reason": "r"},
               {"delivery": "a.csv", "row": None, "field": "z", "reason": "r"}]  # a file-level entry: first
    ordered = sorted(entries, key=_delivery_order)
    assert [(e["delivery"], e["row"]) for e in ordered] == [("a.csv", None), ("a.csv", 1), ("a.csv", 9),
                                                            ("a.csv", 10), ("b.csv", 1)]


@pytest.mark.parametrize(("limit", "refused"), [(7, True), (8, False), (9, False)])
def test_the_row_limit_counts_every_chunk_of_a_streamed_file(tmp_path, monkeypatch, limit, refused):
    """8 rows in chunks of 3: refused only above the limit, though no single chunk comes near it."""
    import sources.files
    from sources.files import DeliveryError, stream_delivery

    monkeypatch.setattr(sources.files, "MAX_ROWS", limit)
    monkeypatch.setattr(sources.files, "STREAM_BLOCK_BYTES", 16)  # a few rows per Arrow block
    path = tmp_path / "d.csv"
    path.write_text("id,v\n" + "".join(f"{i},x\n" for i in range(1, 9)))
    chunks, _ = stream_delivery(path, relative="d.csv", source="s", loaded_for="2024", required=["id"],
                                chunk_rows=3)
    if refused:
        with pytest.raises(DeliveryError, match="more than the 7 rows"):
            list(chunks)
    else:
        frames = list(chunks)
        assert len(frames) > 1 and [r for f in frames for r in f["_row"]] == list(range(1, 9))


def test_a_cell_too_long_in_a_later_chunk_is_named_by_its_row_in_the_file(tmp_path, monkeypatch):
    import sources.files
    from sources.files import DeliveryError, stream_delivery

    monkeypatch.setattr(sources.files, "MAX_CELL_CHARS", 5)
    monkeypatch.setattr(sources.files, "STREAM_BLOCK_BYTES", 16)
    path = tmp_path / "d.csv"
    path.write_text("id,v\n" + "".join(f"{i},{'x' * (6 if i == 7 else 1)}\n" for i in range(1, 9)))
    chunks, _ = stream_delivery(path, relative="d.csv", source="s", loaded_for="2024", required=["id"],
                                chunk_rows=3)
    with pytest.raises(DeliveryError, match="row 7, field v: 6 characters"):
        list(chunks)
