-- Governance (issue 6): row-level security, grants, retention helpers, expiry constraints, erasure.
-- Runs unchanged on Supabase (roles `authenticated`/`anon`, schema `auth` and auth.uid() exist
-- there and are kept) and on plain PostgreSQL 15+ (they are created here). docs/governance.md.

-- ═══════════════ the dashboard role (cluster-wide: idempotent, safe when two sessions race) ═══════════════
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    BEGIN
      CREATE ROLE authenticated NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by another session
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role "authenticated" is missing and % may not create it', current_user
          USING HINT = 'Run once as a superuser: CREATE ROLE authenticated NOLOGIN;';
    END;
  END IF;
END $$;

-- ═══════════════ auth.uid(): Supabase's where it exists, else the JWT claims' sub ═══════════════
CREATE SCHEMA IF NOT EXISTS auth;

DO $$
BEGIN
  IF to_regprocedure('auth.uid()') IS NULL THEN
    -- Malformed claims (not JSON, not an object, no sub, sub not a string) give NULL, never an error.
    EXECUTE $f$
      CREATE FUNCTION auth.uid() RETURNS text LANGUAGE plpgsql STABLE AS $body$
      DECLARE
        claims text := current_setting('request.jwt.claims', true);
        sub jsonb;
      BEGIN
        IF claims IS NULL OR claims = '' THEN
          RETURN NULL;
        END IF;
        sub := claims::jsonb -> 'sub';
        IF jsonb_typeof(sub) IS DISTINCT FROM 'string' THEN
          RETURN NULL;  -- only a string sub identifies a user
        END IF;
        RETURN nullif(sub #>> '{}', '');
      EXCEPTION WHEN others THEN
        RETURN NULL;
      END $body$
    $f$;
  END IF;
  BEGIN
    GRANT USAGE ON SCHEMA auth TO authenticated;
  EXCEPTION WHEN insufficient_privilege THEN NULL;  -- Supabase: its own grants already cover it
  END;
END $$;

-- ═══════════════ governance tables ═══════════════
-- One row per retention or erasure action; never a user id (counts only; erasure: learners counted).
CREATE TABLE governance_audit (
  id            bigserial PRIMARY KEY,
  action        text NOT NULL CHECK (action IN ('retention', 'erasure')),
  target_table  text NOT NULL,
  rows_affected bigint NOT NULL,
  detail        jsonb NOT NULL DEFAULT '{}',
  performed_at  timestamptz NOT NULL DEFAULT now(),
  run_id        text
);
CREATE INDEX idx_governance_audit_action_time ON governance_audit(action, performed_at DESC);

-- Handshake with the sources layer: one row per learner deleted upstream (/v1/deletions, resource
-- 'users'), inserted with ON CONFLICT (user_id) DO NOTHING. The erasure asset processes pending rows
-- and replaces user_id by a salted hash ('sha256:<hex>') as a tombstone.
CREATE TABLE erasure_requests (
  user_id      text PRIMARY KEY,
  requested_at timestamptz NOT NULL DEFAULT now(),
  source       text NOT NULL DEFAULT 'lms:/v1/deletions',
  processed_at timestamptz
);
CREATE INDEX idx_erasure_requests_pending ON erasure_requests(requested_at) WHERE processed_at IS NULL;

-- Point transactions older than a year (retention); same columns + archived_at. Totals stay in user_points.
CREATE TABLE point_transactions_archive (
  id            text PRIMARY KEY,
  user_id       text NOT NULL,
  points        integer NOT NULL,
  activity_type text NOT NULL,
  metadata      jsonb,
  "timestamp"   timestamptz NOT NULL,
  source_id     text NOT NULL,
  archived_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (activity_type, source_id)
);
CREATE INDEX idx_point_transactions_archive_user_time ON point_transactions_archive(user_id, "timestamp" DESC);

-- The whole ledger (for gamification: an award is unique across both tables).
CREATE VIEW point_ledger_all WITH (security_invoker = true) AS
SELECT id, user_id, points, activity_type, metadata, "timestamp", source_id, NULL::timestamptz AS archived_at
FROM point_transactions
UNION ALL
SELECT id, user_id, points, activity_type, metadata, "timestamp", source_id, archived_at
FROM point_transactions_archive;

INSERT INTO pipeline_settings (key, value) VALUES ('erasure_salt', to_jsonb(gen_random_uuid()::text))
ON CONFLICT (key) DO NOTHING;

-- ═══════════════ expiry: enforced by the database ═══════════════
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT partitioned_snapshot_tables() LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (expires_at > calculated_at)', t, t || '_expires_after_calculated');
    EXCEPTION WHEN check_violation THEN
      RAISE WARNING '%: rows with expires_at <= calculated_at exist; constraint not added (the expiry check reports it)', t;
    END;
  END LOOP;
END $$;

-- ═══════════════ the tables row-level security protects (the one list, with the learner column) ═══════════════
CREATE FUNCTION per_learner_tables() RETURNS TABLE(table_name text, learner_column text) LANGUAGE sql IMMUTABLE AS $$
  VALUES ('learner_velocity_analytics', 'user_id'), ('skill_gap_analytics', 'user_id'),
         ('engagement_analytics', 'user_id'), ('mastery_analytics', 'user_id'),
         ('performance_analytics', 'user_id'), ('content_effectiveness_analytics', 'user_id'),
         ('predictive_analytics_cache', 'user_id'),
         ('user_points', 'user_id'), ('point_transactions', 'user_id'), ('point_transactions_archive', 'user_id'),
         ('user_achievements', 'user_id'), ('daily_activity', 'user_id'), ('user_preferences', 'user_id'),
         ('users', 'id'), ('user_roles', 'user_id'), ('enrollments', 'user_id'), ('user_skills', 'user_id'),
         ('assessment_results', 'user_id'), ('learning_events', 'user_id')
$$;

-- Catalog tables dashboards read besides the per-learner ones (courses and organizations have RLS too).
CREATE FUNCTION dashboard_catalog_tables() RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
  VALUES ('courses'), ('organizations'), ('skills'), ('achievements')
$$;

-- ═══════════════ SECURITY DEFINER helpers: policy subqueries not blocked by RLS on their own tables ═══════════════
CREATE FUNCTION app_current_user_id() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT auth.uid()::text
$$;

CREATE FUNCTION app_current_org_id() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.organization_id FROM users u WHERE u.id = auth.uid()::text
$$;

-- Learners enrolled in a course the caller trains (courses.trainer_id).
CREATE FUNCTION app_trainer_student_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT e.user_id
  FROM courses c JOIN enrollments e ON e.course_id = c.id
  WHERE c.trainer_id = auth.uid()::text
$$;

-- Members of the caller's organisation when the caller is its org_admin.
CREATE FUNCTION app_org_member_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT m.id
  FROM users me
  JOIN user_roles r ON r.user_id = me.id AND r.role = 'org_admin'
  JOIN users m ON m.organization_id = me.organization_id
  WHERE me.id = auth.uid()::text
$$;

-- Courses the caller is enrolled in.
CREATE FUNCTION app_enrolled_course_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.course_id FROM enrollments e WHERE e.user_id = auth.uid()::text
$$;

-- Everyone the caller may see (the union of the three policies), for dashboards and tests.
CREATE FUNCTION app_visible_user_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT app_current_user_id() WHERE app_current_user_id() IS NOT NULL
  UNION SELECT app_trainer_student_ids()
  UNION SELECT app_org_member_ids()
$$;

-- ═══════════════ row-level security: the seed's three policies on every per-learner table ═══════════════
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM per_learner_tables() LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r.table_name);
    EXECUTE format('CREATE POLICY user_own_analytics ON %I FOR SELECT TO authenticated USING (%I = (SELECT app_current_user_id()))',
                   r.table_name, r.learner_column);
    EXECUTE format('CREATE POLICY trainer_student_analytics ON %I FOR SELECT TO authenticated USING (%I IN (SELECT app_trainer_student_ids()))',
                   r.table_name, r.learner_column);
    EXECUTE format('CREATE POLICY org_admin_analytics ON %I FOR SELECT TO authenticated USING (%I IN (SELECT app_org_member_ids()))',
                   r.table_name, r.learner_column);
  END LOOP;
