//! Who may do what to which account: one rule in the core (`accounts::Actor`), the same answer
//! through the API, the pages and the CLI; and a database error that is an error, not a logout.

use diesel::RunQueryDsl;
use latchkey::accounts::{self, AccountsError, Actor, NewSuperuser, PageAt};
use latchkey::db::DbError;
use latchkey::domain::{Email, NewPassword, Username};
use serde_json::json;

use crate::helpers::{
    Backend, PERSONA_PASSWORD, backend_tests, base_env, json_body, run_cli, spawn_app, stderr,
};

backend_tests!(
    users_reach_only_themselves_and_staff_everyone,
    the_pages_act_only_on_the_signed_in_account,
    operator_actions_belong_to_the_operator_alone,
    a_database_error_shows_the_500_page_and_keeps_the_session,
);

const HIDDEN: &str = "Not found.";

async fn users_reach_only_themselves_and_staff_everyone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let alice = app.persona("alice").await;
    let bob = app.persona("bob").await;
    let boss = app.staff_persona("boss").await;
    let (bob_path, missing) = (format!("/auth/users/{}/", bob.id), "/auth/users/999999/");

    // A user learns nothing about other accounts, not even whether they exist: the refusal
    // comes before the lookup, and before the body is read.
    for path in [bob_path.as_str(), missing] {
        let seen = app.as_user(&alice).get(path).await;
        assert_eq!(seen.status(), 404, "{path}");
        assert_eq!(json_body(seen).await, json!({"detail": HIDDEN}));
        let patched = app
            .as_user(&alice)
            .patch(path, json!({"first_name": 5}))
            .await;
        assert_eq!(
            patched.status(),
            404,
            "{path}: refused before the fields are read"
        );
        let deleted = app.as_user(&alice).delete(path, json!({})).await;
        assert_eq!(deleted.status(), 403, "{path}");
        assert_eq!(
            json_body(deleted).await,
            json!({"detail": "You do not have permission to perform this action."})
        );
    }

    // Staff reach everyone, and still prove who they are before deleting anyone.
    let renamed = app
        .as_user(&boss)
        .patch(
            &format!("/auth/users/{}/", alice.id),
            json!({"first_name": "Al"}),
        )
        .await;
    assert_eq!(json_body(renamed).await["first_name"], "Al");
    let absent = app.as_user(&boss).delete(missing, json!({})).await;
    assert_eq!(absent.status(), 404, "the object before the fields");
    assert_eq!(
        json_body(absent).await,
        json!({"detail": "No User matches the given query."})
    );
    let unproven = app.as_user(&boss).delete(&bob_path, json!({})).await;
    assert_eq!(
        json_body(unproven).await,
        json!({"current_password": ["This field is required."]})
    );
    let wrong = app
        .as_user(&boss)
        .delete(&bob_path, json!({"current_password": "not it"}))
        .await;
    assert_eq!(
        json_body(wrong).await,
        json!({"current_password": ["Invalid password."]})
    );
    let body = json!({"current_password": PERSONA_PASSWORD});
    assert_eq!(
        app.as_user(&boss).delete(&bob_path, body).await.status(),
        204
    );
    assert_eq!(app.as_user(&bob).get("/auth/users/me/").await.status(), 401);
    assert_eq!(app.as_user(&boss).get(&bob_path).await.status(), 404);
}

/// Ends a session through the account page's form, by the handle its row shows.
async fn end_by_handle(tab: &crate::helpers::Tab<'_>, handle: &str) -> reqwest::Response {
    let page = tab.page("/accounts/profile/").await;
    let action = format!("/accounts/sessions/{handle}/end/");
    tab.post_from(&page, &action, &[]).await
}

async fn the_pages_act_only_on_the_signed_in_account(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let alice = app.persona("alice").await;
    let bob = app.persona("bob").await;
    let alice_tab = app.tab_logged_in("alice").await;
    let bob_tab = app.tab_logged_in("bob").await;
    let bobs = latchkey::sessions::service::list_sessions(&app.state, bob.id)
        .await
        .unwrap();
    assert_eq!(bobs.len(), 2, "bob's browser and API sessions");

    // Alice posts the end-session form with each of Bob's handles: nothing of Bob's ends.
    for (session, _) in &bobs {
        let ended = end_by_handle(&alice_tab, &session.handle()).await;
        assert_eq!(ended.status(), 303);
    }
    let still = latchkey::sessions::service::list_sessions(&app.state, bob.id)
        .await
        .unwrap();
    assert_eq!(still.len(), 2, "Bob's sessions survive Alice's posts");
    assert_eq!(app.as_user(&bob).get("/auth/users/me/").await.status(), 200);
    assert_eq!(bob_tab.status("/accounts/profile/").await, 200);

    // Her own API session she can end from the same form.
    let own = latchkey::sessions::service::list_sessions(&app.state, alice.id)
        .await
        .unwrap();
    let (api, _) = own.iter().find(|(s, _)| s.kind == "api").unwrap();
    assert_eq!(end_by_handle(&alice_tab, &api.handle()).await.status(), 303);
    assert_eq!(
        app.as_user(&alice).get("/auth/users/me/").await.status(),
        401
    );
}

