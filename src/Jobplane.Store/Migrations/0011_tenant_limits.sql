-- Bounds a tenant cannot push past: log bytes per execution, API keys that outlive their maker.

-- Log bytes stored for an execution (all its attempts), counted by the append statement itself
-- under the execution's row lock, so concurrent appends cannot together pass the cap. log_cut: the
-- cap was reached and the marker line written; every later line is dropped without a write.
-- Neither is indexed, so the append's update stays a HOT update.
alter table executions add column log_bytes bigint not null default 0;
alter table executions add column log_cut boolean not null default false;

-- Followers of an execution's log are woken by this notification (payload: the execution id):
-- the log append sends it, and this trigger when the execution finishes. Only terminal changes
-- notify (a follower waits for lines or for the end), and the WHEN clause is evaluated before any
-- trigger call is queued, so claims, heartbeats and retries pay nothing for it.
create function jobplane_notify_execution_finished() returns trigger language plpgsql as $$
begin
    perform pg_notify('jobplane_execution', new.id::text);
    return null;
end $$;
create trigger executions_notify_finished after update of status on executions
    for each row
    when (old.status is distinct from new.status and new.status in ('SUCCEEDED', 'FAILED', 'CANCELLED'))
    execute function jobplane_notify_execution_finished();

-- API keys: an optional expiry (judged by the database clock) and the key that minted each one,
-- so that revoking a key also revokes every key made with it, however deep.
alter table api_keys add column expires_at timestamptz;
alter table api_keys add column parent_key_id uuid references api_keys (id) on delete set null;
-- Serves the descent of the revocation cascade (keys minted by a key) and nothing else.
create index api_keys_parent_idx on api_keys (parent_key_id) where parent_key_id is not null;
