-- Accounts, refresh-token families and tokens, and the example owner-scoped resource.

CREATE TABLE users (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email            text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    display_name     text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
    password_hash    text,
    role             text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled         boolean     NOT NULL DEFAULT false,
    -- Access tokens issued before this instant are refused (logout-all, disable).
    tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- One family per sign-in; each refresh rotates to a new token in the same family.
CREATE TABLE refresh_families (
    id             uuid        PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('logout', 'logout_all', 'password_change',
                                                 'reuse', 'disabled'))
);
CREATE INDEX refresh_families_user_active ON refresh_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    family_id       uuid        NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    parent_id       bigint      REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE notes (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       text        NOT NULL DEFAULT '' CHECK (length(body) <= 20000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_owner_id ON notes (owner_id, id DESC);
