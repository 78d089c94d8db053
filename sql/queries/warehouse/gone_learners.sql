-- Of the learner ids :ids, those with no users row (erased, or deleted from the LMS, since the
-- rows naming them were computed): bulk.SnapshotWriter drops their rows after a write failed on
-- the foreign key to users. Run only on that failure path, never on a clean write.
select k from unnest(cast(:ids as text[])) as k
where not exists (select 1 from users u where u.id = k)
