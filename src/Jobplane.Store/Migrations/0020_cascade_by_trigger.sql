-- ready_queue, execution_attempts and execution_events get a row for nearly every transition of
-- every execution (submission, claim, completion). Their foreign keys to executions made each such
-- insert run a check (a query of executions and a share lock on its row, which PostgreSQL logs to
-- the WAL): about five per no-op job, for a guarantee the writers already give by construction:
-- each of these rows is written by the statement that creates the execution or changes it, under
-- its row lock (TransitionWriter, the claim, the submissions). What the keys also did, taking the
-- rows with their execution when it is deleted (retention, a tenant's deletion through its own
-- cascade), this trigger does, for every path that deletes executions.
alter table ready_queue drop constraint ready_queue_execution_id_fkey;
alter table execution_attempts drop constraint execution_attempts_execution_id_fkey;
alter table execution_events drop constraint execution_events_execution_id_fkey;

create function jobplane_execution_deleted() returns trigger language plpgsql as $$
begin
    delete from ready_queue where execution_id = old.id;
    delete from execution_attempts where execution_id = old.id;
    delete from execution_events where execution_id = old.id;
    return null;
end $$;
create trigger executions_deleted after delete on executions
    for each row execute function jobplane_execution_deleted();
