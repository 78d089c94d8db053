SELECT c.relispopulated FROM pg_class c WHERE c.oid = to_regclass(:view)