async fn operator_actions_belong_to_the_operator_alone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let bob = app.persona("bob").await;
    let boss = app.staff_persona("boss").await;
    let staff = Actor::User(
        accounts::get_user(&app.state, &Actor::Operator, boss.id)
            .await
            .unwrap(),
    );
    let state = &app.state;
    let user = accounts::get_user(state, &Actor::Operator, bob.id)
        .await
        .unwrap();
    let password = NewPassword::parse_bypassing_policy("taken over".into()).unwrap();
    let superuser = NewSuperuser {
        username: Username::parse("root2").unwrap(),
        email: Email::parse("root2@example.com").unwrap(),
        password: None,
    };
    // Staff are not superusers: none of the operator's tools work for them, whatever adapter
    // would offer them.
    let refusals = [
        accounts::set_password(state, &staff, &user, &password)
            .await
            .err(),
        accounts::set_active(state, &staff, "bob", false)
            .await
            .err(),
        accounts::unlock(state, &staff, "bob").await.err(),
        accounts::create_superuser(state, &staff, superuser)
            .await
            .err(),
    ];
    for refusal in refusals {
        assert!(
            matches!(refusal, Some(AccountsError::Forbidden)),
            "{refusal:?}"
        );
    }
    // Nobody signed in sees no one.
    let listing = accounts::list_users(
        state,
        &Actor::Anonymous,
        Default::default(),
        PageAt::Number(1),
        10,
    )
    .await;
    assert!(matches!(listing, Err(AccountsError::Forbidden)));
    assert!(matches!(
        accounts::get_user(state, &Actor::Anonymous, bob.id).await,
        Err(AccountsError::Forbidden)
    ));
    assert_eq!(app.as_user(&bob).get("/auth/users/me/").await.status(), 200);

    // The operator at the command line needs no password to do the same.
    let env = base_env(&app.db);
    let deactivated = run_cli(&["users", "deactivate", "bob"], &env, app.db.dir.path());
    assert!(deactivated.status.success(), "{}", stderr(&deactivated));
    assert_eq!(app.as_user(&bob).get("/auth/users/me/").await.status(), 401);
    let deleted = run_cli(
        &["users", "delete", "bob", "--yes"],
        &env,
        app.db.dir.path(),
    );
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(matches!(
        accounts::get_user(state, &Actor::Operator, bob.id).await,
        Err(AccountsError::NotFound)
    ));
}

/// Renames a column the session lookup reads, so that lookup fails with a real database error
/// (not a lost connection), and back.
async fn rename_session_column(app: &crate::helpers::TestApp, from: &str, to: &str) {
    let sql = format!("ALTER TABLE sessions RENAME COLUMN {from} TO {to}");
    app.state
        .db
        .run(move |conn| -> Result<usize, DbError> { Ok(diesel::sql_query(sql).execute(conn)?) })
        .await
        .unwrap();
}

async fn a_database_error_shows_the_500_page_and_keeps_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.persona("ada").await;
    let tab = app.tab_logged_in("ada").await;

    rename_session_column(&app, "renewable", "renewable_gone").await;
    let failed = tab.get("/accounts/profile/").await;
    assert_eq!(
        failed.status(),
        500,
        "an error, not a redirect to the login page"
    );
    assert!(
        failed.headers().get("set-cookie").is_none(),
        "the session cookie is left alone"
    );
    let request_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = failed.text().await.unwrap();
    assert!(page.contains(&request_id), "the page names the request id");
    assert!(!page.contains("renewable"), "nothing internal on the page");

    rename_session_column(&app, "renewable_gone", "renewable").await;
    let back = tab.get("/accounts/profile/").await;
    assert_eq!(
        back.status(),
        200,
        "still logged in once the database is well"
    );
}
