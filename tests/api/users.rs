//! Djoser's user endpoints: me, list, detail, set_password, set_email, registration retype.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    Backend, Spawn, assert_401, backend_tests, create_staff, create_user, json_body, spawn_app,
    spawn_app_with,
};

backend_tests!(
    me_reads_the_current_user_without_its_password,
    me_updates_names_but_not_the_address_or_read_only_fields,
    me_is_deleted_with_the_password_and_its_tokens_die,
    list_shows_staff_everyone_and_others_themselves,
    detail_follows_djosers_permissions_without_leaking_ids,
    set_password_checks_everything_and_ends_other_sessions,
    set_email_checks_password_and_uniqueness,
    registration_retype_is_enforced_when_enabled,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn me_reads_the_current_user_without_its_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let jane = app.persona("jane").await;
    let me = json_body(app.as_user(&jane).get("/auth/users/me").await).await;
    assert_eq!(me["id"], jane.id);
    assert_eq!(me["email"], "jane@example.com");
    assert!(me.get("password").is_none());
}

async fn me_updates_names_but_not_the_address_or_read_only_fields(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let jane = app.persona("jane").await;
    app.persona("other").await;
    let as_jane = app.as_user(&jane);
    let patched = as_jane
        .patch(
            "/auth/users/me/",
            json!({"first_name": " Jane ", "username": "ignored", "id": 99}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let body = json_body(patched).await;
    assert_eq!(body["first_name"], "Jane");
    assert_eq!(body["username"], "jane", "username is read-only here");
    assert_eq!(body["id"], jane.id);

    let put = |body| as_jane.send(Method::PUT, "/auth/users/me/", body);
    let missing = put(json!({"last_name": "Doe"})).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        json_body(missing).await,
        json!({"email": ["This field is required."]})
    );
    // The address is read-only here (whether or not the other one is taken): a bearer
    // token alone must not be enough to move the account to another mailbox.
    let taken = put(json!({"email": "OTHER@example.com"})).await;
    assert_eq!(taken.status(), 400);
    assert_eq!(
        json_body(taken).await,
        json!({"email": ["The email address cannot be changed here: use set_email (/auth/users/set_email/) with your current password, then confirm the new address from the link mailed to it."]})
    );
    let long = as_jane
        .patch("/auth/users/me/", json!({"last_name": "x".repeat(151)}))
        .await;
    assert_eq!(
        json_body(long).await,
        json!({"last_name": ["Ensure this field has no more than 150 characters."]})
    );
    let same = put(json!({"email": "Jane@Example.com", "last_name": "Doe"})).await;
    assert_eq!(same.status(), 200, "the same address, spelt differently");
    let body = json_body(same).await;
    assert_eq!(body["email"], "Jane@Example.com");
    assert_eq!(body["last_name"], "Doe");
    assert_eq!(body["first_name"], "Jane");
}

async fn me_is_deleted_with_the_password_and_its_tokens_die(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let jane = app.persona("jane").await;
    let as_jane = app.as_user(&jane);
    let missing = as_jane.delete("/auth/users/me/", json!({})).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        json_body(missing).await,
        json!({"current_password": ["This field is required."]})
    );
    let wrong = as_jane
        .delete("/auth/users/me/", json!({"current_password": "nope"}))
        .await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        json_body(wrong).await,
        json!({"current_password": ["Invalid password."]})
    );
    let deleted = as_jane
        .delete("/auth/users/me/", json!({"current_password": PASSWORD}))
        .await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.text().await.unwrap().is_empty());
    assert_401(
        as_jane.get("/auth/users/me/").await,
        json!({"detail": "User not found", "code": "user_not_found"}),
    )
    .await;
    assert_401(
        app.refresh(&jane.tokens.refresh).await,
        json!({"detail": "Token is invalid", "code": "token_not_valid"}),
    )
    .await;
}

