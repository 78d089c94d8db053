-- Carry-forward (analytics/store.py): learners whose results in the window at :t may differ from
-- those at :tp: a row updated after :tp, a submission in (:tp, :t], a result leaving the window or
-- the retention horizon (submitted in [:left_from, :left_to]: the older bound at :tp to the newer
-- bound at :t), a row deleted by a transaction the :tp run did not see. Columns: user_id, reason.
select r.user_id, 'results updated' as reason from assessment_results r where r.updated_at > :tp
union all
select r.user_id, 'results submitted' from assessment_results r
where r.submitted_at > :tp and r.submitted_at <= :t
union all
select r.user_id, 'results left the window' from assessment_results r
where r.submitted_at >= :left_from and r.submitted_at <= :left_to
union all
select d.user_id, 'results deleted' from learner_input_changes d
where d.source_table = 'assessment_results' and not pg_visible_in_snapshot(d.changed_xid, cast(:seen as pg_snapshot))
