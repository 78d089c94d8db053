-- Carry-forward (analytics/store.py): fill carry_dirty from the union of carry_dirty_*.sql (the query).
insert into carry_dirty (user_id) select distinct d.user_id from ({query}) d
