-- Achievements catalog. Generated from
-- analytics_pipeline.gamification.achievements.ACHIEVEMENTS (achievements_seed_sql());
-- tests/gamification checks that this file and the Python catalog agree.
INSERT INTO achievements (id, name, description, icon, tier, criteria) VALUES
  ('first-course', 'First Steps', 'Complete your first course', '🎓', 'beginner', '{"coursesCompleted": 1}'::jsonb),
  ('first-assessment', 'Test Taker', 'Pass your first assessment', '✅', 'beginner', '{"assessmentsPassed": 1}'::jsonb),
  ('streak-3', 'Warming Up', 'Learn three days in a row', '🔥', 'beginner', '{"streakDays": 3}'::jsonb),
  ('first-skill', 'Skill Sprout', 'Master your first skill', '🌱', 'beginner', '{"masteredSkills": 1}'::jsonb),
  ('points-100', 'Point Collector', 'Earn 100 points', '⭐', 'beginner', '{"totalPoints": 100}'::jsonb),
  ('week-streak', 'Week Warrior', 'Learn seven days in a row', '📅', 'intermediate', '{"streakDays": 7}'::jsonb),
  ('course-trio', 'Dedicated Learner', 'Complete three courses', '📚', 'intermediate', '{"coursesCompleted": 3}'::jsonb),
  ('assessment-ace', 'Assessment Ace', 'Pass ten assessments', '🎯', 'intermediate', '{"assessmentsPassed": 10}'::jsonb),
  ('points-1000', 'Point Hoarder', 'Earn 1,000 points', '💎', 'intermediate', '{"totalPoints": 1000}'::jsonb),
  ('skill-master', 'Skill Master', 'Master five skills', '🧠', 'advanced', '{"masteredSkills": 5}'::jsonb),
  ('month-streak', 'Unstoppable', 'Learn thirty days in a row', '🗓️', 'advanced', '{"streakDays": 30}'::jsonb),
  ('course-10', 'Course Collector', 'Complete ten courses', '🏅', 'advanced', '{"coursesCompleted": 10}'::jsonb),
  ('assessment-50', 'Exam Veteran', 'Pass fifty assessments', '📝', 'advanced', '{"assessmentsPassed": 50}'::jsonb),
  ('points-5000', 'High Scorer', 'Earn 5,000 points', '🚀', 'advanced', '{"totalPoints": 5000}'::jsonb),
  ('points-10000', 'Legend', 'Earn 10,000 points', '👑', 'elite', '{"totalPoints": 10000}'::jsonb),
  ('streak-100', 'Habit of Steel', 'Learn one hundred days in a row', '⚡', 'elite', '{"streakDays": 100}'::jsonb),
  ('skill-grandmaster', 'Grandmaster', 'Master twenty skills', '🏆', 'elite', '{"masteredSkills": 20}'::jsonb),
  ('polymath', 'Polymath', 'Complete ten courses and master ten skills', '🦉', 'elite', '{"coursesCompleted": 10, "masteredSkills": 10}'::jsonb)
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name,
  description = EXCLUDED.description,
  icon = EXCLUDED.icon,
  tier = EXCLUDED.tier,
  criteria = EXCLUDED.criteria;
