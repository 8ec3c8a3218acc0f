"""DuckDB's and Polars' side of bench/engines/run: the same two jobs verge does,
with verge's semantics written in each engine's own terms, as whole processes.

  peers.py historical duckdb|polars DATA OUT TTL_SECONDS
  peers.py materialize duckdb|polars DATA OUT START END      (epoch seconds)
  peers.py check VERGE_OUT PEER_OUT                          (historical outputs)

historical: per entity row, the stats row of the same driver with
t - ttl <= event_timestamp <= t and the greatest (event_timestamp, created),
a null created time lowest; every entity row once, in input order.
materialize: per driver, the row with the greatest (event_timestamp, created)
among start <= event_timestamp <= end, written as Parquet sorted by driver.
The bench data never holds complete ties (bench_data's docs), so the winner is
unique and all three engines must agree on every row.
"""

import sys


def duckdb_historical(data, out, ttl):
    import duckdb

    con = duckdb.connect()
    feats = [c for c in con.sql(f"DESCRIBE SELECT * FROM '{data}/stats.parquet'").fetchall()]
    names = [c[0] for c in feats if c[0] not in ("driver_id", "event_timestamp", "created")]
    cols = ", ".join(f"w.{n}" for n in names)
    con.sql(f"""
        COPY (
          WITH e AS (SELECT row_number() OVER () AS _row, * FROM '{data}/entities.parquet'),
          w AS (
            SELECT e._row, s.* FROM e JOIN '{data}/stats.parquet' s
              ON s.driver_id = e.driver_id
             AND s.event_timestamp <= e.event_timestamp
             AND s.event_timestamp >= e.event_timestamp - INTERVAL ({ttl}) SECOND
            QUALIFY row_number() OVER (PARTITION BY e._row
                      ORDER BY s.event_timestamp DESC, s.created DESC NULLS LAST) = 1)
          SELECT e.* EXCLUDE (_row), {cols} FROM e LEFT JOIN w ON w._row = e._row ORDER BY e._row
        ) TO '{out}' (FORMAT parquet)
    """)


def polars_historical(data, out, ttl):
    from datetime import timedelta

    import polars as pl

    ent = pl.read_parquet(f"{data}/entities.parquet").with_row_index("_row")
    st = pl.read_parquet(f"{data}/stats.parquet")
    # Sorted so that of equal event times the greatest created time is last,
    # which is the row a backward as-of join takes.
    st = st.sort(["event_timestamp", "created"], nulls_last=False).drop("created")
    joined = ent.sort("event_timestamp").join_asof(
        st, on="event_timestamp", by="driver_id", strategy="backward",
        tolerance=timedelta(seconds=ttl), check_sortedness=False,
    )
    joined.sort("_row").drop("_row").write_parquet(out)


def duckdb_materialize(data, out, start, end):
    import duckdb

    duckdb.sql(f"""
        COPY (
          SELECT * FROM '{data}/stats.parquet'
          WHERE event_timestamp BETWEEN to_timestamp({start}) AND to_timestamp({end})
          QUALIFY row_number() OVER (PARTITION BY driver_id
                    ORDER BY event_timestamp DESC, created DESC NULLS LAST) = 1
          ORDER BY driver_id
        ) TO '{out}' (FORMAT parquet)
    """)


def polars_materialize(data, out, start, end):
    from datetime import datetime, timezone

    import polars as pl

    lo = datetime.fromtimestamp(start, tz=timezone.utc)
    hi = datetime.fromtimestamp(end, tz=timezone.utc)
    st = pl.read_parquet(f"{data}/stats.parquet")
    st = st.filter(pl.col("event_timestamp").is_between(lo, hi))
    st = st.sort(["driver_id", "event_timestamp", "created"], nulls_last=False)
    st.group_by("driver_id", maintain_order=True).last().write_parquet(out)


def check(verge_out, peer_out):
    """Prints how many rows of PEER_OUT equal VERGE_OUT's, cell for cell (nulls equal)."""
    import pyarrow.parquet as pq

    a = pq.read_table(verge_out)
    b = pq.read_table(peer_out)
    feats = [n for n in a.column_names if n.startswith("f")]
    if a.num_rows != b.num_rows:
        print(f"0/{a.num_rows} (row counts differ: {a.num_rows} vs {b.num_rows})")
        return
    bad = 0
    cols_a = [a.column(n).to_pylist() for n in ["request_id"] + feats]
    cols_b = [b.column(n).to_pylist() for n in ["request_id"] + feats]
    for i in range(a.num_rows):
        if any(ca[i] != cb[i] for ca, cb in zip(cols_a, cols_b)):
            bad += 1
    print(f"{a.num_rows - bad}/{a.num_rows}")


def main(argv):
    job = argv[1]
    if job == "check":
        check(argv[2], argv[3])
        return
    engine, data, out = argv[2], argv[3], argv[4]
    if job == "historical":
        {"duckdb": duckdb_historical, "polars": polars_historical}[engine](data, out, int(argv[5]))
    elif job == "materialize":
        {"duckdb": duckdb_materialize, "polars": polars_materialize}[engine](
            data, out, int(argv[5]), int(argv[6]))
    else:
        sys.exit(f"peers.py: unknown job {job}")


if __name__ == "__main__":
    main(sys.argv)
