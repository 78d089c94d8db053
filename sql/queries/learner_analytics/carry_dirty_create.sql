-- Carry-forward (analytics/store.py): the learners recomputed by this snapshot (dropped at commit).
create temp table carry_dirty (user_id text primary key) on commit drop
