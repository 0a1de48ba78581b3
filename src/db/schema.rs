//! Table definitions, kept by hand within the types both backends share.

diesel::table! {
    /// Accounts.
    users (id) {
        id -> BigInt,
        email -> Text,
        email_lookup -> Text,
        username -> Text,
        first_name -> Text,
        last_name -> Text,
        password -> Text,
        is_active -> Bool,
        is_staff -> Bool,
        is_superuser -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        activation_pending -> Bool,
        email_verified -> Bool,
    }
}

diesel::table! {
    /// One row per login (browser or API); revoking it logs that device out.
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        kind -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        renewable -> Bool,
        client_id -> Nullable<Text>,
        scope -> Nullable<Text>,
        auth_time -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Every refresh token issued, for rotation, blacklisting and reuse detection.
    refresh_tokens (jti) {
        jti -> Text,
        session_id -> Text,
        user_id -> BigInt,
        parent_jti -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        blacklisted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Security-relevant events.
    audit_events (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        detail -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(audit_events -> users (user_id));

diesel::table! {
    /// Consecutive failed logins per account or unknown identifier.
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        last_failed_at -> Timestamp,
        locked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Single-use tokens (stored hashed) for password reset and activation.
    one_time_tokens (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        new_email -> Nullable<Text>,
        session_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Rendered mail awaiting delivery.
    email_outbox (id) {
        id -> BigInt,
        to_address -> Text,
        from_address -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
    }
}

diesel::table! {
    /// Per-address mail cooldowns.
    mail_cooldowns (key) {
        key -> Text,
        last_at -> Timestamp,
    }
}

diesel::table! {
    /// Per-IP token buckets shared by the processes of a PostgreSQL deployment.
    ip_buckets (key) {
        key -> Text,
        tokens -> Double,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Asymmetric signing keys (private part encrypted), shared by every process.
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
        activates_at -> Timestamp,
        unpublish_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// OAuth/OpenID clients (relying parties).
    oauth_clients (client_id) {
        client_id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        first_party -> Bool,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        created_at -> Timestamp,
        secret_rotated_at -> Nullable<Timestamp>,
        id_token_alg -> Text,
    }
}

diesel::table! {
    /// Authorization codes (stored hashed), single use.
    oauth_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> BigInt,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> Timestamp,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        session_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Consents a person gave third-party clients.
    oauth_consents (user_id, client_id) {
        user_id -> BigInt,
        client_id -> Text,
        scope -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    /// Accounts at upstream identity providers, by (issuer, subject).
    social_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        provider -> Text,
        user_id -> BigInt,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    django_imports (user_id) {
        user_id -> BigInt,
        password -> Text,
        imported_at -> Timestamp,
        sessions_ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    django_blacklist (jti) {
        jti -> Text,
        expires_at -> Timestamp,
        blacklisted_at -> Timestamp,
    }
}

diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(django_imports -> users (user_id));
diesel::joinable!(social_identities -> users (user_id));
diesel::joinable!(sessions -> oauth_clients (client_id));
diesel::joinable!(oauth_consents -> oauth_clients (client_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    audit_events,
    login_throttle,
    one_time_tokens,
    email_outbox,
    mail_cooldowns,
    ip_buckets,
    signing_keys,
    oauth_clients,
    oauth_codes,
    oauth_consents,
    social_identities,
    django_imports,
    django_blacklist
);
