-- The learners update_user_points recomputes, with their time zone (organisation's, else UTC):
-- everyone (:everyone), or only those whose values can differ from the last run's (the last run
-- saw the transactions visible in :seen and computed as of :since; now as of :as_of):
--  - a ledger or daily_activity row of theirs inserted, updated or deleted by a transaction the
--    last run did not see (learner_input_changes: logged by the writers and the triggers of 0017);
--  - a ledger row that now counts: "timestamp" in (:since, :as_of];
--  - a day that now counts: its first event after :since, or its local date after the local date
--    of :since; both imply last_activity_at >= :since;
--  - a current streak: the passing time can end it (a learner at 0 stays at 0 without a new day);
--  - a time zone other than the one the last run recorded for them (user_points_zones, 0020: an
--    organisation's zone changed, a learner moved to another organisation, a new learner): it
--    moves their "today", so their current streak.
-- The rules and the code are the same as the last run's (else :everyone: store.update_user_points
-- compares their fingerprint).
CREATE TEMP TABLE tmp_user_points_learners ON COMMIT DROP AS
WITH changed AS (
  SELECT c.user_id FROM learner_input_changes c
  WHERE c.source_table IN ('point_transactions', 'daily_activity')
    AND NOT pg_visible_in_snapshot(c.changed_xid, CAST(:seen AS pg_snapshot))
  UNION
  SELECT pt.user_id FROM point_transactions pt WHERE pt."timestamp" > :since AND pt."timestamp" <= :as_of
  UNION
  SELECT d.user_id FROM daily_activity d WHERE d.last_activity_at >= :since
  UNION
  SELECT p.user_id FROM user_points p WHERE p.current_streak > 0
)
SELECT u.id AS user_id, coalesce(ot.tz, 'UTC') AS tz
FROM users u
LEFT JOIN organization_timezones() ot ON ot.organization_id = u.organization_id
LEFT JOIN user_points_zones z ON z.user_id = u.id
WHERE CAST(:everyone AS boolean) OR u.id IN (SELECT user_id FROM changed)
   OR z.tz IS DISTINCT FROM coalesce(ot.tz, 'UTC')
