//! Asymmetric signing keys: the published set, API tokens verifiable from it, rotation without
//! breaking holders of the old set, and the attacks a JWKS invites.

use chrono::Duration;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, backend_tests, base_env, json_body, run_cli, spawn_app, spawn_app_on_clock,
    stderr, stdout,
};

backend_tests!(
    the_key_set_publishes_one_rsa_key_and_no_private_member,
    rs256_api_tokens_verify_from_the_key_set_and_work_everywhere,
    es256_api_tokens_verify_from_the_key_set,
    a_token_cannot_choose_how_it_is_checked,
    a_rotated_key_is_published_before_it_signs_and_kept_while_its_tokens_live,
    the_cli_lists_and_rotates_keys,
    a_removed_key_stops_its_tokens_even_once_they_were_checked,
    keys_rotate_by_age_when_asked_to_and_one_successor_at_a_time,
    a_changed_secret_stops_the_server_with_a_clear_message,
);

async fn key_set(app: &TestApp) -> (Value, JwkSet) {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let raw = json_body(response).await;
    let set = serde_json::from_value(raw.clone()).expect("a JWK Set");
    (raw, set)
}

/// The header of a compact JWS.
fn header(token: &str) -> Header {
    jsonwebtoken::decode_header(token).expect("a JWS header")
}

