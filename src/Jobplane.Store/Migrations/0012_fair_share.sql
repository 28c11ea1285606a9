-- A default fair share of the fleet: while another tenant has ready work a worker can run, a claim
-- hands a tenant new slots only up to a fraction of the slots the connected fleet announced.

-- What each worker announced as its slot count (WORKER_CONCURRENCY); null: not announced (an older
-- worker), which then adds nothing to the fleet's slots. Not indexed: the claim sums it over the
-- workers seen in the last minute, found through workers_seen_idx.
alter table workers add column slots integer check (slots between 1 and 100000);

-- The most of the fleet's slots a tenant may hold while others wait, as a fraction in (0, 1]; null:
-- the operator's FAIR_SHARE_MAX_FRACTION. 1 lifts the cap for this tenant. NaN fails the check
-- (PostgreSQL orders NaN above every number).
alter table tenants add column max_fleet_share double precision check (max_fleet_share > 0 and max_fleet_share <= 1);
