-- Before process_erasure_requests(), in the same transaction: lock the users rows of every pending
-- request FOR UPDATE (in id order). A transaction that inserted a row for such a learner and has
-- not committed (a snapshot step writing beside the erasure) holds FOR KEY SHARE on the users row:
-- the erasure now waits for it here, then deletes its committed rows with the learner's others,
-- instead of missing them and failing on the foreign key when it deletes the users row (seen in the
-- L benchmark: the deletions step failed on skill_gap_analytics_user_id_fkey). Until the erasure
-- commits, a new row for the learner waits on this lock, then fails its foreign key.
with locked as (
  select u.id
  from users u
  where u.id in (select e.user_id from erasure_requests e
                 where e.processed_at is null and e.user_id not like 'sha256:%')
  order by u.id
  for update of u
)
select count(*) from locked
