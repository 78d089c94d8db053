-- How many rows the item awards of the window read (to choose the number of user buckets).
SELECT (SELECT count(*) FROM learning_events
        WHERE event_type = 'completed' AND occurred_at >= :start AND occurred_at <= :t)
     + (SELECT count(*) FROM assessment_results
        WHERE submitted_at >= :start AND submitted_at <= :t AND score >= passing_score)
     + (SELECT count(*) FROM enrollments
        WHERE completed_at >= :start AND completed_at <= :t) AS n