/// Verifies `token` as a resource server would: the key its `kid` names in `set`, the
/// algorithm that key declares, the issuer and audience Latchkey writes.
fn verify_with(set: &JwkSet, token: &str, app: &TestApp) -> Result<Value, String> {
    let kid = header(token).kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or(format!("kid {kid} is not published"))?;
    let alg = match jwk.common.key_algorithm.map(|a| a.to_string()).as_deref() {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        other => return Err(format!("unexpected alg {other:?}")),
    };
    let mut validation = Validation::new(alg);
    // The app runs on a manual clock in the past; its own expiry checks are tested elsewhere.
    validation.validate_exp = false;
    validation.set_issuer(&[&app.state.settings.tokens.jwt_issuer]);
    validation.set_audience(&[&app.state.settings.tokens.jwt_audience]);
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

async fn the_key_set_publishes_one_rsa_key_and_no_private_member(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (raw, set) = key_set(&app).await;
    assert_eq!(set.keys.len(), 1, "{raw}");
    let key = &raw["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|kid| kid.len() >= 16));
    assert!(
        key["n"].as_str().is_some_and(|n| n.len() >= 342),
        "2048-bit modulus"
    );
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(key.get(private).is_none(), "{private} published: {key}");
    }
    // The private half is stored sealed, never as it is.
    let stored: Vec<(String, String)> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::signing_keys;
            signing_keys::table
                .select((signing_keys::private_key, signing_keys::public_jwk))
                .load(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    // Neither the text nor its decoded bytes are a private key (a random "MII" could appear).
    let decoded = crate::helpers::base64url_decode(&stored[0].0);
    assert!(
        pkcs8::PrivateKeyInfo::try_from(decoded.as_slice()).is_err(),
        "no PKCS#8 in the clear"
    );
    assert!(
        !stored[0].0.starts_with("-----BEGIN"),
        "no PEM in the clear"
    );
    // Restarting on the same database reuses the key: every process shares one set.
    let again = app.state.keys.ensure(latchkey::keys::KeyAlg::Rs256).await;
    assert!(!again.unwrap(), "no second key");
}

async fn rs256_api_tokens_verify_from_the_key_set_and_work_everywhere(backend: Backend) {
    let Some((app, clock)) =
        spawn_app_on_clock(backend, &[("LATCHKEY_JWT_ALGORITHM", "RS256")]).await
    else {
        return;
    };
    let ann = app.persona("ann").await;
    let (_, set) = key_set(&app).await;
    for token in [&ann.tokens.access, &ann.tokens.refresh] {
        assert_eq!(header(token).alg, Algorithm::RS256);
        let claims = verify_with(&set, token, &app).expect("verifies from JWKS alone");
        assert_eq!(claims["user_id"], ann.id.to_string());
    }
    let me = app.as_user(&ann).get("/auth/users/me/").await;
    assert_eq!(me.status(), 200);
    assert_eq!(json_body(me).await["username"], "ann");
    let refreshed = json_body(app.refresh(&ann.tokens.refresh).await).await;
    let access = refreshed["access"].as_str().unwrap();
    assert!(verify_with(&set, access, &app).is_ok());
    assert_eq!(
        app.get_bearer("/auth/users/me/", access).await.status(),
        200
    );
    // Tokens minted with the HMAC key (before the switch) are still accepted.
    let hs256 = latchkey::tokens::JwtCodec::new(
        &app.state.settings.tokens.secret_key,
        &app.state.settings.tokens.jwt_issuer,
        &app.state.settings.tokens.jwt_audience,
    );
    let now = clock.now().timestamp();
    let sid = crate::helpers::claims(&ann.tokens.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = hs256.claims(
        latchkey::tokens::TokenType::Access,
        now + 60,
        now,
        "a".repeat(32),
        ann.id,
        sid,
    );
    let old = hs256.encode(&claims).unwrap();
    assert_eq!(header(&old).alg, Algorithm::HS256);
    assert_eq!(app.get_bearer("/auth/users/me/", &old).await.status(), 200);
    // And the ninja and FastAPI dialects take the RS256 tokens too.
    let verify = app
        .post_json("/api/token/verify", &json!({"token": ann.tokens.access}))
        .await;
    assert_eq!(verify.status(), 200);
}

async fn es256_api_tokens_verify_from_the_key_set(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        crate::helpers::Spawn {
            env: vec![("LATCHKEY_JWT_ALGORITHM", "ES256".into())],
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let bo = app.persona("bo").await;
    let (raw, set) = key_set(&app).await;
    let mut kinds: Vec<&str> = raw["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["ES256", "RS256"],
        "RS256 for OpenID clients, ES256 for the API"
    );
    assert_eq!(header(&bo.tokens.access).alg, Algorithm::ES256);
    assert!(verify_with(&set, &bo.tokens.access, &app).is_ok());
    assert_eq!(app.as_user(&bo).get("/auth/users/me/").await.status(), 200);
}

async fn a_token_cannot_choose_how_it_is_checked(backend: Backend) {
    let Some(app) = spawn_app_with_rs256(backend).await else {
        return;
    };
    let cy = app.persona("cy").await;
    let (raw, set) = key_set(&app).await;
    let token = &cy.tokens.access;
    let (signed, _) = token.rsplit_once('.').unwrap();
    let claims_b64 = signed.split('.').nth(1).unwrap();
    let claims: Value = crate::helpers::claims(token);
    let kid = header(token).kid.unwrap();
    let reject = |token: String, attack: &'static str| {
        let app = &app;
        async move {
            let response = app.get_bearer("/auth/users/me/", &token).await;
            assert_eq!(response.status(), 401, "{attack}");
        }
    };
    // HS256 keyed with the public key's bytes (the classic confusion), same kid.
    let n = raw["keys"][0]["n"].as_str().unwrap().to_owned();
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some(kid.clone());
    let forged = jsonwebtoken::encode(&confused, &claims, &EncodingKey::from_secret(n.as_bytes()));
    reject(forged.unwrap(), "HS256 keyed with the public key").await;
    // alg "none".
    let none = format!(
        "{}.{claims_b64}.",
        crate::helpers::base64url(br#"{"alg":"none","typ":"JWT"}"#)
    );
    reject(none, "alg none").await;
    // Another RSA key under the published kid.
    let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = aws_lc_rs::encoding::AsDer::as_der(&other).unwrap();
    let pkcs1 = pkcs8::PrivateKeyInfo::try_from(pkcs8.as_ref())
        .unwrap()
        .private_key
        .to_vec();
    let mut impostor = Header::new(Algorithm::RS256);
    impostor.kid = Some(kid.clone());
    let forged = jsonwebtoken::encode(&impostor, &claims, &EncodingKey::from_rsa_der(&pkcs1));
    reject(forged.unwrap(), "another key under the published kid").await;
    // ES256 header on the RSA key's kid.
    let mut switched = Header::new(Algorithm::ES256);
    switched.kid = Some(kid.clone());
    let es = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let forged = jsonwebtoken::encode(&switched, &claims, &EncodingKey::from_ec_der(es.as_ref()));
    reject(forged.unwrap(), "another algorithm under the published kid").await;
    // An unknown kid, and none at all.
    let mut unknown = header(token);
    unknown.kid = Some("not-a-published-kid".into());
    let resigned = format!(
        "{}.{}",
        crate::helpers::base64url(serde_json::to_string(&unknown).unwrap().as_bytes()),
        token.split_once('.').unwrap().1
    );
    reject(resigned, "unknown kid").await;
    let mut missing = header(token);
    missing.kid = None;
    let resigned = format!(
        "{}.{}",
        crate::helpers::base64url(serde_json::to_string(&missing).unwrap().as_bytes()),
        token.split_once('.').unwrap().1
    );
    reject(resigned, "no kid").await;
    // The real token still verifies, from the published set.
    assert!(verify_with(&set, token, &app).is_ok());
    assert_eq!(app.as_user(&cy).get("/auth/users/me/").await.status(), 200);
}

async fn spawn_app_with_rs256(backend: Backend) -> Option<TestApp> {
    spawn_app_on_clock(backend, &[("LATCHKEY_JWT_ALGORITHM", "RS256")])
        .await
        .map(|(app, _)| app)
}

async fn a_rotated_key_is_published_before_it_signs_and_kept_while_its_tokens_live(
    backend: Backend,
) {
    let env = [
        ("LATCHKEY_JWT_ALGORITHM", "RS256"),
        ("LATCHKEY_KEY_PUBLISH_DELAY", "600"),
        ("LATCHKEY_ACCESS_TOKEN_LIFETIME", "300"),
        ("LATCHKEY_REFRESH_TOKEN_LIFETIME", "3600"),
    ];
    let Some((app, clock)) = spawn_app_on_clock(backend, &env).await else {
        return;
    };
    let dee = app.persona("dee").await;
    let old_kid = header(&dee.tokens.access).kid.unwrap();
    // A client fetched the set before the rotation.
    let (_, held) = key_set(&app).await;
    let rotated = app
        .state
        .keys
        .rotate(latchkey::keys::KeyAlg::Rs256)
        .await
        .unwrap();
    assert_ne!(rotated.kid, old_kid);
    let (_, published) = key_set(&app).await;
    assert!(published.find(&rotated.kid).is_some(), "published at once");
    assert!(published.find(&old_kid).is_some());
    // Until the publish delay passes, tokens are still signed with the old key: a client
    // holding the old set verifies them.
    clock.advance(Duration::seconds(599));
    let early = app.login("dee", crate::helpers::PERSONA_PASSWORD).await;
    assert_eq!(header(&early.access).kid.as_deref(), Some(old_kid.as_str()));
    assert!(verify_with(&held, &early.access, &app).is_ok());
    // A client re-fetching within the delay (they do, at most once a minute on an unknown
    // kid) has the new key before any token it signed exists.
    let (_, refetched) = key_set(&app).await;
    clock.advance(Duration::seconds(1));
    let late = app.login("dee", crate::helpers::PERSONA_PASSWORD).await;
    assert_eq!(
        header(&late.access).kid.as_deref(),
        Some(rotated.kid.as_str())
    );
    assert!(verify_with(&refetched, &late.access, &app).is_ok());
    assert!(verify_with(&held, &late.access, &app).is_err());
    // Tokens the old key signed keep working while they live...
    let from_old_key = app.refresh(&early.refresh).await;
    assert_eq!(
        from_old_key.status(),
        200,
        "a refresh token signed by the old key"
    );
    let states = |infos: Vec<latchkey::keys::KeyInfo>| -> Vec<(String, &'static str)> {
        infos
            .into_iter()
            .map(|k| (k.kid, k.state.as_str()))
            .collect()
    };
    assert_eq!(
        states(app.state.keys.list().await.unwrap()),
        [
            (old_kid.clone(), "retiring"),
            (rotated.kid.clone(), "active")
        ]
    );
    // ...and the old key leaves the set once all of them have expired.
    clock.advance(Duration::seconds(3600 + 60));
    let (_, after) = key_set(&app).await;
    assert!(after.find(&old_kid).is_none(), "unpublished");
    assert!(after.find(&rotated.kid).is_some());
    assert_eq!(
        states(app.state.keys.list().await.unwrap())[0],
        (old_kid, "retired")
    );
    let flushed = latchkey::maintenance::flush_expired(&app.state, &app.state.ip_limiter)
        .await
        .unwrap();
    assert_eq!(flushed.signing_keys, 1);
}

async fn the_cli_lists_and_rotates_keys(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let env = base_env(&app.db);
    let dir = app.db.dir.path();
    let none = run_cli(&["keys", "list"], &env, dir);
    assert_eq!(
        stdout(&none).trim(),
        "No signing keys (the first request for /.well-known/jwks.json, or a server signing with RS256 or ES256, makes one)."
    );
    key_set(&app).await;
    let listed = run_cli(&["keys", "list"], &env, dir);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let out = stdout(&listed);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("KID"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].contains("RS256") && lines[1].contains("active"),
        "{out}"
    );

    let rotated = run_cli(&["keys", "rotate", "--alg", "es256"], &env, dir);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        stdout(&rotated).starts_with("Published ES256 key "),
        "{}",
        stdout(&rotated)
    );
    let out = stdout(&run_cli(&["keys", "list"], &env, dir));
    assert!(
        out.lines()
            .any(|l| l.contains("ES256") && l.contains("pending")),
        "{out}"
    );

    let wrong = run_cli(&["keys", "rotate", "--alg", "HS256"], &env, dir);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("unknown algorithm \"HS256\": use RS256 or ES256"),
        "{}",
        stderr(&wrong)
    );
}

async fn a_changed_secret_stops_the_server_with_a_clear_message(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    key_set(&app).await;
    let mut env = base_env(&app.db);
    env.insert(
        "LATCHKEY_SECRET_KEY".into(),
        "another-secret-key-that-is-long-enough-0123456789".into(),
    );
    // The server must refuse to start; one that starts anyway is stopped and reported.
    let mut child = std::process::Command::new(crate::helpers::binary())
        .arg("serve")
        .env_clear()
        .envs(&env)
        .current_dir(app.db.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started with another secret_key");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "a signing key cannot be decrypted: secret_key is not the one it was sealed with"
        ),
        "{}",
        stderr(&out)
    );
}

