-- Independent check: the points ledger (point_transactions) per learner at T = :t — the points of
-- each activity type, the total and the number of awards — from the awards recomputed over the
-- raw tables (checks/gamification_awards.sql, composed in as the part "awards").
select user_id,
       coalesce(sum(points) filter (where activity_type = 'content_completed'), 0) as content_completed,
       coalesce(sum(points) filter (where activity_type = 'course_completed'), 0) as course_completed,
       coalesce(sum(points) filter (where activity_type = 'assessment_passed'), 0) as assessment_passed,
       coalesce(sum(points) filter (where activity_type = 'assessment_excellence_bonus'), 0)
         as assessment_excellence_bonus,
       coalesce(sum(points) filter (where activity_type = 'daily_first_activity'), 0) as daily_first_activity,
       coalesce(sum(points) filter (where activity_type = 'streak_bonus'), 0) as streak_bonus,
       sum(points) as total_points,
       count(*) as awards
from ({awards}) a
group by user_id
