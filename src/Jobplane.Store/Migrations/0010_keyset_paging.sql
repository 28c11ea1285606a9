-- Keyset paging: lists resume after the sort key of the last row a client saw, newest first by
-- (created_at, id) descending. The list indexes had id ascending after created_at desc, so a
-- (created_at, id) < (t, i) position could not be one index range and equal timestamps needed a
-- sort. Each is replaced by the same columns with id descending: the same number of indexes to
-- keep up on insert, and every page, however deep, is one index range read.
drop index executions_tenant_created_idx;
create index executions_tenant_created_idx on executions (tenant_id, created_at desc, id desc);
drop index executions_job_created_idx;
create index executions_job_created_idx on executions (job_id, created_at desc, id desc);
drop index jobs_tenant_created_idx;
create index jobs_tenant_created_idx on jobs (tenant_id, created_at desc, id desc);
drop index dead_letters_tenant_idx;
create index dead_letters_tenant_idx on dead_letters (tenant_id, failed_at desc, id desc) where retried_execution_id is null;

-- Worker credentials are listed oldest first by (created_at, id); they had no index for it.
create index worker_credentials_created_idx on worker_credentials (created_at, id);
