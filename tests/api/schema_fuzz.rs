//! The OpenAPI document and the server agree: schemathesis (pinned; `.ci/run` installs it)
//! generates requests from `/api/schema/` and runs every check against the real server, as a
//! staff user, on both databases. `tests/schemathesis/schemathesis.toml` bounds and seeds it.

use crate::helpers::{Backend, Spawn, backend_tests, create_staff, missing_tool, spawn_app_with};

backend_tests!(schemathesis_finds_no_disagreement);

/// The schemathesis executable: `LATCHKEY_SCHEMATHESIS`, else `schemathesis` on the PATH.
fn schemathesis() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("LATCHKEY_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        return Some(path.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("schemathesis"))
            .find(|candidate| candidate.is_file())
    })
}

async fn schemathesis_finds_no_disagreement(backend: Backend) {
    let Some(tool) = schemathesis() else {
        missing_tool(
            "schemathesis is not installed (pip install schemathesis==4.32.5, or set LATCHKEY_SCHEMATHESIS)",
        );
        return;
    };
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![
                // Throttling would answer most generated requests with 429 and test nothing.
                ("LATCHKEY_THROTTLE_ENABLED", "false".into()),
                // So resend_activation has something to do instead of its "off" 400.
                ("LATCHKEY_SEND_ACTIVATION_EMAIL", "true".into()),
            ],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    create_staff(
        &app,
        "boss",
        "boss@example.com",
        "correct horse battery staple",
    )
    .await;
    let token = app
        .login("boss", "correct horse battery staple")
        .await
        .access;
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schemathesis/schemathesis.toml"
    );
    let output = tokio::process::Command::new(tool)
        .args(["--config-file", config, "run"])
        .arg(app.url("/api/schema/"))
        .args(["--checks", "all", "--header"])
        .arg(format!("Authorization: Bearer {token}"))
        .env("NO_COLOR", "1")
        // Its cache of examples goes in the test's own directory, not the repository.
        .current_dir(app.db.dir.path())
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found disagreements:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = |label: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|n| n.split('/').next())
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no {label:?} in:\n{report}"))
    };
    let (selected, tested) = (count("Selected: "), count("Tested: "));
    assert_eq!(
        selected, tested,
        "every selected operation was tested:\n{report}"
    );
    assert!(tested >= 30, "{report}");
}
