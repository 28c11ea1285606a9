-- Retention: finished executions (with their logs and attempts), dead letters and audit records are
-- deleted once they are older than the operator's settings (RETENTION_*), in small batches by queue
-- maintenance. Each delete is served by an index that holds only rows it may delete.

-- Per tenant, set by the administrator: days its finished executions and dead letters are kept.
-- Null: the operator's defaults (RETENTION_EXECUTIONS, RETENTION_DEAD_LETTERS).
alter table tenants add column retention_days integer check (retention_days between 1 and 36500);

-- Finished executions per tenant and status, oldest completion first. Partial: a submission
-- (PENDING, SCHEDULED) and a claim (RUNNING) write nothing here; only the completion that finishes an
-- execution adds an entry. The status column lets the delete take FAILED rows (kept as long as their
-- dead letter) by a range of their own instead of walking past them.
create index executions_finished_idx on executions (tenant_id, status, completed_at)
    where status in ('SUCCEEDED', 'FAILED', 'CANCELLED');

-- Dead letters per tenant by age, retried or not (dead_letters_tenant_idx holds only unretried ones).
create index dead_letters_failed_idx on dead_letters (tenant_id, failed_at);

-- The audit log by age.
create index audit_log_at_idx on audit_log (at);

-- Deleting an execution cascades to idempotency_keys; without an index on the referencing column,
-- each deleted execution would cost a sequential scan of the keys table. Only submissions that
-- carry an Idempotency-Key write it.
create index idempotency_keys_execution_idx on idempotency_keys (execution_id);
