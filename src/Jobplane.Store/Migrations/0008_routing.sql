-- Routing: an execution goes only to a worker that can run it. The claim filters ready_queue by what
-- the worker announces, so what routing needs is copied from the job into each ready_queue row when
-- the row is written. A job redefined while its executions wait leaves their rows as they were
-- queued; the worker's runtime still checks what it is handed.
--   runtime_class: 'exec' (image exec: runs on the host, only on exec workers) or 'container' (any
--                  other image: only on container runtimes, docker and kubernetes).
--   network, run_as_root: what the job asks; memory_mib, cpus, pids: its resource requests (null:
--                  the worker's default, which every worker grants). Null columns cost a bit each,
--                  so a row asking for nothing stays as narrow as before but for the class.
alter table ready_queue add column runtime_class text not null default 'container'
    check (runtime_class in ('exec', 'container'));
alter table ready_queue add column network boolean not null default false;
alter table ready_queue add column run_as_root boolean not null default false;
alter table ready_queue add column memory_mib integer;
alter table ready_queue add column cpus double precision;
alter table ready_queue add column pids integer;

update ready_queue q set
    runtime_class = case when j.image = 'exec' then 'exec' else 'container' end,
    network = j.network, run_as_root = j.run_as_root,
    memory_mib = (j.memory_limit_bytes >> 20)::integer, cpus = j.cpu_limit, pids = j.pids_limit::integer
from executions e join jobs j on j.id = e.job_id
where e.id = q.execution_id;
-- Every writer names the class: a forgotten one fails loudly instead of queueing a wrong class.
alter table ready_queue alter column runtime_class drop default;

-- The claim picks within one tenant and one class: an exec worker never walks container rows.
drop index ready_queue_tenant_claim_idx;
create index ready_queue_route_claim_idx on ready_queue (tenant_id, runtime_class, priority desc, ready_at, execution_id);

-- Workers the controller heard from recently, with what they announced they can run. Written at most
-- every few seconds per worker per controller replica (not per dequeue); read only to tell a tenant
-- what a waiting execution waits for. Rows of workers gone for long are deleted by maintenance.
create table workers (
    worker_id       text primary key,
    runtime         text,            -- null: the worker named none (an older or a benchmarking worker)
    runtime_classes text[] not null,
    network         boolean,         -- null: not announced (not checked)
    run_as_root     boolean,
    max_memory_mib  integer,
    max_cpus        double precision,
    max_pids        integer,
    tenant_ids      uuid[],          -- the tenants it may claim for (credential and request); null: all
    seen_at         timestamptz not null default now()
) with (fillfactor = 50);
create index workers_seen_idx on workers (seen_at);
