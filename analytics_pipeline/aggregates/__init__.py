"""aggregates layer: the four materialized views (weekly/monthly leaderboards, peer comparison,
skill demand). Their computation is SQL (sql/migrations/0005_gamification.sql, 0012_...); this
package holds only their store (``store.py``: refresh and read back), wired by ``assets/aggregates.py``.
"""
