-- API keys: who may call the gateway, and for which tenant. A key is shown once, when it is
-- issued; only the SHA-256 of its secret part is kept, so a copy of this table opens nothing.
-- (The secret is 256 random bits: a plain hash is enough, no password stretching.)
-- The gateways' own record, not a projection of the log: rebuilding the read model keeps it.

CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    tenant_id     text NOT NULL,
    name          text NOT NULL,
    secret_sha256 bytea NOT NULL,
    -- Operators also see figures across tenants (hourly analytics).
    is_operator   boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- A tenant's sessions, newest first (GET /api/sessions).
CREATE INDEX sessions_by_owner ON sessions (user_id, created_at, session_id);
