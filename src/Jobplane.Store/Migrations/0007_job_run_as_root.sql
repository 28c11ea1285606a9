-- The job asks to run as root (uid 0) instead of the worker's non-root user. No tenant permission:
-- the worker's operator is the gate (a Docker worker runs it as root only with DOCKER_ALLOW_ROOT,
-- and fails the attempt without retry otherwise), so the claim hands the request out as it is.
alter table jobs add column run_as_root boolean not null default false;
