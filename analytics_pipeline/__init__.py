"""Learning-analytics pipeline.

Layers (one folder each):
- ``sandbox``      a contract-only LMS server for local runs and tests;
- ``sources``      API client, contract validation and bulk loading (staging);
- ``analytics``    pure pandas learner analytics (no Dagster, no database);
- ``gamification`` pure points/levels/streaks/achievements;
- ``predictive``   pure drop-off model, forecast, recommendations;
- ``governance``   retention, erasure and privacy rules;
- ``warehouse``    PostgreSQL: embedded server, engine, migrations, bulk writes;
- ``assets``       thin Dagster assets over the layers above.
"""
