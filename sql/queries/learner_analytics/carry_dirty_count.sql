-- Carry-forward (analytics/store.py): the number of learners recomputed.
select count(*) from carry_dirty
