//! Two creates of one id, as a retrying caller or a confused orchestrator sends them: exactly
//! one succeeds, and the loser touches nothing of the winner's (as runc).

use std::time::Duration;

use runw_integration::wasm_gen::Shape;
use runw_integration::{unique_id, Bundle, Executor, Runw};

use super::support::{bundle_of, generated, run_to_file, slow_module, Logged};

/// Whether the container `id` exists and its init process is alive.
fn alive(runw: &Runw, id: &str) -> bool {
    let out = runw.run(["state", id]);
    let Ok(state) = serde_json::from_str::<serde_json::Value>(&out.stdout) else {
        return false;
    };
    let pid = state["pid"].as_i64().unwrap_or(0);
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_slow_wasm_create_never_deletes_the_container_that_won_the_id() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let logged = Logged::new("race");
    // The wasm create compiles for seconds; the Linux create of the same id comes meanwhile.
    let wasm = bundle_of(
        &generated(Shape {
            functions: 8000,
            ..slow_module(40)
        }),
        &logged.id,
    );
    let linux = Bundle::new(&["sleep", "60"]);
    let slow = logged.command(&runw, &["create"], &wasm);
    let slow = std::thread::spawn(move || run_to_file(slow));
    std::thread::sleep(Duration::from_millis(300));
    let fast = Logged {
        id: logged.id.clone(),
        log: tempfile::NamedTempFile::new().unwrap(),
    };
    let (fast_code, fast_out) = run_to_file(fast.command(&runw, &["create"], &linux));
    let (slow_code, slow_out) = slow.join().unwrap();
    let winners = usize::from(fast_code == 0) + usize::from(slow_code == 0);
    assert_eq!(winners, 1, "exactly one create must succeed: wasm {slow_code} {slow_out:?}, linux {fast_code} {fast_out:?}");
    let loser = if fast_code == 0 { &slow_out } else { &fast_out };
    assert!(loser.contains("already exists"), "{loser}");
    assert!(alive(&runw, &logged.id), "the winner's container is gone");
    runw.ok(["delete", "--force", &logged.id]);
}

#[test]
fn twenty_pairs_of_same_id_creates_make_exactly_one_container_each() {
    let runw = std::sync::Arc::new(Runw::new());
    for round in 0..20 {
        let id = unique_id("pair");
        let bundles = [Bundle::new(&["sleep", "60"]), Bundle::new(&["sleep", "60"])];
        let results: Vec<(i32, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = bundles
                .iter()
                .map(|bundle| {
                    let mut command = runw.command(["create", "--bundle"]);
                    command.arg(bundle.path()).arg(&id);
                    scope.spawn(move || run_to_file(command))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners = results.iter().filter(|(code, _)| *code == 0).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        let loser = results.iter().find(|(code, _)| *code != 0).unwrap();
        assert!(
            loser.1.contains("already exists"),
            "round {round}: {loser:?}"
        );
        assert!(
            alive(&runw, &id),
            "round {round}: the container that won is not there"
        );
        runw.ok(["delete", "--force", &id]);
    }
}
