-- The web dashboard: read-only API keys and sign-in sessions.

-- A read-only key may read everything its tenant may, and change nothing: the API refuses it on
-- every route that is not a read (403 read_only_key), and the dashboard shows no actions to it.
alter table api_keys add column read_only boolean not null default false;

-- One row per dashboard sign-in. The cookie holds a random token; only its SHA-256 is kept here, so
-- a copy of this table signs no one in. A tenant session names the key it was made with: it ends
-- when the key is revoked or expires (the lookup joins the key), and with the tenant. An
-- administrator session (tenant_id null) carries a proof that only the administrator secret it was
-- made with can recompute, so changing SYSTEM_SECRET ends every administrator session.
create table ui_sessions (
    token_hash  bytea primary key,
    tenant_id   uuid references tenants (id) on delete cascade,
    api_key_id  uuid references api_keys (id) on delete cascade,
    admin_proof bytea,
    -- The synchronizer token every form of the session carries (compared in constant time).
    csrf_token  text not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    check ((tenant_id is null) = (api_key_id is null)),
    check ((tenant_id is null) = (admin_proof is not null))
);
-- Expired sessions are deleted by range; a key's sessions are counted (bounded) at sign-in.
create index ui_sessions_expires_idx on ui_sessions (expires_at);
create index ui_sessions_key_idx on ui_sessions (api_key_id, created_at) where api_key_id is not null;

-- The workers page shows each worker's version (from the User-Agent it sends with every dequeue)
-- and when it first announced itself; both are written by the same throttled upsert as the rest.
alter table workers add column version text check (char_length(version) <= 100);
alter table workers add column first_seen_at timestamptz not null default now();
