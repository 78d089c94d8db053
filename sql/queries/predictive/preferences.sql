-- Current opt-outs apply to every run, backfills included (a learner who turned a kind off is
-- never written again): only the rows that turn at least one kind off.
SELECT user_id, predictive_analytics_enabled
FROM user_preferences
WHERE predictive_analytics_enabled IS NOT NULL
  AND (predictive_analytics_enabled ->> 'dropOffRisk' IN ('false', '0', 'no', 'off')
       OR predictive_analytics_enabled ->> 'forecasting' IN ('false', '0', 'no', 'off')
       OR predictive_analytics_enabled ->> 'recommendations' IN ('false', '0', 'no', 'off'))
