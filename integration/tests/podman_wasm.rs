//! podman runs compat wasm images (`FROM scratch`, only the module) through runw with the
//! `module.wasm.image/variant=compat` annotation: output, exit code, volumes, logs, stop.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::bundle::{component, guest};
use runw_integration::podman::{wait_for_log, Podman, IMAGE};
use runw_integration::unique_id;

const COMPAT: &str = "module.wasm.image/variant=compat";

#[test]
fn compat_image_runs_as_wasm() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("exit_with"));
    let out = podman.run(&["run", "--rm", "--annotation", COMPAT, &image, "42"]);
    assert_eq!(out.code, 42, "{out:?}");
    let image = podman.build_wasm_image(&guest("hello"));
    let out = podman.run(&["run", "--rm", "--annotation", COMPAT, &image]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
}

#[test]
fn volume_is_readable_and_writable_and_logs_are_kept() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("files"));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("in"), "from the host\n").unwrap();
    let volume = format!("{}:/data", data.path().display());
    let name = unique_id("pmwasm");
    let out = podman.run(&[
        "run",
        "--name",
        &name,
        "--annotation",
        COMPAT,
        "-v",
        &volume,
        &image,
        "write",
        "/data/out",
        "from-guest",
    ]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "wrote from-guest\n"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("out")).unwrap(),
        "from-guest"
    );
    assert_eq!(podman.ok(&["logs", &name]).stdout, "wrote from-guest\n");
    podman.ok(&["rm", &name]);
    let out = podman.run(&[
        "run",
        "--rm",
        "--annotation",
        COMPAT,
        "-v",
        &volume,
        &image,
        "read",
        "/data/in",
    ]);
    assert_eq!(out.stdout, "from the host\n", "{out:?}");
}

#[test]
fn stop_is_prompt() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("busy_loop"));
    let name = unique_id("pmbusy");
    podman.ok(&["run", "-d", "--name", &name, "--annotation", COMPAT, &image]);
    // Stop once the guest runs (it announces itself), not after a guessed delay.
    wait_for_log(&name, "spinning\n", || podman.ok(&["logs", &name]).stdout);
    let begun = Instant::now();
    podman.ok(&["stop", &name]);
    let took = begun.elapsed();
    assert!(took < Duration::from_secs(3), "podman stop took {took:?}");
    let state = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(state.stdout.trim(), "143");
    assert_eq!(podman.ok(&["logs", &name]).stdout, "spinning\n");
    podman.ok(&["rm", &name]);
}

/// `podman pod create --share pid`: ten containers, wasm and Linux mixed, in one PID
/// namespace all start (libcontainer 0.7.0 alone fails some, reading the host's
/// `/proc/<in-pod pid>`), and each Linux one sees its own memory limit.
#[test]
fn ten_containers_of_a_pod_sharing_pids_all_start() {
    let podman = Podman::get();
    let busy = podman.build_wasm_image(&guest("busy_loop"));
    let pause = "localhost/runw-pod-infra:test";
    podman.build_pause_image(pause);
    let pod = unique_id("pmpod");
    podman.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--share",
        "pid",
        "--infra-image",
        pause,
    ]);
    let _removed = PodRemoval(podman, &pod);
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec sleep 600";
    let mut linux = Vec::new();
    for i in 0..10 {
        let name = format!("{pod}-{i}");
        let memory = format!("{}m", 64 + i);
        let common = [
            "run", "-d", "--pod", &pod, "--name", &name, "--memory", &memory,
        ];
        match i % 2 {
            0 => podman.ok(&[&common[..], &["--annotation", COMPAT, &busy]].concat()),
            _ => podman.ok(&[&common[..], &[IMAGE, "sh", "-c", script]].concat()),
        };
        if i % 2 == 1 {
            linux.push((name, (64 + i) << 20));
        }
    }
    for (name, limit) in &linux {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut logs = podman.ok(&["logs", name]).stdout;
        while logs.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            logs = podman.ok(&["logs", name]).stdout;
        }
        assert_eq!(logs.trim(), limit.to_string(), "{name}'s own memory limit");
    }
    let running = podman.ok(&[
        "ps",
        "--filter",
        &format!("pod={pod}"),
        "--filter",
        "status=running",
        "--format",
        "{{.Names}}",
    ]);
    let prefix = format!("{pod}-");
    let up = running.stdout.lines().filter(|l| l.starts_with(&prefix));
    assert_eq!(up.count(), 10, "{}", running.stdout);
}

/// Removes a pod and its containers, whatever the test's outcome; a removal that fails is a
/// failure of the test (podman stops and deletes each container through runw), or, when the
/// test failed already, is said on stderr.
struct PodRemoval<'a>(&'a Podman, &'a str);

impl Drop for PodRemoval<'_> {
    fn drop(&mut self) {
        let out = self.0.run(&["pod", "rm", "--force", self.1]);
        if out.code == 0 {
            return;
        }
        let why = format!("podman pod rm {} failed: {}", self.1, out.stderr);
        if std::thread::panicking() {
            eprintln!("{why}");
        } else {
            panic!("{why}");
        }
    }
}

/// A `FROM scratch` compat image of the `wasi:http/proxy` component, run as an operator would
/// (`podman run -d -p HOSTPORT:8080` on podman's bridge network), answers on the host's
/// published port; `podman stop` ends it promptly (SIGTERM: the server drains and exits 0).
#[test]
fn http_component_answers_on_a_published_port_and_stops_promptly() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&component("http_proxy"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = unique_id("pmhttp");
    let publish = format!("127.0.0.1:{port}:8080");
    podman.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "bridge",
        "-p",
        &publish,
        "--annotation",
        COMPAT,
        &image,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        match http_get(port, "/") {
            Some(answer) => break answer,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("no answer on {publish}: {:?}", podman.run(&["logs", &name])),
        }
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        answer.ends_with("hello from a wasi:http component\n"),
        "{answer:?}"
    );
    let started = Instant::now();
    podman.ok(&["stop", "--time", "10", &name]);
    let took = started.elapsed();
    let code = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    podman.ok(&["rm", &name]);
    assert!(took < Duration::from_secs(5), "podman stop took {took:?}");
    assert_eq!(code.stdout.trim(), "0", "the server drains and exits 0");
}

/// One `GET path` on 127.0.0.1:`port` with `Connection: close`: the whole answer, or `None`
/// while nothing answers yet.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    (!answer.is_empty()).then_some(answer)
}
