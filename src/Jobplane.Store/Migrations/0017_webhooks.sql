-- Webhooks: a tenant's endpoints, and an outbox of deliveries written in the transaction of the
-- transition that caused them (TransitionWriter), so none is lost and none is sent for a change
-- that rolled back.

create table webhook_endpoints (
    id              uuid primary key,
    tenant_id       uuid not null references tenants (id) on delete cascade,
    url             text not null check (char_length(url) <= 2000),
    description     text check (char_length(description) <= 500),
    -- The event types wanted (execution.succeeded, ...); checked by the API against the known list.
    events          text[] not null check (cardinality(events) between 1 and 16),
    -- Optional filters: only these jobs (by id or by name). Null: every job.
    job_ids         uuid[] check (cardinality(job_ids) between 1 and 100),
    job_names       text[] check (cardinality(job_names) between 1 and 100),
    enabled         boolean not null default true,
    -- Why it was disabled, when the platform disabled it (failing for the whole retry period, or 410 Gone).
    disabled_reason text check (char_length(disabled_reason) <= 1000),
    -- The signing secret. Kept as it is, not hashed: signing needs it (it is the receiver's to check).
    secret          text not null,
    -- After a rotation the old secret also signs until this time, so receivers can switch over.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    -- The first failure of the current run of failures; null once a delivery succeeds.
    failing_since   timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index webhook_endpoints_tenant_idx on webhook_endpoints (tenant_id, created_at, id);

-- One row per (endpoint, event): the outbox. Its id is the webhook-id header, the same on every
-- attempt, so a receiver can drop duplicates. A pending row is claimed by moving next_attempt_at
-- forward under FOR UPDATE SKIP LOCKED: the claimer owns it until then, and if it dies the row
-- comes due again (at least once).
create table webhook_deliveries (
    id              uuid primary key,
    endpoint_id     uuid not null references webhook_endpoints (id) on delete cascade,
    tenant_id       uuid not null,
    event_type      text not null check (char_length(event_type) <= 100),
    -- No foreign keys: a delivery outlives an execution that retention deleted.
    execution_id    uuid,
    event_id        bigint,
    -- The body, frozen at the first attempt so every attempt sends the same bytes.
    payload         text,
    state           text not null default 'pending' check (state in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    -- When the first attempt started: the latency from the status change to the first try.
    first_attempt_at timestamptz,
    finished_at     timestamptz,
    last_status     integer,
    last_error      text check (char_length(last_error) <= 1000)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, created_at desc, id desc);
-- Retention deletes finished deliveries by age.
create index webhook_deliveries_finished_idx on webhook_deliveries (finished_at) where state <> 'pending';

-- Each attempt of a delivery, for the endpoint's delivery log.
create table webhook_attempts (
    delivery_id   uuid not null references webhook_deliveries (id) on delete cascade,
    attempt       integer not null,
    at            timestamptz not null default now(),
    status_code   integer,
    latency_ms    integer not null,
    error         text check (char_length(error) <= 1000),
    -- The first bytes of the receiver's answer, as text.
    response_head text check (char_length(response_head) <= 500),
    primary key (delivery_id, attempt)
);
