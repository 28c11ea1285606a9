-- Per tenant, set by the administrator: the log bounds of a tenant whose jobs need other ones than
-- the operator's (a tenant with chatty jobs). Null: the operator's LOG_MAX_BYTES_PER_EXECUTION and
-- LOG_FOLLOW_MAX_PER_TENANT. The bounds are those of the operator's settings.
-- Neither is indexed: the log append reads log_max_bytes_per_execution by the tenants primary key,
-- and an update of a tenant's limits stays a HOT update.
alter table tenants add column log_max_bytes_per_execution bigint
    check (log_max_bytes_per_execution between 1024 and 1099511627776);
alter table tenants add column log_follow_max integer check (log_follow_max between 1 and 100000);
