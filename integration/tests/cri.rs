//! Wasm pods through containerd's CRI plugin, driven as kubelet drives it: containerd's runc
//! runtime has `BinaryName` = runw and lets the wasm pod annotations through.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::bundle::guest;
use runw_integration::containerd::Containerd;
use runw_integration::containerd::Options;
use runw_integration::cri::Pod;
use runw_integration::cri::{log_lines, log_path, Cri, PodSpec};
use runw_integration::pod_network::PodNetwork;
use runw_integration::podman::{Podman, IMAGE};
use runw_integration::socket_guests::echo_through;

const RUNNING: i32 = k8s_cri::v1::ContainerState::ContainerRunning as i32;

/// containerd with the pause image and the given wasm images imported.
fn containerd_with(images: &[&str]) -> Containerd {
    let podman = Podman::get();
    let containerd = Containerd::start();
    containerd.import_pause(podman);
    for image in images {
        containerd.import(podman, image);
    }
    containerd
}

#[test]
fn a_compat_pod_runs_its_module_and_reports_output_and_exit_code() {
    let podman = Podman::get();
    let hello = podman.build_wasm_image(&guest("hello"));
    let exit_with = podman.build_wasm_image(&guest("exit_with"));
    let containerd = containerd_with(&[&hello, &exit_with]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();

    let pod = cri.run_pod(&PodSpec {
        name: "wasm-pod",
        annotations: &[("module.wasm.image/variant", "compat")],
        log_dir: logs.path(),
    });
    let id = cri.start_container(&pod, "hello", &hello, &[]);
    let status = cri.wait_exited(&id, 30);
    assert_eq!(status.exit_code, 0, "{status:?}");
    assert_eq!(
        log_lines(&log_path(logs.path(), "hello")),
        ["hello from wasm"]
    );

    let id = cri.start_container(&pod, "exits", &exit_with, &["/exit-with.wasm", "7"]);
    let status = cri.wait_exited(&id, 30);
    assert_eq!(
        status.exit_code, 7,
        "the guest's exit code reaches the CRI status: {status:?}"
    );

    cri.stop_pod(&pod);
    cri.remove_pod(&pod);
}

#[test]
fn a_compat_smart_pod_runs_wasm_beside_a_native_sidecar_and_stops_promptly() {
    let podman = Podman::get();
    let busy = podman.build_wasm_image(&guest("busy_loop"));
    let containerd = containerd_with(&[&busy, IMAGE]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();

    let pod = cri.run_pod(&PodSpec {
        name: "mesh-pod",
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    });
    let wasm = cri.start_container(&pod, "app", &busy, &[]);
    let sidecar = cri.start_container(
        &pod,
        "proxy",
        IMAGE,
        &["sh", "-c", "echo proxy up; exec sleep 600"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&log_path(logs.path(), "app")).is_empty()
        || log_lines(&log_path(logs.path(), "proxy")).is_empty()
    {
        assert!(Instant::now() < deadline, "no output: {}", containerd.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        log_lines(&log_path(logs.path(), "app")),
        ["spinning"],
        "the wasm container runs its module"
    );
    assert_eq!(
        log_lines(&log_path(logs.path(), "proxy")),
        ["proxy up"],
        "the sidecar runs as Linux"
    );
    assert_eq!(cri.status(&wasm).state, RUNNING);
    assert_eq!(cri.status(&sidecar).state, RUNNING);

    let stopping = Instant::now();
    cri.stop_pod(&pod);
    let took = stopping.elapsed();
    for id in [&wasm, &sidecar] {
        let status = cri.status(id);
        assert_ne!(
            status.state, RUNNING,
            "{id} survived StopPodSandbox: {status:?}"
        );
    }
    // A hang guard, not a speed target: containerd stops a pod's containers with SIGKILL.
    assert!(
        took < Duration::from_secs(10),
        "StopPodSandbox took {took:?}"
    );
    cri.remove_pod(&pod);
}

/// The PID namespaces kubelet asks for: one per container by default, one per pod with
/// `shareProcessNamespace: true`, where a native sidecar's `ps` sees the wasm guest.
fn pid_namespace_test(share: bool) -> Vec<String> {
    let podman = Podman::get();
    let busy = podman.build_wasm_image(&guest("busy_loop"));
    let containerd = containerd_with(&[&busy, IMAGE]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let spec = PodSpec {
        name: if share {
            "shared-pid-pod"
        } else {
            "own-pid-pod"
        },
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    };
    let pod = cri.run_pod_sharing_pids(&spec, share);
    let wasm = cri.start_container(&pod, "app", &busy, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&log_path(logs.path(), "app")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no output from app: {}",
            containerd.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // What `ps` reads (the test image's busybox has no `ps` applet).
    let script = "echo pid=$$; for p in /proc/[0-9]*; do echo proc=$(cat $p/cmdline); done";
    let sidecar = cri.start_container(&pod, "ps", IMAGE, &["sh", "-c", script]);
    let status = cri.wait_exited(&sidecar, 30);
    assert_eq!(status.exit_code, 0, "{status:?}");
    assert_eq!(cri.status(&wasm).state, RUNNING);
    cri.stop_pod(&pod);
    cri.remove_pod(&pod);
    log_lines(&log_path(logs.path(), "ps"))
}

#[test]
fn by_default_each_container_has_its_own_pid_namespace() {
    let lines = pid_namespace_test(false);
    assert!(
        lines.contains(&"pid=1".to_owned()),
        "the sidecar is not PID 1 of its own namespace: {lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("wasm") || l.contains("pause")),
        "{lines:?}"
    );
}

#[test]
fn share_process_namespace_lets_a_sidecar_see_the_guest() {
    let lines = pid_namespace_test(true);
    assert!(
        !lines.contains(&"pid=1".to_owned()),
        "PID 1 is the pause container: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("busy")),
        "the guest is not visible: {lines:?}"
    );
}

/// A pod sharing one PID namespace (`shareProcessNamespace: true`) of ten containers, wasm
/// and Linux mixed: all start (libcontainer 0.7.0 alone fails some, reading the host's
/// `/proc/<in-pod pid>`), and each Linux one sees its own cgroup and memory limit.
#[test]
fn ten_containers_sharing_a_pid_namespace_all_start_each_in_its_own_cgroups() {
    let podman = Podman::get();
    let busy = podman.build_wasm_image(&guest("busy_loop"));
    let containerd = containerd_with(&[&busy, IMAGE]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let spec = PodSpec {
        name: "crowded-pid-pod",
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    };
    let pod = cri.run_pod_sharing_pids(&spec, true);
    let script =
        "cat /proc/self/cgroup /sys/fs/cgroup/memory/memory.limit_in_bytes; exec sleep 600";
    let mut linux = Vec::new();
    let mut wasm = Vec::new();
    for i in 0..10 {
        let name = format!("c{i}");
        let limit = (64 + i) << 20;
        match i % 2 {
            0 => wasm.push(cri.start_container_limited(&pod, &name, &busy, &[], limit)),
            _ => {
                let command = ["sh", "-c", script];
                let id = cri.start_container_limited(&pod, &name, IMAGE, &command, limit);
                linux.push((name, id, limit));
            }
        }
    }
    for (name, id, limit) in &linux {
        let log = log_path(logs.path(), name);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !log_lines(&log).iter().any(|l| l.parse::<i64>().is_ok()) {
            assert!(Instant::now() < deadline, "no output from {name}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let lines = log_lines(&log);
        let memory = lines.iter().find(|l| l.contains(":memory:"));
        assert!(
            memory.is_some_and(|l| l.ends_with(id.as_str())),
            "{name}'s /proc/self/cgroup does not name its own cgroup {id}: {lines:?}"
        );
        assert!(
            lines.contains(&limit.to_string()),
            "{name} does not see its own memory limit {limit} in /sys/fs/cgroup: {lines:?}"
        );
    }
    for id in wasm.iter().chain(linux.iter().map(|(_, id, _)| id)) {
        assert_eq!(cri.status(id).state, RUNNING, "{id}");
    }
    cri.stop_pod(&pod);
    cri.remove_pod(&pod);
}

/// The wasm server of the pod-network tests: its image, command, executor and port, and a
/// request it must answer (raw TCP: the client half-closes, then reads to EOF). Another
/// server (the wasmtime HTTP component, say) takes its place by changing this function.
struct PodServer {
    image: String,
    command: Vec<String>,
    executor: &'static str,
    port: u16,
    request: &'static str,
    answer: &'static str,
}

fn pod_server(podman: &Podman) -> PodServer {
    let image = podman.build_wasm_image(&guest("wasix_echo"));
    PodServer {
        image,
        command: vec!["/wasix-echo.wasm".into(), "0.0.0.0:8080".into()],
        executor: "wasmer-exec",
        port: 8080,
        request: "hello pod\n",
        answer: "hello pod\n",
    }
}

/// containerd whose pods get their own network namespace on a CNI bridge network of the
/// test's own, with `server`'s image imported and its executor in use.
fn containerd_on_pod_network(server: &PodServer, images: &[&str]) -> Containerd {
    let podman = Podman::get();
    let executor = runw_integration::Executor::named(server.executor);
    let containerd = Containerd::start_with(Options {
        network: Some(PodNetwork::create()),
        executor: Some(&executor.path),
        ..Options::default()
    });
    containerd.import_pause(podman);
    containerd.import(podman, &server.image);
    for image in images {
        containerd.import(podman, image);
    }
    containerd
}

/// Asks the server at `addr` until it answers (it may still be starting), within 30 s.
fn ask(server: &PodServer, addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = std::panic::catch_unwind(|| echo_through(addr, server.request));
        match reply {
            Ok(reply) if !reply.is_empty() => return reply,
            _ if Instant::now() > deadline => panic!("{addr} does not answer"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Stops and removes `pod` and checks that its network is gone: no veth on the bridge, no
/// IPAM lease.
fn remove_networked_pod(cri: &mut Cri, containerd: &Containerd, pod: &Pod, ip: &str) {
    cri.stop_pod(pod);
    cri.remove_pod(pod);
    let network = containerd.network().unwrap();
    assert_eq!(
        network.attached(),
        "",
        "a veth is left on {}",
        network.bridge
    );
    assert!(
        !network.leased(containerd.dir(), ip),
        "host-local still leases {ip}"
    );
}

#[test]
fn a_wasm_server_pod_answers_on_its_pod_ip() {
    let server = pod_server(Podman::get());
    let containerd = containerd_on_pod_network(&server, &[]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let pod = cri.run_pod_on_pod_network(&PodSpec {
        name: "wasm-server",
        annotations: &[("module.wasm.image/variant", "compat")],
        log_dir: logs.path(),
    });
    let command: Vec<&str> = server.command.iter().map(String::as_str).collect();
    let app = cri.start_container(&pod, "server", &server.image, &command);
    let ip = cri.pod_ip(&pod);
    let network = containerd.network().unwrap();
    assert!(network.holds(&ip), "{ip} is not on {}", network.bridge);
    assert!(
        network.attached().contains("veth"),
        "the pod's veth is on the bridge"
    );
    assert!(
        network.leased(containerd.dir(), &ip),
        "host-local leases {ip}"
    );
    let reply = ask(&server, &format!("{ip}:{}", server.port));
    assert!(reply.contains(server.answer), "{reply:?}");
    assert_eq!(cri.status(&app).state, RUNNING);
    remove_networked_pod(&mut cri, &containerd, &pod, &ip);
}

#[test]
fn a_native_sidecar_reaches_the_wasm_server_over_loopback() {
    let server = pod_server(Podman::get());
    let containerd = containerd_on_pod_network(&server, &[IMAGE]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let pod = cri.run_pod_on_pod_network(&PodSpec {
        name: "mesh-server",
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    });
    let command: Vec<&str> = server.command.iter().map(String::as_str).collect();
    let app = cri.start_container(&pod, "server", &server.image, &command);
    let ip = cri.pod_ip(&pod);
    ask(&server, &format!("{ip}:{}", server.port));
    // busybox's nc, native, in the pod's network namespace: its loopback is the guest's.
    let script = format!(
        "printf '{}' | /bin/busybox nc -w 3 127.0.0.1 {}",
        server.request.escape_default(),
        server.port
    );
    let sidecar = cri.start_container(&pod, "proxy", IMAGE, &["/bin/busybox", "sh", "-c", &script]);
    let status = cri.wait_exited(&sidecar, 30);
    assert_eq!(status.exit_code, 0, "{status:?}");
    let reply = log_lines(&log_path(logs.path(), "proxy")).join("\n");
    assert!(
        reply.contains(server.answer.trim_end()),
        "the sidecar got {reply:?}"
    );
    assert_eq!(cri.status(&app).state, RUNNING);
    remove_networked_pod(&mut cri, &containerd, &pod, &ip);
}
