-- Multi-tenancy under pressure: fair scheduling between tenants, concurrency caps at claim time,
-- request rate limits shared by every controller replica, credentials with a lifecycle, and audit.

alter table tenants add column weight integer not null default 1 check (weight between 1 and 1000);
alter table tenants add column suspended_at timestamptz;
alter table tenants add column allowed_runtimes text[];

-- Fair scheduling state, one narrow row per tenant (stride scheduling). vtime is the service a
-- tenant has received divided by its weight; a claim serves the active tenants with the lowest
-- vtime first and advances it by claimed/weight. active: the tenant has (or very recently had)
-- rows in ready_queue; inserts into ready_queue set it, queue maintenance clears it.
create table tenant_sched (
    tenant_id uuid primary key references tenants (id) on delete cascade,
    active    boolean not null default false,
    vtime     double precision not null default 0
) with (fillfactor = 50);  -- rewritten by every claim: room for HOT updates
-- The claim walks active tenants in vtime order; only active rows are indexed.
create index tenant_sched_active_idx on tenant_sched (vtime, tenant_id) where active;

-- The scheduler's virtual clock: the lowest vtime among the tenants the last claim considered, after
-- that claim. It never goes back. A tenant that becomes active starts at least here, so time spent idle is not
-- banked as credit against tenants that kept working.
create table scheduler_clock (
    id     boolean primary key default true check (id),
    vclock double precision not null default 0
) with (fillfactor = 50);
insert into scheduler_clock default values;

insert into tenant_sched (tenant_id, active)
select t.id, exists (select 1 from ready_queue q where q.tenant_id = t.id) from tenants t;

create function jobplane_tenant_created() returns trigger language plpgsql as $$
begin
    insert into tenant_sched (tenant_id, vtime)
    select n.id, (select vclock from scheduler_clock) from inserted n
    on conflict do nothing;
    return null;
end $$;
create trigger tenants_created after insert on tenants
    referencing new table as inserted for each statement execute function jobplane_tenant_created();

-- Claims pick per tenant: priority, then due time, within the tenant the scheduler chose.
drop index ready_queue_claim_idx;
create index ready_queue_tenant_claim_idx on ready_queue (tenant_id, priority desc, ready_at, execution_id);
-- Concurrency caps: a tenant's running executions, counted only for capped tenants at claim time.
create index executions_running_tenant_idx on executions (tenant_id) where status = 'RUNNING';

-- Inserting ready work marks its tenants active and wakes long-polling dequeuers. The shared
-- advisory lock (held to commit) is what makes deactivation safe: queue maintenance deactivates a
-- tenant only under the exclusive lock, so it cannot miss ready rows that are not yet committed.
-- Advisory locks live in memory: a submission writes nothing extra unless it activates its tenant.
drop trigger ready_queue_notify on ready_queue;
drop function jobplane_notify_ready();
create function jobplane_ready_inserted() returns trigger language plpgsql as $$
begin
    perform pg_advisory_xact_lock_shared(1785, hashtext(t.tenant_id::text))
    from (select distinct tenant_id from inserted order by 1) t;
    update tenant_sched s set active = true, vtime = greatest(s.vtime, (select vclock from scheduler_clock))
    where s.tenant_id in (select distinct tenant_id from inserted) and not s.active;
    -- A hint only: dequeuers also re-check on a timer. Identical notifications in one transaction fold into one.
    perform pg_notify('jobplane_ready', '');
    return null;
end $$;
create trigger ready_queue_inserted after insert on ready_queue
    referencing new table as inserted for each statement execute function jobplane_ready_inserted();

-- Request rate limits: one token bucket per tenant, shared by all replicas. Replicas take tokens in
-- small chunks and spend them locally, so this row is written per chunk, not per request.
create table rate_buckets (
    tenant_id    uuid primary key references tenants (id) on delete cascade,
    tokens       double precision not null,
    refilled_at  timestamptz not null,
    last_granted integer not null default 0
) with (fillfactor = 50);

-- Tenants list and revoke their keys.
create index api_keys_tenant_idx on api_keys (tenant_id, created_at, id);

-- Worker credentials issued by the administrator, optionally restricted to some tenants (null: all).
create table worker_credentials (
    id           uuid primary key,
    name         text not null,
    prefix       text not null,
    secret_hash  bytea not null,
    tenant_ids   uuid[],
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create unique index worker_credentials_prefix_key on worker_credentials (prefix);

-- One row per administrative or credential change. No foreign key: the record outlives what it names.
create table audit_log (
    id        bigint generated always as identity primary key,
    at        timestamptz not null default now(),
    actor     text not null,
    action    text not null,
    tenant_id uuid,
    target    text,
    details   jsonb
);
create index audit_log_tenant_idx on audit_log (tenant_id, id desc);
