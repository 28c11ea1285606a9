-- What a job asks of the container it runs in, and whether its tenant may have network at all.
-- Only on jobs: the claim reads them from jobs when it hands an execution out, so the hot,
-- narrow ready_queue stays as it is.

-- Null: the worker's default (DOCKER_MEMORY_LIMIT, DOCKER_CPU_LIMIT, DOCKER_PIDS_LIMIT). The bounds
-- are the API's (memory 6 MiB .. 1 TiB, 0.01 .. 1024 CPUs, 1 .. 1,000,000 processes); each worker
-- refuses what exceeds its own maximums.
alter table jobs add column memory_limit_bytes bigint
    check (memory_limit_bytes between 6291456 and 1099511627776);
alter table jobs add column cpu_limit double precision
    check (cpu_limit between 0.01 and 1024);
alter table jobs add column pids_limit bigint
    check (pids_limit between 1 and 1000000);
-- The job asks for network access. It gets it only while its tenant allows network: the claim
-- hands out network = jobs.network and tenants.allow_network.
alter table jobs add column network boolean not null default false;

-- Set by the administrator; off by default, so no tenant's jobs reach the network unless allowed.
alter table tenants add column allow_network boolean not null default false;
