-- Carry-forward (analytics/store.py): forget the input changes logged more than :keep_days days ago
-- (a run recorded longer ago than :keep_days - 1 days is not carried from: analytics/store.py).
delete from learner_input_changes where changed_at < now() - make_interval(days => :keep_days)
