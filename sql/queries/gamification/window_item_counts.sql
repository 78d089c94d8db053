-- How many rows the item awards of the window read (to choose the number of user buckets): the
-- shared window [:start, :t] and the late learners' earlier rows (tmp_late_learners).
SELECT (SELECT count(*) FROM learning_events
        WHERE event_type = 'completed' AND occurred_at >= :start AND occurred_at <= :t)
     + (SELECT count(*) FROM assessment_results
        WHERE submitted_at >= :start AND submitted_at <= :t AND score >= passing_score)
     + (SELECT count(*) FROM enrollments
        WHERE completed_at >= :start AND completed_at <= :t)
     + (SELECT count(*) FROM tmp_late_learners l JOIN learning_events e ON e.user_id = l.user_id
        WHERE e.event_type = 'completed' AND e.occurred_at >= l.start AND e.occurred_at < :start)
     + (SELECT count(*) FROM tmp_late_learners l JOIN assessment_results r ON r.user_id = l.user_id
        WHERE r.submitted_at >= l.start AND r.submitted_at < :start AND r.score >= r.passing_score)
     + (SELECT count(*) FROM tmp_late_learners l JOIN enrollments e ON e.user_id = l.user_id
        WHERE e.completed_at >= l.start AND e.completed_at < :start) AS n
