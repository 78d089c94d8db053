-- Content-effectiveness evidence and use from the rollup's item cells (learner_daily_item_use,
-- exact for :t: store.effect_reads_for), chunks :i to :j of :n: per (learner, item, day) the
-- first and last event and the first and last completion (migration 0021 says why they answer
-- every window of content effectiveness exactly); content_effectiveness.events_from_item_cells
-- turns them into the events the raw read (effect_events.sql) would give for those questions.
-- Each instant is a real event's, so the raw read's retention bound (occurred in [:kept, :t])
-- applies to them as to the raw events: the cell of the day before the cutoff's day holds at
-- most the events at exactly :kept, and an instant before :kept reads as NULL. Cells of days
-- after T's (events ingested before T that occur after it) are not read.
select d.user_id, d.content_id,
       case when d.first_at >= :kept then d.first_at end as first_at,
       d.last_at,
       case when d.first_completed_at >= :kept then d.first_completed_at end as first_completed_at,
       case when d.last_completed_at >= :kept then d.last_completed_at end as last_completed_at,
       mod(abs(hashtext(d.user_id)::bigint), :n) as chunk
from learner_daily_item_use d
where d.day >= ((cast(:kept as timestamptz) at time zone 'UTC') - interval '1 microsecond')::date
  and d.day <= ((cast(:t as timestamptz) at time zone 'UTC') - interval '1 microsecond')::date
  and d.last_at >= :kept
  and mod(abs(hashtext(d.user_id)::bigint), :n) between :i and :j
