-- Carry-forward (analytics/store.py): learners whose user_skills known at :t may differ from those
-- known at :tp (= :t - 1 day): a row updated after :tp (no upper bound: a row re-assessed after :t
-- was known at :tp, not at :t), a last assessment crossing into (:tp, :t], a row deleted by a
-- transaction the :tp run did not see (:seen = that run's pg_snapshot). Columns: user_id, reason.
select us.user_id, 'user_skills updated' as reason from user_skills us where us.updated_at > :tp
union all
select us.user_id, 'user_skills assessed' from user_skills us
where us.last_assessed_at > :tp and us.last_assessed_at <= :t
union all
select d.user_id, 'user_skills deleted' from learner_input_changes d
where d.source_table = 'user_skills' and not pg_visible_in_snapshot(d.changed_xid, cast(:seen as pg_snapshot))
