-- Of the learner ids :ids, those erased (no users row, and a tombstone in erasure_requests: erased on
-- request or deleted from the LMS) since the rows naming them were computed: bulk.write_isolating
-- drops their rows after a write failed on the foreign key to users. An id that never was a learner
-- is not one of them (its row is quarantined as before). Run only on that failure path.
select k from unnest(cast(:ids as text[])) as k
where not exists (select 1 from users u where u.id = k)
  and exists (select 1 from erasure_requests e where e.user_id = erasure_subject_hash(k))
