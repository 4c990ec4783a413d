//! Debian's containerd with its CRI plugin, started with a config, root, state and socket of
//! the test's own (never the system's), its `runc` runtime's `BinaryName` pointing at runw,
//! and `pod_annotations` letting the wasm annotations through, as crun's Kubernetes docs
//! describe. No registry is reachable: images are built locally with podman and imported
//! with `ctr -n k8s.io images import`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pod_network::PodNetwork;
use crate::podman::Podman;
use crate::runw::Outcome;

/// The sandbox image: busybox waiting, as `pause` does, until it is told to stop.
pub const PAUSE_IMAGE: &str = "localhost/runw-pause:test";

pub struct Containerd {
    dir: PathBuf,
    child: Child,
    pub socket: PathBuf,
    /// The pods' CNI network, when they get one (dropped after containerd).
    network: Option<PodNetwork>,
}

/// What a test asks of its containerd beyond the defaults.
#[derive(Default)]
pub struct Options<'a> {
    /// A CNI bridge network of the test's own, for pods in their own network namespace.
    pub network: Option<PodNetwork>,
    /// The wasm executor runw uses (`RUNW_EXECUTOR` in containerd's environment, which
    /// the runc shim passes on to runw); otherwise runw's default.
    pub executor: Option<&'a Path>,
    /// runw's options say `SystemdCgroup = true` (a cgroup v2 node with systemd as init:
    /// the systemd cgroup driver kubelet uses by default).
    pub systemd_cgroup: bool,
}

/// The runtime section the docs give operators (`docs/containerd-runw.toml`), used as is
/// but for where runw lives and keeps its state.
const DOCUMENTED: &str = include_str!("../../docs/containerd-runw.toml");

/// The config: the test's own dirs and socket, the documented sections (the CRI plugin's
/// and runw's) with the test's CRI keys added, and CNI config in the test dir. With
/// `systemd_cgroup`, runw's options say `SystemdCgroup = true`, as on a node whose kubelet
/// uses the systemd cgroup driver (containerd then calls `runw --systemd-cgroup`).
fn config(dir: &Path, runw: &Path, systemd_cgroup: bool) -> String {
    let d = dir.display();
    let runw_section = DOCUMENTED
        .replace(
            "BinaryName = \"/usr/bin/runw\"",
            &format!(
                "BinaryName = \"{}\"\n  Root = \"{d}/runw-root\"\n  SystemdCgroup = {systemd_cgroup}",
                runw.display()
            ),
        )
        // The CRI plugin's own table is the documented one (it holds restrict_oom_score_adj,
        // which this machine needs: it lacks CAP_SYS_RESOURCE); the test's keys join it.
        .replace(
            "restrict_oom_score_adj = true",
            &format!(
                "restrict_oom_score_adj = true\n  sandbox_image = \"{PAUSE_IMAGE}\"\n  \
                 netns_mounts_under_state_dir = true\n  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n  \
                 enable_selinux = false\n  disable_apparmor = true"
            ),
        )
        // A copying snapshotter: works on any filesystem the test dir is on.
        .replace(
            "default_runtime_name = \"runw\"",
            "default_runtime_name = \"runw\"\n  snapshotter = \"native\"",
        );
    assert!(
        runw_section.contains(&runw.display().to_string()),
        "docs/containerd-runw.toml lost its BinaryName"
    );
    assert!(
        runw_section.contains("sandbox_image"),
        "docs/containerd-runw.toml lost restrict_oom_score_adj"
    );
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"

[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

{runw_section}
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{d}/cni"
"#
    )
}

impl Containerd {
    /// Starts containerd and waits for its socket.
    pub fn start() -> Containerd {
        Containerd::start_with(Options::default())
    }

    /// Starts containerd with runw's `SystemdCgroup = true` (a cgroup v2 node with systemd as
    /// init: the systemd cgroup driver kubelet uses by default).
    pub fn start_with_systemd_cgroup() -> Containerd {
        Containerd::start_with(Options {
            systemd_cgroup: true,
            ..Options::default()
        })
    }

    /// Starts containerd with `options` and waits for its socket.
    pub fn start_with(options: Options) -> Containerd {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the containerd tests need root"
        );
        assert!(
            Path::new("/usr/bin/containerd").exists(),
            "containerd is missing: install Debian's containerd (ci/setup does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("runw-containerd-")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(dir.join("cni")).unwrap();
        if let Some(network) = &options.network {
            network.write_conflist(&dir.join("cni"), &dir);
        }
        std::fs::write(
            dir.join("config.toml"),
            config(&dir, &crate::runw::binary(), options.systemd_cgroup),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let mut command = Command::new("/usr/bin/containerd");
        // Without an executor of the test's, runw chooses as on a node: never one inherited.
        match options.executor {
            Some(executor) => command.env("RUNW_EXECUTOR", executor),
            None => command.env_remove("RUNW_EXECUTOR"),
        };
        let child = command
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start /usr/bin/containerd: {err}"));
        let socket = dir.join("containerd.sock");
        let mut containerd = Containerd {
            dir,
            child,
            socket,
            network: options.network,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while containerd.ctr(&["version"]).code != 0 {
            if let Ok(Some(status)) = containerd.child.try_wait() {
                panic!("containerd exited ({status}): {}", containerd.log());
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not come up: {}",
                containerd.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        containerd
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pods' CNI network, if they have one.
    pub fn network(&self) -> Option<&PodNetwork> {
        self.network.as_ref()
    }

    /// `ctr --address SOCKET --namespace k8s.io ARGS`.
    pub fn ctr(&self, args: &[&str]) -> Outcome {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Outcome::from(out)
    }

    /// Copies `image` from the tests' podman storage into containerd's k8s.io namespace.
    pub fn import(&self, podman: &Podman, image: &str) {
        let tar = self
            .dir
            .join(format!("{}.tar", image.replace(['/', ':'], "_")));
        podman.ok(&[
            "save",
            "--format",
            "docker-archive",
            "--output",
            tar.to_str().unwrap(),
            image,
        ]);
        let out = self.ctr(&["images", "import", tar.to_str().unwrap()]);
        assert_eq!(out.code, 0, "ctr images import {image}: {}", out.stderr);
    }

    /// Builds the sandbox image on the tests' busybox image and imports it.
    pub fn import_pause(&self, podman: &Podman) {
        podman.build_pause_image(PAUSE_IMAGE);
        self.import(podman, PAUSE_IMAGE);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::SIGTERM,
        );
        let _ = self.child.wait();
        // Whatever a failed test left mounted under containerd's dirs.
        if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
            let dir = self.dir.to_string_lossy().into_owned();
            let mut points: Vec<&str> = mountinfo
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.starts_with(&dir))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for point in points {
                let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // The bridge goes last, once nothing is attached to it.
        drop(self.network.take());
    }
}
