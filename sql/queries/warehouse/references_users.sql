-- Whether the constraint named :name is a foreign key to users (its violation: a learner erased
-- while a statement wrote the learner's rows, bulk.retrying_erased_learners). Constraint names
-- repeat across a partitioned table's partitions; they all reference the same table.
select exists (select 1 from pg_constraint
               where conname = :name and contype = 'f' and confrelid = 'public.users'::regclass)
