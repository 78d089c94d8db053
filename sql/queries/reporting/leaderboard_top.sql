-- Weekly leaderboard top N, read from the masked materialized view leaderboard_weekly
-- (sql/migrations/0005_gamification.sql): learners whose leaderboard_privacy is 'hidden' are
-- not in it (and not ranked), anonymous ones carry user_id NULL and display_name
-- 'Anonymous learner'. The view's masking and ranks are used as they are; no user id leaves
-- this query, and an anonymous learner's organisation is unknown here (shown empty).
SELECT lb.rank::int AS rank,
       lb.display_name,
       coalesce(o.name, '') AS organization,
       lb.weekly_points::bigint AS points
FROM leaderboard_weekly lb
LEFT JOIN users u ON u.id = lb.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
ORDER BY lb.rank, lb.weekly_points DESC, lb.display_name
LIMIT :top