END $$;

ALTER TABLE courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY course_visibility ON courses FOR SELECT TO authenticated USING (
  organization_id = (SELECT app_current_org_id())
  OR trainer_id = (SELECT app_current_user_id())
  OR id IN (SELECT app_enrolled_course_ids())
);
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_organization ON organizations FOR SELECT TO authenticated USING (id = (SELECT app_current_org_id()));

-- ═══════════════ partitions: upper bound and retention drop ═══════════════
CREATE FUNCTION partition_upper_bound(p_partition regclass) RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
  FROM pg_class c WHERE c.oid = p_partition
$$;

-- Detach and drop every partition of p_parent whose upper bound is at or before p_cutoff.
CREATE FUNCTION drop_partitions_before(p_parent text, p_cutoff timestamptz)
RETURNS TABLE(partition_name text, rows_dropped bigint) LANGUAGE plpgsql AS $$
DECLARE part record; n bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('ensure_monthly_partitions:' || p_parent));
  FOR part IN
    SELECT c.oid::regclass AS rel, c.relname
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(p_parent)
      AND partition_upper_bound(c.oid) <= p_cutoff
    ORDER BY c.relname
  LOOP
    EXECUTE format('SELECT count(*) FROM %s', part.rel) INTO n;
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %s', p_parent, part.rel);
    EXECUTE format('DROP TABLE %s', part.rel);
    partition_name := part.relname; rows_dropped := n;
    RETURN NEXT;
  END LOOP;
