-- Carry-forward (analytics/store.py): a chunk query (the query: one of this folder's reads) limited
-- to the learners of the temp table carry_dirty (the learners recomputed).
select q.* from ({query}) q where q.user_id in (select c.user_id from carry_dirty c)
