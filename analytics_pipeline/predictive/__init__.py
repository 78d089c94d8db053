"""predictive layer: pure drop-off model, completion forecast, recommendations, cache rows.

No Dagster, no database, no I/O: pandas frames in, pandas frames out, as of an instant T.
See ``docs/predictive.md``.
"""
from .cache_rows import CacheConfig, opted_out_users, to_cache_rows
from .drop_off import DropOffConfig, predict_drop_off
from .features import FeatureConfig, build_features, build_labels
from .forecast import ForecastConfig, forecast_completion
from .recommendations import RecommendationConfig, recommend_next

__all__ = [
    "CacheConfig", "DropOffConfig", "FeatureConfig", "ForecastConfig", "RecommendationConfig",
    "build_features", "build_labels", "forecast_completion", "opted_out_users",
    "predict_drop_off", "recommend_next", "to_cache_rows",
]
