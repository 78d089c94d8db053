-- Every learner's time zone as update_user_points uses it, as one hash: a change (an organisation's
-- zone, a learner moved to another organisation) moves "today" and so current streaks, and makes
-- the next run recompute everyone.
SELECT md5(coalesce(string_agg(u.id || '=' || coalesce(ot.tz, 'UTC'), ',' ORDER BY u.id), ''))
FROM users u
LEFT JOIN organization_timezones() ot ON ot.organization_id = u.organization_id
