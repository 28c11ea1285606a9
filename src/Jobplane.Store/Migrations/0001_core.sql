-- jobplane core schema. Every timestamp is timestamptz; every table that holds a tenant's data
-- carries tenant_id so that queries are scoped in SQL.

create table tenants (
    id                        uuid primary key,
    name                      text not null,
    rate_limit                double precision,
    rate_limit_burst          integer,
    max_concurrent_executions integer not null default 0,
    created_at                timestamptz not null default now(),
    updated_at                timestamptz not null default now()
);
create unique index tenants_name_key on tenants (name);

-- API keys: only a SHA-256 of the secret part is kept. The prefix is not secret and is how a
-- presented key is found (one index probe), then the hash is compared in constant time.
create table api_keys (
    id           uuid primary key,
    tenant_id    uuid not null references tenants (id) on delete cascade,
    prefix       text not null,
    secret_hash  bytea not null,
    name         text not null default 'default',
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create unique index api_keys_prefix_key on api_keys (prefix);

create table jobs (
    id              uuid primary key,
    tenant_id       uuid not null references tenants (id) on delete cascade,
    name            text not null,
    image           text not null,
    command         text[] not null default '{}',
    timeout_seconds integer not null,
    priority        smallint not null check (priority between 0 and 100),
    max_attempts    integer not null check (max_attempts between 1 and 100),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
-- POST /jobs upserts by (tenant, name); GET /jobs pages by creation time.
create unique index jobs_tenant_name_key on jobs (tenant_id, name);
create index jobs_tenant_created_idx on jobs (tenant_id, created_at desc, id);

-- One row per execution: its current state and final outcome. The hot queue lives in ready_queue.
create table executions (
    id               uuid primary key,
    tenant_id        uuid not null references tenants (id) on delete cascade,
    job_id           uuid not null references jobs (id) on delete cascade,
    status           text not null check (status in
                       ('PENDING','SCHEDULED','RUNNING','RETRYING','SUCCEEDED','FAILED','CANCELLED')),
    priority         smallint not null check (priority between 0 and 100),
    timeout_seconds  integer not null,
    attempt          integer not null default 0,   -- attempts started so far (the current one while RUNNING)
    max_attempts     integer not null,
    free_attempts    integer not null default 0,   -- attempts handed back by a draining worker: not charged
    scheduled_at     timestamptz not null,         -- when it is (or was) due; for RETRYING: the retry time
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    exit_code        integer,
    error            text,
    result           jsonb,
    worker_id        text,
    lease_token      uuid,
    lease_expires_at timestamptz
);
-- GET /executions?status=&job_id= pages newest first within a tenant.
create index executions_tenant_created_idx on executions (tenant_id, created_at desc, id);
create index executions_job_created_idx on executions (job_id, created_at desc, id);
-- Promotion of due scheduled runs and retries: a range scan over only the waiting rows.
create index executions_due_idx on executions (scheduled_at) where status in ('SCHEDULED', 'RETRYING');
-- Rescue of expired leases: a range scan over only the running rows.
create index executions_lease_idx on executions (lease_expires_at) where status = 'RUNNING';

-- The ready queue: one narrow row per execution that may run now. Claiming deletes the row, so
-- the table stays small however large the history grows; its index is exactly the claim order.
create table ready_queue (
    execution_id uuid primary key references executions (id) on delete cascade,
    tenant_id    uuid not null,
    priority     smallint not null,
    ready_at     timestamptz not null
) with (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
-- Claim: ORDER BY priority DESC, ready_at, execution_id LIMIT n FOR UPDATE SKIP LOCKED.
create index ready_queue_claim_idx on ready_queue (priority desc, ready_at, execution_id);

-- Wake long-polling dequeuers when work becomes ready. A hint only: dequeuers also re-check on a
-- timer, and PostgreSQL folds identical notifications within one transaction into one.
create function jobplane_notify_ready() returns trigger language plpgsql as $$
begin
    perform pg_notify('jobplane_ready', '');
    return null;
end $$;
create trigger ready_queue_notify after insert on ready_queue
    for each statement execute function jobplane_notify_ready();

-- Each attempt's history: who ran it, when, and how it ended.
create table execution_attempts (
    execution_id uuid not null references executions (id) on delete cascade,
    attempt      integer not null,
    worker_id    text not null,
    lease_token  uuid not null,
    started_at   timestamptz not null,
    ended_at     timestamptz,
    exit_code    integer,
    error        text,
    outcome      text,   -- succeeded | failed | lease_expired | released
    primary key (execution_id, attempt)
);

-- Log lines in order per execution; paged by (execution_id, id).
create table execution_logs (
    id           bigint generated always as identity primary key,
    execution_id uuid not null references executions (id) on delete cascade,
    stream       text,
    content      text not null,
    created_at   timestamptz not null default now()
);
create index execution_logs_execution_idx on execution_logs (execution_id, id);

-- The dead-letter queue: executions that failed their last attempt.
create table dead_letters (
    id                   uuid primary key,
    tenant_id            uuid not null references tenants (id) on delete cascade,
    execution_id         uuid not null unique references executions (id) on delete cascade,
    job_id               uuid not null references jobs (id) on delete cascade,
    error_message        text not null,
    attempts             integer not null,
    failed_at            timestamptz not null default now(),
    retried_execution_id uuid
);
-- GET /executions/dlq lists a tenant's unretried entries, newest first.
create index dead_letters_tenant_idx on dead_letters (tenant_id, failed_at desc, id) where retried_execution_id is null;