async fn list_shows_staff_everyone_and_others_themselves(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_USERS_PAGE_SIZE", "2".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    create_staff(&app, "boss", "boss@example.com", PASSWORD).await;
    for name in ["u1", "u2", "u3"] {
        create_user(&app, name, &format!("{name}@example.com"), PASSWORD).await;
    }
    let user = app.login("u1", PASSWORD).await;
    let own = json_body(app.get_bearer("/auth/users/", &user.access).await).await;
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["username"], "u1");

    let staff = app.login("boss", PASSWORD).await;
    let all = json_body(app.get_bearer("/auth/users/", &staff.access).await).await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "u1", "u2", "u3"]);

    let page1 = json_body(app.get_bearer("/auth/users/?page=1", &staff.access).await).await;
    assert_eq!(page1["count"], 4);
    assert_eq!(page1["previous"], serde_json::Value::Null);
    let second_id = page1["results"][1]["id"].as_i64().unwrap();
    let next = page1["next"].as_str().unwrap();
    assert!(
        next.ends_with(&format!("/auth/users?page=2&after={second_id}")),
        "the next link carries where page 1 ended: {page1}"
    );
    assert_eq!(page1["results"].as_array().unwrap().len(), 2);
    let path = &next[next.find("/auth").unwrap()..];
    let page2 = json_body(app.get_bearer(path, &staff.access).await).await;
    assert_eq!(page2["next"], serde_json::Value::Null);
    assert_eq!(page2["results"][1]["username"], "u3");
    let by_number = json_body(app.get_bearer("/auth/users?page=2", &staff.access).await).await;
    assert_eq!(
        by_number, page2,
        "a page number alone reaches the same page"
    );
    let previous = page2["previous"].as_str().unwrap();
    let third_id = page2["results"][0]["id"].as_i64().unwrap();
    assert!(
        previous.ends_with(&format!("/auth/users?page=1&before={third_id}")),
        "{page2}"
    );
    let path = &previous[previous.find("/auth").unwrap()..];
    let back = json_body(app.get_bearer(path, &staff.access).await).await;
    assert_eq!(back["results"], page1["results"]);
    for bad in ["3", "0", "x", "2&after=x", "2&before=-"] {
        let response = app
            .get_bearer(&format!("/auth/users/?page={bad}"), &staff.access)
            .await;
        assert_eq!(response.status(), 404, "page {bad}");
        assert_eq!(
            json_body(response).await,
            json!({"detail": "Invalid page."})
        );
    }
    assert_401(
        app.get("/auth/users/").await,
        json!({"detail": "Authentication credentials were not provided."}),
    )
    .await;
}

async fn detail_follows_djosers_permissions_without_leaking_ids(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_staff(&app, "root", "root@example.com", PASSWORD).await;
    let kim = create_user(&app, "kim", "kim@example.com", PASSWORD).await;
    let lee = create_user(&app, "lee", "lee@example.com", PASSWORD).await;
    let user = app.login("kim", PASSWORD).await;
    let staff = app.login("root", PASSWORD).await;

    let own = app
        .get_bearer(&format!("/auth/users/{kim}/"), &user.access)
        .await;
    assert_eq!(own.status(), 200);
    for id in [lee, 999_999] {
        let response = app
            .get_bearer(&format!("/auth/users/{id}"), &user.access)
            .await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            json_body(response).await,
            json!({"detail": "Not found."}),
            "id {id}"
        );
    }
    let forbidden = app
        .send_bearer(
            Method::DELETE,
            &format!("/auth/users/{lee}/"),
            &user.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        json_body(forbidden).await,
        json!({"detail": "You do not have permission to perform this action."})
    );

    let seen = json_body(
        app.get_bearer(&format!("/auth/users/{lee}/"), &staff.access)
            .await,
    )
    .await;
    assert_eq!(seen["username"], "lee");
    let missing = app.get_bearer("/auth/users/999999/", &staff.access).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        json_body(missing).await,
        json!({"detail": "No User matches the given query."})
    );
    let not_a_number = app.get_bearer("/auth/users/abc/", &staff.access).await;
    assert_eq!(not_a_number.status(), 404);
    let patched = app
        .send_bearer(
            Method::PATCH,
            &format!("/auth/users/{lee}/"),
            &staff.access,
            &json!({"first_name": "Lee"}),
        )
        .await;
    assert_eq!(json_body(patched).await["first_name"], "Lee");
    let deleted = app
        .send_bearer(
            Method::DELETE,
            &format!("/auth/users/{lee}/"),
            &staff.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        app.get_bearer(&format!("/auth/users/{lee}/"), &staff.access)
            .await
            .status(),
        404
    );
}

