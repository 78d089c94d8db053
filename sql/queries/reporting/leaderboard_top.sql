-- Weekly leaderboard top N with the learners' privacy honoured: learners whose
-- leaderboard_privacy is 'hidden' are left out (not ranked), 'anonymous' ones are shown as
-- 'Anonymous learner'; no user id leaves this query. Ranks are recomputed without the hidden.
SELECT rank() OVER (ORDER BY lb.weekly_points DESC)::int AS rank,
       CASE WHEN coalesce(p.leaderboard_privacy, 'public') = 'anonymous' THEN 'Anonymous learner'
            ELSE coalesce(nullif(u.full_name, ''), 'Learner') END AS display_name,
       coalesce(o.name, '') AS organization,
       lb.weekly_points::bigint AS points
FROM leaderboard_weekly lb
JOIN users u ON u.id = lb.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
LEFT JOIN user_preferences p ON p.user_id = lb.user_id
WHERE coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
ORDER BY lb.weekly_points DESC, display_name
LIMIT :top
