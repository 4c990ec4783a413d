//! Wasm pods through containerd's CRI plugin, driven as kubelet drives it: containerd's runc
//! runtime has `BinaryName` = runw and lets the wasm pod annotations through.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::bundle::{component, guest};
use runw_integration::containerd::Containerd;
use runw_integration::containerd::Options;
use runw_integration::cri::Pod;
use runw_integration::cri::{log_lines, log_path, Cri, PodSpec};
use runw_integration::pod_network::PodNetwork;
use runw_integration::podman::{Podman, IMAGE};

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

/// The wasm server of the pod-network tests: the `wasi:http/proxy` test component in a
/// `FROM scratch` image, served by runw's default executor (wasmtime-exec) on its default
/// address, `0.0.0.0:8080`.
const PORT: u16 = 8080;
const ANSWER: &str = "hello from a wasi:http component";

fn http_image(podman: &Podman) -> String {
    podman.build_wasm_image(&component("http_proxy"))
}

/// containerd whose pods get their own network namespace on a CNI bridge network of the
/// test's own, with `images` imported. Its runw chooses the executor itself: no
/// `RUNW_EXECUTOR` reaches it, so the default path is what runs.
fn containerd_on_pod_network(images: &[&str]) -> Containerd {
    let podman = Podman::get();
    let containerd = Containerd::start_with(Options {
        network: Some(PodNetwork::create()),
        ..Options::default()
    });
    containerd.import_pause(podman);
    for image in images {
        containerd.import(podman, image);
    }
    containerd
}

/// `curl` of `url` from the host until it answers (the server may still be starting),
/// within 30 s: the body.
fn curl(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--max-time", "5", url])
            .output()
            .unwrap();
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{url} does not answer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The server container's log says that wasmtime-exec serves it: runw's default executor.
fn assert_served_by_default_executor(logs: &std::path::Path) {
    let lines = log_lines(&log_path(logs, "server"));
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("wasmtime-exec: serving /http-proxy.wasm on http://0.0.0.0:8080/")),
        "{lines:?}"
    );
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
fn a_wasm_http_pod_answers_on_its_pod_ip() {
    let image = http_image(Podman::get());
    let containerd = containerd_on_pod_network(&[&image]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let pod = cri.run_pod_on_pod_network(&PodSpec {
        name: "wasm-server",
        annotations: &[("module.wasm.image/variant", "compat")],
        log_dir: logs.path(),
    });
    let app = cri.start_container(&pod, "server", &image, &[]);
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
    let body = curl(&format!("http://{ip}:{PORT}/"));
    assert_eq!(body.trim_end(), ANSWER);
    assert_served_by_default_executor(logs.path());
    assert_eq!(cri.status(&app).state, RUNNING);
    remove_networked_pod(&mut cri, &containerd, &pod, &ip);
}

#[test]
fn a_native_sidecar_fetches_from_the_wasm_server_over_loopback() {
    let image = http_image(Podman::get());
    let containerd = containerd_on_pod_network(&[&image, IMAGE]);
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir().unwrap();
    let pod = cri.run_pod_on_pod_network(&PodSpec {
        name: "mesh-server",
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    });
    let app = cri.start_container(&pod, "server", &image, &[]);
    let ip = cri.pod_ip(&pod);
    curl(&format!("http://{ip}:{PORT}/"));
    // busybox's wget, native, in the pod's network namespace: its loopback is the guest's.
    // Without `-T`: Debian 12's busybox 1.35 wget segfaults with it (wait_exited bounds it).
    let url = format!("http://127.0.0.1:{PORT}/");
    let sidecar = cri.start_container(
        &pod,
        "proxy",
        IMAGE,
        &["/bin/busybox", "wget", "-q", "-O", "-", &url],
    );
    let status = cri.wait_exited(&sidecar, 30);
    assert_eq!(status.exit_code, 0, "{status:?}");
    assert_eq!(log_lines(&log_path(logs.path(), "proxy")), [ANSWER]);
    assert_served_by_default_executor(logs.path());
    assert_eq!(cri.status(&app).state, RUNNING);
    remove_networked_pod(&mut cri, &containerd, &pod, &ip);
}
