-- Carry-forward (analytics/store.py): statistics of carry_dirty, then its size.
analyze carry_dirty
