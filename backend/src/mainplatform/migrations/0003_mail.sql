-- E-mail: verified addresses, single-use account tokens (password reset, address
-- verification) and the outbox of mails to deliver.

-- When the current address was proven (a verification or reset link was used, or the
-- identity provider vouched for it); NULL: not verified. A new address starts NULL.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at
    WHERE id IN (SELECT user_id FROM user_identities);

-- Only a SHA-256 hash of each token is stored; the token itself is in the mail only.
CREATE TABLE account_tokens (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    purpose    text        NOT NULL CHECK (purpose IN ('reset_password', 'verify_email')),
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address the link was sent to: a verification proves this address only.
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);

-- Mails to deliver, written in the transaction of the event they tell about. A row
-- holds what to say, never a secret: the delivery worker mints a link's token when it
-- sends (so a token exists only once its mail goes out) and deletes the row once sent.
CREATE TABLE mail_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    user_id         bigint      REFERENCES users (id) ON DELETE CASCADE,
    params          jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
