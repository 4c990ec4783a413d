//! What a host-side compile of an untrusted module may cost and reach (the compile cache's
//! `--precompile` on a miss): it is charged to the pod's own cgroups, jailed (nobody, no
//! capabilities, seccomp, no network, an empty root), bounded by a timeout and a node-wide
//! number at once, dies with the runw that started it, fails fast on an invalid module,
//! and runw itself never holds the module in memory.

use std::time::Duration;

use runw_integration::wasm_gen::Shape;
use runw_integration::{conformance, Executor, Feature, Runw};
use serde_json::json;

use super::support::{
    self, bundle_of, entries, generated, names, run_to_file, slow_module, status_field, wait_for,
    Logged,
};

conformance!(
    a_compile_is_charged_to_the_pod_and_bounded_by_its_memory_limit,
    a_compile_is_jailed_and_dies_with_runw,
    a_compile_that_outlasts_the_timeout_is_killed,
    compiles_at_once_are_bounded_node_wide,
    an_invalid_module_fails_before_it_is_compiled,
    runw_does_not_hold_the_module_in_memory,
);

/// Jailed compiles (`EXECUTOR --precompile`) whose parent is `parent`.
fn compiles_of(exec: &Executor, parent: u32) -> Vec<(i32, String)> {
    support::processes_named(exec.name)
        .into_iter()
        .filter(|(pid, status)| {
            status_field(status, "PPid") == parent.to_string()
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"--precompile"))
        })
        .collect()
}

/// For an executor without a compiled form, nothing is compiled: say so and stop.
fn compiles(exec: &Executor) -> bool {
    if let Some(why) = exec.lacks(Feature::CompiledForm) {
        eprintln!("{}: no host-side compile to bound ({why})", exec.name);
        return false;
    }
    true
}

fn a_compile_is_charged_to_the_pod_and_bounded_by_its_memory_limit(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    // A pod with room: the compile happens, and the pod's cgroup carries its memory.
    let logged = Logged::new("charged");
    let mut bundle = bundle_of(&generated(slow_module(1)), &logged.id);
    bundle.edit(|c| c["linux"]["resources"] = json!({"memory": {"limit": 2u64 << 30}}));
    let (code, out) = run_to_file(logged.command(&runw, &["create"], &bundle));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        entries(runw.cache_dir()).len(),
        1,
        "compiled and cached: {:?}",
        logged.messages()
    );
    let peak =
        support::memory_peak(&format!("runwsec-{}", logged.id)).expect("the pod's memory cgroup");
    assert!(
        peak > 32 << 20,
        "the pod's cgroup peaked at {peak} bytes: the compile was not charged to it"
    );
    runw.ok(["delete", "--force", &logged.id]);

    // A pod whose limit the compile exceeds: the compile is killed inside the pod's limit,
    // nothing is cached, and create still succeeds (the executor compiles at start, as the
    // same pod would with the cache off).
    let logged = Logged::new("bounded");
    let mut bundle = bundle_of(&generated(slow_module(2)), &logged.id);
    bundle.edit(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 24u64 << 20, "swap": 24u64 << 20}})
    });
    let (code, out) = run_to_file(logged.command(&runw, &["create"], &bundle));
    assert_eq!(code, 0, "{out}");
    let messages = logged.messages();
    assert!(
        messages.iter().any(|m| m.contains("--precompile failed")),
        "the compile should have failed within 24 MiB: {messages:#?}"
    );
    assert_eq!(entries(runw.cache_dir()).len(), 1, "nothing more cached");
    runw.ok(["delete", "--force", &logged.id]);
}

fn a_compile_is_jailed_and_dies_with_runw(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let logged = Logged::new("jailed");
    let bundle = bundle_of(
        &generated(Shape {
            functions: 12000,
            ..slow_module(3)
        }),
        &logged.id,
    );
    let mut command = logged.command(&runw, &["create"], &bundle);
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut create = command.spawn().unwrap();
    let found = wait_for(60, || compiles_of(exec, create.id()).into_iter().next());
    let Some((pid, status)) = found else {
        let _ = create.kill();
        panic!(
            "no compile of runw {} seen: {:?}",
            create.id(),
            logged.messages()
        );
    };
    // Read what the compile may do while it runs.
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let root: Vec<_> = names(std::path::Path::new(&format!("/proc/{pid}/root")));
    let fds = names(std::path::Path::new(&format!("/proc/{pid}/fd")));
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    // Then kill runw: the compile must die with it.
    create.kill().unwrap();
    create.wait().unwrap();
    let gone = wait_for(10, || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    runw.run(["delete", "--force", &logged.id]);

    assert_eq!(
        status_field(&status, "Uid").split_whitespace().next(),
        Some("65534"),
        "{status}"
    );
    assert_eq!(
        status_field(&status, "Gid").split_whitespace().next(),
        Some("65534"),
        "{status}"
    );
    assert_eq!(status_field(&status, "Groups"), "", "{status}");
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&status, caps),
            "0000000000000000",
            "{caps}: {status}"
        );
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1", "{status}");
    assert_eq!(status_field(&status, "Seccomp"), "2", "{status}");
    assert_ne!(net, host_net, "the compile shares the host's network");
    assert!(
        root.is_empty(),
        "the compile sees files at its root: {root:?}"
    );
    let extra: Vec<_> = fds
        .iter()
        .filter(|fd| !["0", "1", "2"].contains(&fd.as_str()))
        .collect();
    assert!(
        extra.len() <= 2,
        "the compile holds descriptors beyond its stdio: {fds:?}"
    );
    assert!(
        cgroups.contains(&format!("runwsec-{}", logged.id)),
        "not in the pod's cgroups: {cgroups}"
    );
    assert!(
        gone.is_some(),
        "compile {pid} outlived the runw that started it"
    );

    // What the killed compile left in the cache's tmp/ goes at the next start.
    let next = Logged::new("after-kill");
    let bundle = bundle_of(
        &generated(Shape {
            functions: 10,
            ..slow_module(4)
        }),
        &next.id,
    );
    let (code, out) = run_to_file(next.command(&runw, &["run"], &bundle));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        names(&runw.cache_dir().join("tmp")),
        Vec::<String>::new(),
        "temporary files left behind"
    );
    let locks: Vec<_> = names(&runw.cache_dir().join("locks"))
        .into_iter()
        .filter(|n| !n.starts_with("slot."))
        .collect();
    assert_eq!(locks, Vec::<String>::new(), "lock files left behind");
}