async fn a_removed_key_stops_its_tokens_even_once_they_were_checked(backend: Backend) {
    let Some(app) = spawn_app_with_rs256(backend).await else {
        return;
    };
    let eve = app.persona("eve").await;
    // Checked once, remembered after that.
    for _ in 0..2 {
        assert_eq!(app.as_user(&eve).get("/auth/users/me/").await.status(), 200);
    }
    // An operator who suspects the key leaked removes it (and makes another).
    let kid = header(&eve.tokens.access).kid.unwrap();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::signing_keys;
            diesel::delete(signing_keys::table.filter(signing_keys::kid.eq(kid)))
                .execute(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .unwrap();
    app.state
        .keys
        .ensure(latchkey::keys::KeyAlg::Rs256)
        .await
        .unwrap();
    assert_eq!(
        app.as_user(&eve).get("/auth/users/me/").await.status(),
        401,
        "a remembered signature does not outlive its key"
    );
    let fresh = app.login("eve", crate::helpers::PERSONA_PASSWORD).await;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &fresh.access)
            .await
            .status(),
        200
    );
}

async fn keys_rotate_by_age_when_asked_to_and_one_successor_at_a_time(backend: Backend) {
    use latchkey::keys::KeyAlg;
    let env = [
        ("LATCHKEY_JWT_ALGORITHM", "RS256"),
        ("LATCHKEY_KEY_ROTATE_AFTER", "3600"),
        ("LATCHKEY_KEY_PUBLISH_DELAY", "600"),
    ];
    let Some((app, clock)) = spawn_app_on_clock(backend, &env).await else {
        return;
    };
    let keys = &app.state.keys;
    assert_eq!(
        keys.rotate_if_due(KeyAlg::Rs256).await.unwrap(),
        None,
        "young"
    );
    clock.advance(Duration::seconds(3600));
    let successor = keys.rotate_if_due(KeyAlg::Rs256).await.unwrap();
    assert!(successor.is_some(), "an hour old: rotated");
    assert_eq!(
        keys.rotate_if_due(KeyAlg::Rs256).await.unwrap(),
        None,
        "a successor is already waiting"
    );
    let states: Vec<&str> = keys
        .list()
        .await
        .unwrap()
        .iter()
        .map(|k| k.state.as_str())
        .collect();
    assert_eq!(states, ["active", "pending"]);
    clock.advance(Duration::seconds(600));
    let dee = app.persona("dee").await;
    assert_eq!(
        header(&dee.tokens.access).kid,
        successor,
        "the successor signs"
    );
    assert_eq!(keys.rotate_if_due(KeyAlg::Rs256).await.unwrap(), None);

    // Off by default: a year-old key stays until an operator rotates it.
    let Some((manual, clock)) =
        spawn_app_on_clock(backend, &[("LATCHKEY_JWT_ALGORITHM", "RS256")]).await
    else {
        return;
    };
    clock.advance(Duration::days(365));
    assert_eq!(
        manual
            .state
            .keys
            .rotate_if_due(KeyAlg::Rs256)
            .await
            .unwrap(),
        None
    );
}
