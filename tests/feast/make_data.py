"""Writes the Parquet sources of the Feast test repository (tests/feast/repo/data/).

Seeded, so the files and hence Feast's reference answers are the same on every run.
Each entity has several rows at different event times: the online answer must be the
latest one, which is what a point-in-time-correct store has to get right. A few
entities are absent from one source on purpose, so lookups of missing keys are tested.

Run with the Python of a Feast venv (it has pyarrow):
    "$(scripts/feast-venv 0.60.0)" tests/feast/make_data.py
"""

import datetime as dt
import pathlib
import random

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20260101
OUT = pathlib.Path(__file__).resolve().parent / "repo" / "data"
# Fixed instants, not "now": the data and the answers must not depend on the day.
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TIERS = ["bronze", "silver", "gold"]


def drivers(rng):
    """driver_id 1001..1020 (int64 key), three rows each, hourly apart."""
    rows = {k: [] for k in ["driver_id", "event_timestamp", "created", "conv_rate", "acc_rate", "avg_daily_trips"]}
    for driver_id in range(1001, 1021):
        for hour in range(3):
            ts = BASE + dt.timedelta(hours=hour, minutes=driver_id % 7)
            rows["driver_id"].append(driver_id)
            rows["event_timestamp"].append(ts)
            rows["created"].append(ts + dt.timedelta(seconds=30))
            rows["conv_rate"].append(round(rng.random(), 6))
            rows["acc_rate"].append(round(rng.random(), 6))
            rows["avg_daily_trips"].append(rng.randint(0, 1000))
    schema = pa.schema([
        ("driver_id", pa.int64()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")),
        ("conv_rate", pa.float32()),
        ("acc_rate", pa.float32()),
        ("avg_daily_trips", pa.int64()),
    ])
    return pa.Table.from_pydict(rows, schema=schema)


def customers(rng):
    """customer_id "c001".."c020" (string key); c018..c020 have no rows (missing keys)."""
    rows = {k: [] for k in ["customer_id", "event_timestamp", "created", "lifetime_value", "tier"]}
    for n in range(1, 18):
        for day in range(2):
            ts = BASE + dt.timedelta(days=day, minutes=n)
            rows["customer_id"].append(f"c{n:03d}")
            rows["event_timestamp"].append(ts)
            rows["created"].append(ts + dt.timedelta(seconds=30))
            rows["lifetime_value"].append(round(rng.uniform(0, 5000), 2))
            rows["tier"].append(rng.choice(TIERS))
    schema = pa.schema([
        ("customer_id", pa.string()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")),
        ("lifetime_value", pa.float64()),
        ("tier", pa.string()),
    ])
    return pa.Table.from_pydict(rows, schema=schema)


def main():
    rng = random.Random(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    pq.write_table(drivers(rng), OUT / "driver_stats.parquet")
    pq.write_table(customers(rng), OUT / "customer_profile.parquet")
    print(f"wrote {OUT}/driver_stats.parquet and customer_profile.parquet")


if __name__ == "__main__":
    main()