fn a_compile_that_outlasts_the_timeout_is_killed(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let mut runw = Runw::with_executor(exec);
    runw.env("RUNW_COMPILE_TIMEOUT", "1");
    let logged = Logged::new("timeout");
    let bundle = bundle_of(
        &generated(Shape {
            functions: 12000,
            ..slow_module(5)
        }),
        &logged.id,
    );
    let started = std::time::Instant::now();
    let (code, out) = run_to_file(logged.command(&runw, &["create"], &bundle));
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}");
    let messages = logged.messages();
    assert!(
        messages.iter().any(|m| m.contains("timeout")),
        "{messages:#?}"
    );
    assert!(
        entries(runw.cache_dir()).is_empty(),
        "a killed compile cached something"
    );
    assert!(
        took < Duration::from_secs(30),
        "create took {took:?} with a 1 s compile timeout"
    );
    runw.ok(["delete", "--force", &logged.id]);
}

fn compiles_at_once_are_bounded_node_wide(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let mut runw = Runw::with_executor(exec);
    runw.env("RUNW_COMPILE_JOBS", "1");
    let runs: Vec<_> = (0..3)
        .map(|n| {
            let logged = Logged::new("jobs");
            let bundle = bundle_of(&generated(slow_module(10 + n)), &logged.id);
            let mut command = logged.command(&runw, &["run"], &bundle);
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            (command.spawn().unwrap(), logged, bundle)
        })
        .collect();
    let parents: Vec<u32> = runs.iter().map(|(child, _, _)| child.id()).collect();
    let mut most = 0;
    let mut seen = 0;
    let mut runs = runs;
    loop {
        let now: usize = parents.iter().map(|p| compiles_of(exec, *p).len()).sum();
        most = most.max(now);
        seen += usize::from(now > 0);
        let done = runs
            .iter_mut()
            .all(|(child, _, _)| child.try_wait().unwrap().is_some());
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for (mut child, logged, _bundle) in runs {
        assert_eq!(
            child.wait().unwrap().code(),
            Some(0),
            "{:?}",
            logged.messages()
        );
    }
    assert!(seen > 0, "no compile observed");
    assert_eq!(
        most, 1,
        "{most} compiles ran at once with RUNW_COMPILE_JOBS=1"
    );
    assert_eq!(
        entries(runw.cache_dir()).len(),
        3,
        "every module compiled in turn"
    );
}

fn an_invalid_module_fails_before_it_is_compiled(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let logged = Logged::new("invalid");
    let bundle = bundle_of(
        &generated(Shape {
            invalid_last: true,
            ..slow_module(6)
        }),
        &logged.id,
    );
    let (code, out) = run_to_file(logged.command(&runw, &["run"], &bundle));
    assert_eq!(code, 126, "an invalid module cannot load: {out}");
    let messages = logged.messages();
    let failure = messages
        .iter()
        .find(|m| m.contains("--precompile failed"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    // Validated whole before any function is compiled: the failure is a validation error.
    assert!(
        failure.contains("invalid") || failure.contains("alidation"),
        "{failure}"
    );
    assert!(entries(runw.cache_dir()).is_empty());
}

fn runw_does_not_hold_the_module_in_memory(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let logged = Logged::new("memory");
    let size = 64 << 20;
    let bundle = bundle_of(
        &generated(Shape {
            functions: 50,
            padding: size,
            ..slow_module(7)
        }),
        &logged.id,
    );
    let mut command = logged.command(&runw, &["create"], &bundle);
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut create = command.spawn().unwrap();
    let status_path = format!("/proc/{}/status", create.id());
    let mut peak_kib = 0u64;
    while create.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            let hwm = status_field(&status, "VmHWM")
                .trim_end_matches(" kB")
                .parse()
                .unwrap_or(0);
            peak_kib = peak_kib.max(hwm);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(create.wait().unwrap().success(), "{:?}", logged.messages());
    assert_eq!(
        entries(runw.cache_dir()).len(),
        1,
        "compiled: {:?}",
        logged.messages()
    );
    assert!(peak_kib > 0, "runw's memory was never read");
    assert!(
        peak_kib * 1024 < (size / 4) as u64,
        "runw peaked at {peak_kib} KiB for a {size}-byte module"
    );
    runw.ok(["delete", "--force", &logged.id]);
}
