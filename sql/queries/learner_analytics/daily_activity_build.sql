-- First build of the learner daily activity rollup, exact for :t: every cell (user, course,
-- content type, UTC day whose bin is (day, day + 1]) of the events known at :t
-- (updated_at <= :t, whatever occurred_at) whose bin ends after :floor (the retention cutoff's
-- day), and the session parts of every (user, day) (learner_daily_sessions, cut with the gap
-- :gap: daily_sessions_parts.sql) and the item cells of every (user, content item, day) from
-- the day before :floor on (learner_daily_item_use, migration 0021), then the as-of := :t,
-- session_gap := :gap, item_use := true. Run after
-- daily_activity_clear.sql in the same transaction. The text keys are grouped (sorted) in the "C"
-- collation: byte order, the same groups as the database's collation (both deterministic) at a
-- fraction of the comparison cost.
with session_events as (
  select le.user_id, ((le.occurred_at at time zone 'UTC') - interval '1 microsecond')::date as day,
         le.occurred_at, coalesce(nullif(le.duration_seconds, 'NaN'), 0) as dur
  from learning_events le
  where le.updated_at <= :t
    and le.occurred_at > (cast(:floor as date)::timestamp at time zone 'UTC')
), parts_written as (
  insert into learner_daily_sessions (user_id, day, start_at, last_at, last_duration, events)
  {session_parts}
  returning 1
), fresh as (
  insert into learner_daily_activity (user_id, course_id, content_type, day, events,
                                      duration_seconds, progress_delta, progress_events,
                                      first_at, last_at)
  select le.user_id collate "C", coalesce(le.course_id, '') collate "C",
         coalesce(le.content_type, '') collate "C",
         ((le.occurred_at at time zone 'UTC') - interval '1 microsecond')::date as day,
         count(*), sum(le.duration_seconds), sum(le.progress_delta), count(le.progress_delta),
         min(le.occurred_at), max(le.occurred_at)
  from learning_events le
  where le.updated_at <= :t
    and le.occurred_at > (cast(:floor as date)::timestamp at time zone 'UTC')
  group by 1, 2, 3, 4
  returning events
), items_written as (
  insert into learner_daily_item_use (user_id, content_id, day, first_at, last_at,
                                      first_completed_at, last_completed_at)
  select le.user_id collate "C", le.content_id collate "C",
         ((le.occurred_at at time zone 'UTC') - interval '1 microsecond')::date as day,
         min(le.occurred_at), max(le.occurred_at),
         min(le.occurred_at) filter (where le.event_type = 'completed'),
         max(le.occurred_at) filter (where le.event_type = 'completed')
  from learning_events le
  where le.updated_at <= :t and le.content_id is not null
    and le.occurred_at > ((cast(:floor as date) - 1)::timestamp at time zone 'UTC')
  group by 1, 2, 3
  returning 1
), mark as (
  insert into learner_daily_activity_asof as w (one, asof, session_gap, item_use, updated_at)
  values (true, :t, cast(:gap as interval), true, now())
  on conflict (one) do update set asof = excluded.asof, session_gap = excluded.session_gap,
                                  item_use = true, updated_at = now()
  returning 1
)
select (select count(*) from fresh) as cells_written, 0 as cells_removed,
       (select coalesce(sum(events), 0) from fresh) as events_read,
       0 as cells_recomputed, (select count(*) from parts_written) as parts_written,
       0 as parts_removed, (select count(*) from items_written) as items_written,
       0 as items_removed, (select count(*) from mark) as marked