async fn set_password_checks_everything_and_ends_other_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "mia", "mia@example.com", PASSWORD).await;
    let here = app.login("mia", PASSWORD).await;
    let elsewhere = app.login("mia@example.com", PASSWORD).await;
    let path = "/auth/users/set_password/";

    let missing = app
        .send_bearer(Method::POST, path, &here.access, &json!({}))
        .await;
    assert_eq!(
        json_body(missing).await,
        json!({"new_password": ["This field is required."], "current_password": ["This field is required."]})
    );
    let wrong = app
        .send_bearer(
            Method::POST,
            path,
            &here.access,
            &json!({"current_password": "nope", "new_password": "x"}),
        )
        .await;
    assert_eq!(
        json_body(wrong).await,
        json!({"current_password": ["Invalid password."]})
    );
    let weak = app
        .send_bearer(
            Method::POST,
            path,
            &here.access,
            &json!({"current_password": PASSWORD, "new_password": "mia12"}),
        )
        .await;
    assert_eq!(weak.status(), 400);
    assert_eq!(
        json_body(weak).await,
        json!({"new_password": [
            "The password is too similar to the username.",
            "This password is too short. It must contain at least 8 characters."
        ]})
    );
    // re_new_password is ignored while retyping is off (front ends send it anyway).
    let ok = app
        .send_bearer(
            Method::POST,
            path,
            &here.access,
            &json!({"current_password": PASSWORD, "new_password": "a whole new secret", "re_new_password": "different"}),
        )
        .await;
    assert_eq!(ok.status(), 204);

    assert_eq!(
        app.get_bearer("/auth/users/me/", &here.access)
            .await
            .status(),
        200,
        "this session stays"
    );
    assert_eq!(app.refresh(&here.refresh).await.status(), 200);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &elsewhere.access)
            .await
            .status(),
        401,
        "others end at once"
    );
    assert_eq!(app.refresh(&elsewhere.refresh).await.status(), 401);
    app.login("mia", "a whole new secret").await;
}

async fn set_email_checks_password_and_uniqueness(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "ned", "ned@example.com", PASSWORD).await;
    create_user(&app, "oz", "oz@example.com", PASSWORD).await;
    let tokens = app.login("ned", PASSWORD).await;
    let path = "/auth/users/set_email/";
    // The password is checked first: a wrong one says nothing about the address.
    let both = app
        .send_bearer(
            Method::POST,
            path,
            &tokens.access,
            &json!({"current_password": "bad", "new_email": "OZ@example.com"}),
        )
        .await;
    assert_eq!(
        json_body(both).await,
        json!({"current_password": ["Invalid password."]})
    );
    let taken = app
        .send_bearer(
            Method::POST,
            path,
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_email": "OZ@example.com"}),
        )
        .await;
    assert_eq!(
        json_body(taken).await,
        json!({"new_email": ["user with this email address already exists."]})
    );
    let invalid = app
        .send_bearer(
            Method::POST,
            path,
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_email": "nope"}),
        )
        .await;
    assert_eq!(
        json_body(invalid).await,
        json!({"new_email": ["Enter a valid email address."]})
    );
    let ok = app
        .send_bearer(
            Method::POST,
            path,
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_email": "Ned@New.example"}),
        )
        .await;
    assert_eq!(ok.status(), 204);
    let me = json_body(app.get_bearer("/auth/users/me/", &tokens.access).await).await;
    assert_eq!(me["email"], "ned@example.com", "unchanged until confirmed");
    let link = app.wait_for_mail(1).await.remove(0);
    assert_eq!(link.to, "Ned@New.example");
    let path = link.link_path();
    let (uid, token) = path
        .trim_end_matches('/')
        .rsplit_once('/')
        .map(|(head, token)| (head.rsplit('/').next().unwrap(), token))
        .unwrap();
    let confirmed = app
        .post_json(
            "/auth/users/set_email_confirm/",
            &json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    let me = json_body(app.get_bearer("/auth/users/me/", &tokens.access).await).await;
    assert_eq!(me["email"], "Ned@New.example", "the asking session stays");
    app.login("ned@new.example", PASSWORD).await;
}

async fn registration_retype_is_enforced_when_enabled(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_USER_CREATE_PASSWORD_RETYPE", "true".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let missing = app
        .post_json(
            "/auth/users/",
            &json!({"email": "p@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        json_body(missing).await,
        json!({"re_password": ["This field is required."]})
    );
    let mismatch = app
        .post_json(
            "/auth/users/",
            &json!({"email": "p@example.com", "password": PASSWORD, "re_password": "other"}),
        )
        .await;
    assert_eq!(mismatch.status(), 400);
    assert_eq!(
        json_body(mismatch).await,
        json!({"non_field_errors": ["The two password fields didn't match."]})
    );
    let ok = app
        .post_json(
            "/auth/users/",
            &json!({"email": "p@example.com", "password": PASSWORD, "re_password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status(), 201);
}
