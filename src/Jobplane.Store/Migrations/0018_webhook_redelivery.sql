-- A redelivery starts a fresh retry period without rewriting when the delivery was made: the
-- delivery log keeps its order and its created_at, and the retry period counts from the later of the two.
alter table webhook_deliveries add column redelivered_at timestamptz;
