-- Fold the activity rows older than :through (= T - the activity-log retention, the cutoff
-- before which the nightly's retention deletes them) into learner_activity_summary, once each:
-- only rows in [watermark, :through), then the watermark (learner_activity_summary_through)
-- moves to :through. A re-run or an older T (backfill) folds
-- nothing; LEAST / GREATEST ignore NULLs, so a learner's first / last only ever widen.
with bounds as (
  select coalesce((select through from learner_activity_summary_through), '-infinity'::timestamptz) as lo,
         cast(:through as timestamptz) as hi
), ev as (
  select le.user_id, min(le.occurred_at) as first_at, max(le.occurred_at) as last_at, count(*) as n
  from learning_events le cross join bounds b
  where le.occurred_at >= b.lo and le.occurred_at < b.hi
  group by le.user_id
), res as (
  select ar.user_id, min(ar.submitted_at) as first_at, max(ar.submitted_at) as last_at, count(*) as n
  from assessment_results ar cross join bounds b
  where ar.submitted_at >= b.lo and ar.submitted_at < b.hi
  group by ar.user_id
), merged as (
  select user_id, ev.first_at as first_event_at, ev.last_at as last_event_at,
         coalesce(ev.n, 0) as events, res.first_at as first_result_at, res.last_at as last_result_at,
         coalesce(res.n, 0) as results
  from ev full join res using (user_id)
), upsert as (
  insert into learner_activity_summary as s (user_id, first_event_at, last_event_at, events_retired,
                                             first_result_at, last_result_at, results_retired, updated_at)
  select user_id, first_event_at, last_event_at, events, first_result_at, last_result_at, results, now()
  from merged
  on conflict (user_id) do update set
    first_event_at = least(s.first_event_at, excluded.first_event_at),
    last_event_at = greatest(s.last_event_at, excluded.last_event_at),
    events_retired = s.events_retired + excluded.events_retired,
    first_result_at = least(s.first_result_at, excluded.first_result_at),
    last_result_at = greatest(s.last_result_at, excluded.last_result_at),
    results_retired = s.results_retired + excluded.results_retired,
    updated_at = now()
  returning 1
), mark as (
  insert into learner_activity_summary_through as w (one, through, updated_at)
  select true, b.hi, now() from bounds b where b.hi > b.lo
  on conflict (one) do update set through = excluded.through, updated_at = now()
  returning 1
)
select (select count(*) from upsert) as learners,
       (select coalesce(sum(events), 0) from merged) as events_folded,
       (select coalesce(sum(results), 0) from merged) as results_folded,
       (select count(*) from mark) > 0 as advanced,
       (select greatest(lo, hi) from bounds) as through
