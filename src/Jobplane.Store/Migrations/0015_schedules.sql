-- Recurring schedules, kept as data so that any controller can fire them and none holds them in
-- memory. A schedule's timing is either a cron expression in an IANA time zone or a fixed interval;
-- next_due_at is the earliest due time not yet handled (null once the schedule has ended), and is
-- advanced in the transaction that fires it.
create table schedules (
    id                uuid primary key,
    tenant_id         uuid not null references tenants (id) on delete cascade,
    name              text not null,
    job_id            uuid not null references jobs (id) on delete cascade,
    cron              text check (char_length(cron) <= 200),
    interval_seconds  integer check (interval_seconds > 0),
    time_zone         text not null default 'UTC' check (char_length(time_zone) <= 64),
    starts_at         timestamptz,
    ends_at           timestamptz,
    misfire           text not null default 'fire_once' check (misfire in ('skip', 'fire_once', 'catch_up')),
    catch_up_max      integer not null default 1 check (catch_up_max between 1 and 1000),
    overlap           text not null default 'allow' check (overlap in ('allow', 'skip', 'queue', 'cancel')),
    -- Run options; null: the job's own.
    priority          smallint check (priority between 0 and 100),
    timeout_seconds   integer,
    idempotency_prefix text check (char_length(idempotency_prefix) <= 200),
    paused_at         timestamptz,
    next_due_at       timestamptz,
    -- Due times before this are missed whatever the grace (set on resume: what came due while paused).
    missed_before     timestamptz,
    -- The last due time handled (fired, skipped or queued): due times are only ever handled once.
    last_due_at       timestamptz,
    -- The run the overlap policy looks at, and a due time waiting behind it (overlap 'queue').
    last_execution_id uuid,
    queued_due_at     timestamptz,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    check ((cron is null) <> (interval_seconds is null)),
    check (ends_at is null or starts_at is null or ends_at > starts_at)
);
create unique index schedules_tenant_name_key on schedules (tenant_id, name);
create index schedules_tenant_created_idx on schedules (tenant_id, created_at desc, id desc);
-- What the firer scans: due schedules in due order, and those with a run queued behind another.
create index schedules_due_idx on schedules (next_due_at) where paused_at is null and next_due_at is not null;
create index schedules_queued_idx on schedules (queued_due_at) where queued_due_at is not null and paused_at is null;
create index schedules_job_idx on schedules (job_id);

-- One row per due time handled, and per manual trigger: the history users read, and the guard of
-- exactly-once firing. A scheduled due time has one row at most (schedule_fires_due_key), inserted in
-- the transaction that creates its execution, so a second firing of it fails instead of running twice.
create table schedule_fires (
    id            bigint generated always as identity primary key,
    schedule_id   uuid not null references schedules (id) on delete cascade,
    tenant_id     uuid not null,
    due_at        timestamptz not null,
    trigger       text not null check (trigger in ('schedule', 'manual')),
    outcome       text not null check (outcome in ('fired', 'skipped', 'queued')),
    -- No foreign key: the history outlives an execution that retention deleted.
    execution_id  uuid,
    reason        text check (char_length(reason) <= 1000),
    -- How many due times this row stands for: a run of missed due times skipped together is one row.
    missed        integer not null default 1 check (missed >= 1),
    fired_at      timestamptz not null default now()
);
create unique index schedule_fires_due_key on schedule_fires (schedule_id, due_at) where trigger = 'schedule';
create index schedule_fires_history_idx on schedule_fires (schedule_id, id desc);
create index schedule_fires_fired_idx on schedule_fires (fired_at);

-- A fired execution records its schedule and due time. Set once at insert and never updated, with
-- no index, so they add nothing to the claim's and completion's updates.
alter table executions add column schedule_id uuid;
alter table executions add column schedule_due_at timestamptz;