END $$;

-- ═══════════════ erasure ═══════════════
-- Every table of schema public with a user_id column (discovered, so tables added later are covered),
-- deleted child-first (a table whose delete hits a foreign key is retried after the others), then the
-- quarantine rows that quote the id, courses.trainer_id (nulled) and finally users. Returns counts.
CREATE FUNCTION erase_learners(p_user_ids text[])
RETURNS TABLE(target_table text, rows_deleted bigint) LANGUAGE plpgsql AS $$
DECLARE
  pending text[];
  failed text[];
  t text;
  n bigint;
  progress boolean;
BEGIN
  IF p_user_ids IS NULL OR cardinality(p_user_ids) = 0 THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO pending
  FROM pg_class c
  JOIN pg_namespace ns ON ns.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id' AND a.attnum > 0 AND NOT a.attisdropped
  WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relname NOT IN ('users', 'erasure_requests');
  LOOP
    failed := '{}';
    progress := false;
    FOREACH t IN ARRAY pending LOOP
      BEGIN
        EXECUTE format('DELETE FROM %I WHERE user_id::text = ANY($1)', t) USING p_user_ids;
        GET DIAGNOSTICS n = ROW_COUNT;
        target_table := t; rows_deleted := n; progress := true;
        RETURN NEXT;
      EXCEPTION WHEN foreign_key_violation THEN
        failed := failed || t;
      END;
    END LOOP;
    EXIT WHEN cardinality(failed) = 0;
    IF NOT progress THEN
      RAISE EXCEPTION 'erase_learners: foreign keys block deleting from %', failed;
    END IF;
    pending := failed;
  END LOOP;

  DELETE FROM quarantine q
  WHERE q.source_id = ANY(p_user_ids)
     OR q.payload LIKE ANY (SELECT '%"' || replace(replace(replace(u, '\', '\\'), '%', '\%'), '_', '\_') || '"%' FROM unnest(p_user_ids) u);
  GET DIAGNOSTICS n = ROW_COUNT;
  target_table := 'quarantine'; rows_deleted := n; RETURN NEXT;

  UPDATE courses SET trainer_id = NULL WHERE trainer_id = ANY(p_user_ids);
  GET DIAGNOSTICS n = ROW_COUNT;
  target_table := 'courses.trainer_id'; rows_deleted := n; RETURN NEXT;

  DELETE FROM users WHERE id = ANY(p_user_ids);
  GET DIAGNOSTICS n = ROW_COUNT;
  target_table := 'users'; rows_deleted := n; RETURN NEXT;
END $$;

CREATE FUNCTION erasure_subject_hash(p_user_id text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'sha256:' || encode(sha256(convert_to((SELECT value #>> '{}' FROM pipeline_settings WHERE key = 'erasure_salt') || p_user_id, 'UTF8')), 'hex')
$$;

-- Process every pending request in one transaction: erase, tombstone the requests (salted hash), audit counts.
CREATE FUNCTION process_erasure_requests(p_run_id text DEFAULT NULL)
RETURNS TABLE(target_table text, rows_deleted bigint, learners integer) LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
  n integer;
BEGIN
  SELECT coalesce(array_agg(r.user_id ORDER BY r.requested_at), '{}') INTO ids
  FROM (SELECT e.user_id, e.requested_at FROM erasure_requests e
        WHERE e.processed_at IS NULL AND e.user_id NOT LIKE 'sha256:%' FOR UPDATE SKIP LOCKED) r;
  n := cardinality(ids);
  IF n = 0 THEN
    RETURN;
  END IF;
  CREATE TEMP TABLE IF NOT EXISTS pg_temp.erasure_counts (target_table text, rows_deleted bigint) ON COMMIT DROP;
  TRUNCATE pg_temp.erasure_counts;
  INSERT INTO pg_temp.erasure_counts SELECT * FROM erase_learners(ids);

  -- tombstones: a repeated request folds into the existing tombstone
  UPDATE erasure_requests t SET processed_at = now()
  WHERE t.user_id IN (SELECT erasure_subject_hash(u) FROM unnest(ids) u);
  DELETE FROM erasure_requests e
  WHERE e.user_id = ANY(ids)
    AND EXISTS (SELECT 1 FROM erasure_requests t WHERE t.user_id = erasure_subject_hash(e.user_id));
  UPDATE erasure_requests e SET user_id = erasure_subject_hash(e.user_id), processed_at = now()
  WHERE e.user_id = ANY(ids);

  INSERT INTO governance_audit (action, target_table, rows_affected, detail, run_id)
  SELECT 'erasure', c.target_table, c.rows_deleted, jsonb_build_object('learners', n), p_run_id
  FROM pg_temp.erasure_counts c;

  RETURN QUERY SELECT c.target_table, c.rows_deleted, n FROM pg_temp.erasure_counts c ORDER BY c.target_table;
END $$;

-- ═══════════════ grants: authenticated reads, never writes ═══════════════
-- Re-applied by the access_control asset every run (views and partitions created later are covered).
CREATE FUNCTION governance_enforce_access() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  grantee text;
  r record;
  views_secured integer := 0;
  granted text[] := '{}';
  revoked_mvs text[] := '{}';
  progress_ok boolean;
BEGIN
  FOREACH grantee IN ARRAY ARRAY['authenticated', 'anon'] LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', grantee);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', grantee);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I', grantee);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', grantee);
  END LOOP;
  GRANT USAGE ON SCHEMA public TO authenticated;

  -- views run with the caller's rights, so the base tables' policies apply through them
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE ns.nspname = 'public' AND c.relkind = 'v'
             AND NOT coalesce('security_invoker=true' = ANY(c.reloptions) OR 'security_invoker=on' = ANY(c.reloptions), false) LOOP
    EXECUTE format('ALTER VIEW %I SET (security_invoker = true)', r.relname);
    views_secured := views_secured + 1;
  END LOOP;

  FOR r IN SELECT table_name FROM per_learner_tables() UNION SELECT dashboard_catalog_tables() LOOP
    IF to_regclass(r.table_name) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT ON %I TO authenticated', r.table_name);
      granted := granted || r.table_name;
    END IF;
  END LOOP;
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE ns.nspname = 'public' AND c.relkind = 'v' LOOP
    EXECUTE format('GRANT SELECT ON %I TO authenticated', r.relname);
    granted := granted || r.relname::text;
  END LOOP;

  -- materialized views: RLS cannot protect them; only those without learner ids, or whose
  -- definition honours leaderboard_privacy and which hold no hidden learner right now
  FOR r IN SELECT c.oid, c.relname,
                  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped) AS has_user
           FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE ns.nspname = 'public' AND c.relkind = 'm' LOOP
    IF NOT r.has_user THEN
      EXECUTE format('GRANT SELECT ON %I TO authenticated', r.relname);
      granted := granted || r.relname::text;
    ELSIF pg_get_viewdef(r.oid) LIKE '%leaderboard_privacy%' AND (SELECT c.relispopulated FROM pg_class c WHERE c.oid = r.oid) THEN
      EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I m JOIN user_preferences p ON p.user_id = m.user_id::text '
                     'WHERE p.leaderboard_privacy = ''hidden'')', r.relname) INTO STRICT progress_ok;
      IF progress_ok THEN
        EXECUTE format('GRANT SELECT ON %I TO authenticated', r.relname);
        granted := granted || r.relname::text;
      ELSE
        revoked_mvs := revoked_mvs || r.relname::text;
      END IF;
    ELSE
      revoked_mvs := revoked_mvs || r.relname::text;
    END IF;
  END LOOP;

  RETURN jsonb_build_object('views_secured', views_secured, 'granted', to_jsonb(granted), 'materialized_views_withheld', to_jsonb(revoked_mvs));
END $$;

-- Objects authenticated can read that do not protect learners: expected empty.
CREATE FUNCTION governance_exposure_problems() RETURNS TABLE(object_name text, problem text) LANGUAGE sql STABLE AS $$
  WITH readable AS (
    SELECT c.oid, c.relname::text AS name, c.relkind, c.relrowsecurity, c.relispartition, c.reloptions
    FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
    WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
      AND has_table_privilege('authenticated', c.oid, 'SELECT')
  ), learner_columns AS (
    SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'user_id' AND NOT a.attisdropped
  )
  SELECT name, 'table with learner rows readable without row-level security'
  FROM readable WHERE relkind IN ('r', 'p') AND NOT relrowsecurity
    AND (oid IN (SELECT attrelid FROM learner_columns) OR relispartition)
  UNION ALL
  SELECT name, 'view runs with its owner''s rights (security_invoker off)'
  FROM readable WHERE relkind = 'v'
    AND NOT coalesce('security_invoker=true' = ANY(reloptions) OR 'security_invoker=on' = ANY(reloptions), false)
  UNION ALL
  SELECT name, 'materialized view with learner ids that ignores leaderboard_privacy'
  FROM readable WHERE relkind = 'm' AND oid IN (SELECT attrelid FROM learner_columns)
    AND pg_get_viewdef(oid) NOT LIKE '%leaderboard_privacy%'
  UNION ALL
  SELECT c.relname::text, 'authenticated may ' || lower(p.priv)
  FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
  CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv)
  WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
    AND has_table_privilege('authenticated', c.oid, p.priv)
$$;

-- functions that change data are the pipeline's, not the dashboards'
REVOKE EXECUTE ON FUNCTION erase_learners(text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION process_erasure_requests(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION drop_partitions_before(text, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION governance_enforce_access() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ensure_monthly_partitions(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ensure_snapshot_partitions(timestamptz, timestamptz, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION erasure_subject_hash(text) FROM PUBLIC;

DO $$ BEGIN PERFORM governance_enforce_access(); END $$;
