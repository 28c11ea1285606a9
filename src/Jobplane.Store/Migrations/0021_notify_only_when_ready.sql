-- A statement-level trigger fires for an insert of no rows too, and maintenance's promotion runs
-- one every second whether or not anything is due: each woke every waiting long-poll on every
-- controller, which then claimed (500 idle workers made a few hundred empty claims a second, all
-- queued on the claim lock). The trigger now does nothing for an insert that queued nothing.
create or replace function jobplane_ready_inserted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from inserted) then
        return null;
    end if;
    perform pg_advisory_xact_lock_shared(1785, hashtext(t.tenant_id::text))
    from (select distinct tenant_id from inserted order by 1) t;
    update tenant_sched s set active = true, vtime = greatest(s.vtime, (select vclock from scheduler_clock))
    where s.tenant_id in (select distinct tenant_id from inserted) and not s.active;
    -- A hint only: dequeuers also re-check on a timer. Identical notifications in one transaction fold into one.
    perform pg_notify('jobplane_ready', '');
    return null;
end $$;
