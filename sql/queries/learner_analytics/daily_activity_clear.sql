-- Before a first build (the rollup has no as-of): nothing left of an earlier state.
with rows as (delete from learner_daily_activity returning 1),
     marks as (delete from learning_events_rollup_dirty returning 1)
select (select count(*) from rows) as rows_cleared, (select count(*) from marks) as marks_cleared
