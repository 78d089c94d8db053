-- Before a first build (the rollup has no as-of, or its session parts were cut with another gap):
-- nothing left of an earlier state. TRUNCATE, not DELETE: a rebuild over a populated rollup
-- (5.1M rows at L) spent most of its 913 s deleting and then inserting around the dead rows.
-- Readers wait anyway: they lock the as-of row that the maintenance holds.
truncate learner_daily_activity, learner_daily_sessions, learner_daily_item_use,
         learning_events_rollup_dirty
