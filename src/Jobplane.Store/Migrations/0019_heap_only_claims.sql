-- The claim's update of an execution becomes heap-only (HOT): PostgreSQL writes a new row version
-- on the same page and no index entry at all, but only when no column any index of executions
-- refers to (as a key or in a predicate) changes. The claim changes status, attempt, started_at and
-- the lease; before this migration four partial indexes named status (due, lease, running per
-- tenant, finished), so every claim added five index entries and every completion four. Now no
-- index of executions refers to status or the lease:
-- * waiting runs (SCHEDULED, RETRYING) are indexed by due_at, a generated column that is their due
--   time and null otherwise: the claim leaves it null;
-- * finished runs (for retention and the dashboard's activity) by finished_status and finished_at,
--   generated the same way: null until the execution finishes;
-- * running executions are their open attempts: execution_attempts carries the tenant, and a
--   partial index holds the attempts not yet ended (one per RUNNING execution, inserted by the
--   claim, ended by the transition that takes the execution out of RUNNING). The lease expiry stays
--   on executions, unindexed: a rescue walks the open attempts (as many as executions run, bounded
--   by the fleet's slots) and reads each one's lease.
-- The completion's update still adds entries (finished_at changes, by design), the claim's none.

alter table executions
    add column due_at timestamptz
        generated always as (case when status in ('SCHEDULED', 'RETRYING') then scheduled_at end) stored,
    add column finished_status text
        generated always as (case when status in ('SUCCEEDED', 'FAILED', 'CANCELLED') then status end) stored,
    add column finished_at timestamptz
        generated always as (case when status in ('SUCCEEDED', 'FAILED', 'CANCELLED') then completed_at end) stored;
-- Room on each page for the claim's and completion's new versions (new pages only; HOT needs the
-- new version on the page of the old one).
alter table executions set (fillfactor = 80);

-- Promotion of due scheduled runs and retries: a range scan over only the waiting rows.
create index executions_due_at_idx on executions (due_at) where due_at is not null;
drop index executions_due_idx;

-- Finished executions per tenant and final status, oldest completion first (retention, activity).
create index executions_finished_at_idx on executions (tenant_id, finished_status, finished_at) where finished_at is not null;
drop index executions_finished_idx;

alter table execution_attempts add column tenant_id uuid;
update execution_attempts a set tenant_id = e.tenant_id from executions e where e.id = a.execution_id;
alter table execution_attempts alter column tenant_id set not null;
-- An attempt left open by an execution that no longer runs would count as running forever; none
-- should exist (every transition out of RUNNING ends the attempt), and any that does is ended here.
update execution_attempts a set ended_at = now(), outcome = 'lease_expired',
       error = coalesce(a.error, 'ended when running executions became their open attempts: the execution was no longer running')
from executions e
where e.id = a.execution_id and a.ended_at is null
  and (e.status <> 'RUNNING' or e.attempt <> a.attempt);
-- The running executions: per tenant (concurrency caps, fleet shares, counts), and all of them (rescue).
create index execution_attempts_open_idx on execution_attempts (tenant_id) where ended_at is null;
drop index executions_lease_idx;
drop index executions_running_tenant_idx;

-- execution_events: its primary key was an index entry per event that only the webhook delivery log
-- used (joining a delivery to its event by id); that join now goes through the execution's events
-- (execution_events_execution_idx). The identity still numbers events uniquely.
alter table execution_events drop constraint execution_events_pkey;
-- Its index by tenant was for readers that would follow a tenant's events; none does (the webhook
-- outbox is written in the transition's own statement), so it was an entry per event for nothing.
drop index execution_events_tenant_idx;
