"""Feature definitions of verge's Feast test repository.

Uses only API that Feast 0.60 and the latest release both document: Entity with
join_keys and value_type, FileSource, FeatureView with ttl and schema, RequestSource,
@on_demand_feature_view (pandas mode) and FeatureService.
"""

from datetime import timedelta

import pandas as pd

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

driver_source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)
customer_source = FileSource(
    name="customer_profile_source",
    path="data/customer_profile.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

# ttl is long so that `feast materialize` over the fixed 2026-01 data keeps every row.
driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    online=True,
    source=driver_source,
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="lifetime_value", dtype=Float64),
        Field(name="tier", dtype=String),
    ],
    online=True,
    source=customer_source,
)

# A request field: supplied by the caller inside entity_rows, not stored.
trip_request = RequestSource(
    name="trip_request",
    schema=[Field(name="val_to_add", dtype=Int64)],
)


@on_demand_feature_view(
    sources=[driver_hourly_stats, trip_request],
    schema=[
        Field(name="conv_rate_plus_val", dtype=Float64),
        Field(name="trips_plus_val", dtype=Int64),
    ],
    mode="pandas",
)
def transformed_conv_rate(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["conv_rate_plus_val"] = inputs["conv_rate"].astype("float64") + inputs["val_to_add"]
    out["trips_plus_val"] = inputs["avg_daily_trips"] + inputs["val_to_add"]
    return out


driver_activity = FeatureService(
    name="driver_activity",
    features=[
        driver_hourly_stats[["conv_rate", "avg_daily_trips"]],
        customer_profile,
    ],
)
