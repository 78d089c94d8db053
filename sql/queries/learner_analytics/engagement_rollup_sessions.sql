-- Engagement's session parts from the daily activity rollup (learner_daily_sessions; used only
-- when the rollup is exact for :t, :t is UTC midnight and the parts were cut with the config's
-- session gap: store.reads_for): the parts of the day bins inside the 8 trend weeks (:since, :t]
-- of chunks :i to :j of :n (column chunk: one scan serves several chunks, store.run_snapshot).
-- analytics/engagement.py stitches them into the sessions of the raw events.
select s.user_id, s.start_at, s.last_at, s.last_duration,
       mod(abs(hashtext(s.user_id)::bigint), :n) as chunk
from learner_daily_sessions s
where s.day >= (cast(:since as timestamptz) at time zone 'UTC')::date
  and s.day < (cast(:t as timestamptz) at time zone 'UTC')::date
  and mod(abs(hashtext(s.user_id)::bigint), :n) between :i and :j
