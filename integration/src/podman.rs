//! podman driving runw through `--runtime`, with storage, configuration and image of the
//! tests' own, so nothing touches the machine's podman setup.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::runw::Outcome;

/// The image the tests run: busybox-static imported as `localhost/runw-busybox`.
pub const IMAGE: &str = "localhost/runw-busybox:latest";

/// One podman storage per test process, shared by its tests (podman locks it).
pub struct Podman {
    dir: PathBuf,
}

impl Podman {
    /// The shared instance, created and given its image on first use.
    pub fn get() -> &'static Podman {
        static PODMAN: OnceLock<Podman> = OnceLock::new();
        PODMAN.get_or_init(Podman::setup)
    }

    fn setup() -> Podman {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the podman tests need root"
        );
        let dir = tempfile::Builder::new()
            .prefix("runw-podman-")
            .tempdir()
            .unwrap()
            .keep();
        // This machine lacks CAP_SYS_RESOURCE: podman's default ulimits cannot be raised.
        let conf = format!(
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             netns = \"none\"\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\nruntime = \"runw\"\n\n[engine.runtimes]\nrunw = [\"{}\"]\n",
            crate::runw::binary().display()
        );
        std::fs::write(dir.join("containers.conf"), conf).unwrap();
        let podman = Podman { dir };
        podman.import_busybox();
        podman
    }

    fn import_busybox(&self) {
        let tar = busybox_tar(&self.dir);
        self.ok(&["import", tar.to_str().unwrap(), IMAGE]);
    }

    /// Builds a compat wasm image `FROM scratch` holding only `module` as `/NAME.wasm`, its
    /// entrypoint, with `podman build`; returns the image name.
    pub fn build_wasm_image(&self, module: &Path) -> String {
        let name = module
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('_', "-");
        let context = tempfile::tempdir().unwrap();
        std::fs::copy(module, context.path().join("module.wasm")).unwrap();
        let containerfile =
            format!("FROM scratch\nCOPY module.wasm /{name}.wasm\nENTRYPOINT [\"/{name}.wasm\"]\n");
        std::fs::write(context.path().join("Containerfile"), containerfile).unwrap();
        let image = format!("localhost/runw-wasm-{name}:latest");
        self.ok(&[
            "build",
            "--quiet",
            "--tag",
            &image,
            context.path().to_str().unwrap(),
        ]);
        image
    }

    /// Builds `tag`: busybox waiting, as `pause` does, until it is told to stop (the sandbox
    /// of a containerd pod, the infra container of a podman pod; no registry is reachable).
    pub fn build_pause_image(&self, tag: &str) {
        let context = tempfile::tempdir().unwrap();
        let containerfile = format!(
            "FROM {IMAGE}\nENTRYPOINT [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done\"]\n"
        );
        std::fs::write(context.path().join("Containerfile"), containerfile).unwrap();
        self.ok(&[
            "build",
            "--quiet",
            "--tag",
            tag,
            context.path().to_str().unwrap(),
        ]);
    }

    /// `podman` with the tests' storage and configuration.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command(args).output().unwrap())
    }

    pub fn ok(&self, args: &[&str]) -> Outcome {
        let out = self.run(args);
        assert_eq!(out.code, 0, "podman {args:?} failed: {}", out.stderr);
        out
    }

    /// Runs podman under a pseudo-terminal (`script`), for `-t`; returns its exit code and
    /// what the terminal showed.
    pub fn run_in_terminal(&self, args: &[&str]) -> Outcome {
        let mut line = String::from("podman");
        for arg in self.command(args).get_args() {
            line.push(' ');
            line.push_str(&shell_quote(&arg.to_string_lossy()));
        }
        let out = Command::new("script")
            .args(["--quiet", "--return", "--command", &line, "/dev/null"])
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Outcome::from(out)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A tar of a busybox-static rootfs, `DIR/busybox.tar`, for `podman import` as [`IMAGE`]
/// (no registry is reachable).
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let bundle = crate::Bundle::new(&["true"]);
    let tar = dir.join("busybox.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(bundle.rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar of the busybox rootfs failed");
    tar
}

/// Waits (up to 10 s) until container `name`'s log, as `logs` reads it, is `expected`.
pub fn wait_for_log(name: &str, expected: &str, logs: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logged = logs();
        if logged == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never logged {expected:?}: {logged:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
