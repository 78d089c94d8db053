-- Carry-forward (analytics/store.py): learners whose enrollments active at :t may differ from
-- those active at :tp: an enrolment, completion or withdrawal crossing (:tp, :t], or an enrollment
-- inserted, deleted or changed in those timestamps (or its learner or course) by a transaction the
-- :tp run did not see (:seen = that run's pg_snapshot; learner_input_changes, migration 0013). An
-- update of progress alone changes nothing these categories read. Columns: user_id, reason.
select e.user_id, 'enrollments crossed' as reason from enrollments e
where (e.enrolled_at > :tp and e.enrolled_at <= :t)
   or (e.completed_at > :tp and e.completed_at <= :t)
   or (e.withdrawn_at > :tp and e.withdrawn_at <= :t)
union all
select d.user_id, 'enrollments ' || d.change from learner_input_changes d
where d.source_table = 'enrollments' and not pg_visible_in_snapshot(d.changed_xid, cast(:seen as pg_snapshot))
