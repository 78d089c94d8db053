-- Carry-forward (analytics/store.py): learners whose enrollments active at :t may differ from
-- those active at :tp: a row updated after :tp, an enrolment, completion or withdrawal crossing
-- (:tp, :t], a row deleted by a transaction the :tp run did not see. Columns: user_id, reason.
select e.user_id, 'enrollments updated' as reason from enrollments e where e.updated_at > :tp
union all
select e.user_id, 'enrollments crossed' from enrollments e
where (e.enrolled_at > :tp and e.enrolled_at <= :t)
   or (e.completed_at > :tp and e.completed_at <= :t)
   or (e.withdrawn_at > :tp and e.withdrawn_at <= :t)
union all
select d.user_id, 'enrollments deleted' from learner_input_deletions d
where d.source_table = 'enrollments' and not pg_visible_in_snapshot(d.deleted_xid, cast(:seen as pg_snapshot))
