-- Content-effectiveness evidence and use from the rollup's item cells (learner_daily_item_use,
-- exact for :t: store.effect_reads_for), chunks :i to :j of :n: the same question-answering
-- events as effect_events.sql reads from the raw table, but at most four per (learner, item,
-- day): the first and last event and the first and last completion of the cell (migration
-- 0021 says why they answer every window of content effectiveness exactly). Each is a real
-- event's instant, so the retention bound of the raw read (occurred in [:kept, :t]) applies to
-- them as to the raw events; the cell of the day before the cutoff's day holds at most the
-- events at exactly :kept. An instant already carried by another row of the cell is not
-- repeated (the first event when it is the first completion, ...; "is not distinct from": a
-- cell without completions has NULL there).
select d.user_id, d.content_id, v.event_type, v.occurred_at,
       mod(abs(hashtext(d.user_id)::bigint), :n) as chunk
from learner_daily_item_use d
cross join lateral (values (1, 'progressed', d.first_at), (2, 'progressed', d.last_at),
                           (3, 'completed', d.first_completed_at),
                           (4, 'completed', d.last_completed_at)) as v(k, event_type, occurred_at)
where d.day >= ((cast(:kept as timestamptz) at time zone 'UTC') - interval '1 microsecond')::date
  and v.occurred_at >= :kept and v.occurred_at <= :t
  and not (v.k = 1 and v.occurred_at is not distinct from d.first_completed_at)
  and not (v.k = 2 and (v.occurred_at = d.first_at
                        or v.occurred_at is not distinct from d.last_completed_at))
  and not (v.k = 4 and v.occurred_at is not distinct from d.first_completed_at)
  and mod(abs(hashtext(d.user_id)::bigint), :n) between :i and :j
