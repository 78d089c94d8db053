-- The time zone each learner's user_points row was last computed in (issue 18,
-- gamification/store.py update_user_points): a learner's zone (an organisation's setting, a move to
-- another organisation) moves "today" and so the current streak. The run recomputes the learners
-- whose zone differs from the one recorded here and records the new one in the same transaction;
-- before, every learner's zone was part of one fingerprint, so one learner's move recomputed
-- everyone. One row per learner in users (written by every run: everyone on the full path, the
-- learners whose zone changed otherwise). Internal bookkeeping: not readable by `authenticated`
-- (no grant, as learner_input_changes); erasure deletes from it like from every user_id table.
CREATE TABLE user_points_zones (
  user_id text PRIMARY KEY,
  tz      text NOT NULL
);
