-- Attempt outcomes: exactly the words the store writes (AttemptOutcome); null while the attempt
-- runs. Added NOT VALID then validated, so the scan of existing rows does not block writers.
alter table execution_attempts add constraint execution_attempts_outcome_check
    check (outcome in ('succeeded', 'failed', 'cancelled', 'lease_expired', 'released')) not valid;
alter table execution_attempts validate constraint execution_attempts_outcome_check;

-- One row per transition of an execution, appended in the transaction that makes it (by the one
-- writer of transitions, TransitionWriter), so a reader of this table (webhooks, audit, metrics, a
-- timeline) sees exactly the transitions that committed. Never updated. Rows go with their
-- execution (retention deletes executions; the cascade walks execution_events_execution_idx).
create table execution_events (
    id           bigint generated always as identity primary key,
    execution_id uuid not null references executions (id) on delete cascade,
    tenant_id    uuid not null,
    -- Null: the event created the execution.
    from_status  text check (from_status in
                   ('PENDING','SCHEDULED','RUNNING','RETRYING','SUCCEEDED','FAILED','CANCELLED')),
    to_status    text not null check (to_status in
                   ('PENDING','SCHEDULED','RUNNING','RETRYING','SUCCEEDED','FAILED','CANCELLED')),
    kind         text not null check (kind in ('submitted', 'claimed', 'succeeded', 'failed', 'lost',
                   'cancelled', 'handed_back', 'promoted', 'retried_from_dlq')),
    attempt      integer not null,
    worker_id    text,
    -- Bounded: an error text is the worker's to choose; the full one stays on the attempt.
    reason       text check (char_length(reason) <= 1000),
    at           timestamptz not null default now()
);
-- One execution's events in order (a timeline), and the deleting cascade.
create index execution_events_execution_idx on execution_events (execution_id, id);
-- A tenant's events in order, for readers that follow them (webhooks, audit).
create index execution_events_tenant_idx on execution_events (tenant_id, id);

create function jobplane_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'execution_events is append-only';
end $$;
create trigger execution_events_append_only before update on execution_events
    for each statement execute function jobplane_events_append_only();
