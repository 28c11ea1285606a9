-- Cancel requests, idempotent submission, and per-job retry policy.

-- Set when a user cancels a RUNNING execution: its worker learns it at the next heartbeat and
-- stops the job; the outcome it reports (or the lease's expiry) then ends it CANCELLED.
alter table executions add column cancel_requested_at timestamptz;

-- Per-job retry policy; null backoff means the controller's default.
alter table jobs add column retry_backoff_base_seconds double precision check (retry_backoff_base_seconds > 0);
alter table jobs add column retry_backoff_max_seconds double precision check (retry_backoff_max_seconds > 0);
alter table jobs add column non_retryable_exit_codes integer[] not null default '{}';

-- Idempotency-Key on run: the first request with a key creates the execution, every retry of it
-- within 24 hours gets the same one. The primary key serialises concurrent duplicates.
create table idempotency_keys (
    tenant_id    uuid not null references tenants (id) on delete cascade,
    key          text not null,
    job_id       uuid not null,
    execution_id uuid not null references executions (id) on delete cascade,
    created_at   timestamptz not null default now(),
    primary key (tenant_id, key)
);
-- Expiry sweep of keys older than 24 hours.
create index idempotency_keys_created_idx on idempotency_keys (created_at);
