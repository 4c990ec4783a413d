//! Rootless podman on the cgroup v2 node: the image's user `runwrl` (subordinate ranges from
//! useradd, lingering, so systemd runs its user manager and session bus with nobody logged
//! in; Debian 12's `user@.service` delegates `cpu memory pids` to it) runs podman with
//! `--runtime /usr/bin/runw`. With `--cgroup-manager systemd` (podman's default there) each
//! container is a scope of the user's own manager, under
//! `/user.slice/user-UID.slice/user@UID.service/user.slice/libpod-ID.scope`, holding its
//! `--memory` and `--pids-limit`; with `cgroupfs` the containers run without limits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use runw_integration::podman::{busybox_tar, wait_for_log, IMAGE};
use runw_integration::runw::Outcome;

use super::{cgroup_of, guest, read};

/// The user `ci/vm/image` made.
const USER: &str = "runwrl";
const COMPAT: &str = "module.wasm.image/variant=compat";
/// `--memory 64m --pids-limit 50`, as the container's cgroup shows them.
const LIMITS: [&str; 4] = ["--memory", "64m", "--pids-limit", "50"];
const MEMORY_MAX: &str = "67108864";
const PIDS_MAX: &str = "50";

/// The user, its manager running, with the busybox image and compat wasm images.
#[derive(Debug)]
pub struct User {
    uid: u32,
    home: PathBuf,
    hello: String,
    exit_with: String,
    busy: String,
}

impl User {
    /// Starts the user's manager (lingering starts it at boot; this waits for it), checks
    /// what it delegates and imports the images.
    pub fn start() -> User {
        let account = nix::unistd::User::from_name(USER)
            .unwrap()
            .expect("no user runwrl in the VM image");
        let uid = account.uid.as_raw();
        let status = Command::new("systemctl")
            .args(["start", &format!("user@{uid}.service")])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "systemctl start user@{uid}.service failed"
        );
        let bus = PathBuf::from(format!("/run/user/{uid}/bus"));
        for _ in 0..300 {
            if bus.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            bus.exists(),
            "the user's session bus {} never appeared",
            bus.display()
        );
        let delegated = read(format!(
            "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.subtree_control"
        ));
        for controller in ["memory", "pids"] {
            assert!(
                delegated.contains(controller),
                "user@{uid}.service does not delegate {controller}: {delegated}"
            );
        }
        let mut user = User {
            uid,
            home: account.dir,
            hello: String::new(),
            exit_with: String::new(),
            busy: String::new(),
        };
        user.write_containers_conf();
        let info = user.ok(
            "systemd",
            &[
                "info",
                "--format",
                "{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}",
            ],
        );
        assert_eq!(
            info.stdout.trim(),
            "systemd v2",
            "rootless podman's cgroups"
        );
        let tar = busybox_tar(&user.home);
        user.give(&tar);
        user.ok("systemd", &["import", tar.to_str().unwrap(), IMAGE]);
        user.hello = user.wasm_image("hello");
        user.exit_with = user.wasm_image("exit_with");
        user.busy = user.wasm_image("busy_loop");
        user
    }

    /// `podman --runtime /usr/bin/runw --cgroup-manager MANAGER ARGS` as the user, with its
    /// runtime dir and session bus, as a login session has them.
    fn podman(&self, manager: &str, args: &[&str]) -> Outcome {
        let uid = self.uid;
        let out = Command::new("runuser")
            .args(["-u", USER, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR=/run/user/{uid}"))
            .arg(format!(
                "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus"
            ))
            .arg(format!("HOME={}", self.home.display()))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .args([
                "podman",
                "--runtime",
                "/usr/bin/runw",
                "--cgroup-manager",
                manager,
            ])
            .args(args)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Outcome::from(out)
    }

    fn ok(&self, manager: &str, args: &[&str]) -> Outcome {
        let out = self.podman(manager, args);
        assert_eq!(
            out.code, 0,
            "podman --cgroup-manager {manager} {args:?}: {out:?}"
        );
        out
    }

    /// No network for the containers (the VM has none to give).
    fn write_containers_conf(&self) {
        let mut path = self.home.clone();
        for dir in [".config", "containers"] {
            path.push(dir);
            std::fs::create_dir_all(&path).unwrap();
            self.give(&path);
        }
        let conf = path.join("containers.conf");
        std::fs::write(&conf, "[containers]\nnetns = \"none\"\n").unwrap();
        self.give(&conf);
    }

    fn give(&self, path: &Path) {
        let uid = nix::unistd::Uid::from_raw(self.uid);
        nix::unistd::chown(path, Some(uid), None).unwrap();
    }

    /// A compat image `FROM scratch` holding only the test guest `name`, its entrypoint.
    fn wasm_image(&self, name: &str) -> String {
        let context = self.home.join(format!("ctx-{name}"));
        std::fs::create_dir_all(&context).unwrap();
        std::fs::copy(guest(name), context.join("module.wasm")).unwrap();
        let containerfile =
            format!("FROM scratch\nCOPY module.wasm /{name}.wasm\nENTRYPOINT [\"/{name}.wasm\"]\n");
        std::fs::write(context.join("Containerfile"), containerfile).unwrap();
        for path in ["module.wasm", "Containerfile", ""] {
            self.give(&context.join(path));
        }
        let image = format!("localhost/runw-wasm-{}:latest", name.replace('_', "-"));
        self.ok(
            "systemd",
            &[
                "build",
                "--quiet",
                "--tag",
                &image,
                context.to_str().unwrap(),
            ],
        );
        image
    }

    /// The user's `user.slice`, where its manager puts podman's scopes.
    fn slice(&self) -> PathBuf {
        let uid = self.uid;
        PathBuf::from(format!(
            "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/user.slice"
        ))
    }

    /// Container `name` (detached, with [`LIMITS`]) is in its own scope of the user's
    /// manager, which holds the limits; returns the scope's directory.
    fn limited_scope(&self, name: &str) -> PathBuf {
        let id = self
            .ok("systemd", &["inspect", "--format", "{{.Id}}", name])
            .stdout
            .trim()
            .to_owned();
        let pid = self.ok("systemd", &["inspect", "--format", "{{.State.Pid}}", name]);
        let cgroup = cgroup_of(pid.stdout.trim());
        let uid = self.uid;
        let expected =
            format!("/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/libpod-{id}.scope");
        assert_eq!(cgroup, expected, "{name}'s cgroup");
        let dir = Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'));
        assert_eq!(
            read(dir.join("memory.max")),
            MEMORY_MAX,
            "{name}'s memory.max"
        );
        assert_eq!(read(dir.join("pids.max")), PIDS_MAX, "{name}'s pids.max");
        dir
    }

    /// The scopes of podman's containers left in the user's slice.
    fn container_scopes(&self) -> Vec<String> {
        std::fs::read_dir(self.slice())
            .map(|dirs| {
                dirs.flatten()
                    .map(|d| d.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("libpod-") && n.ends_with(".scope"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `podman stop` (with `stop_flags`) container `name`, whose scope is `scope`: its exit
    /// code is `code`; then `podman rm`, after which neither its scope nor any other is left.
    fn stop_and_remove(&self, name: &str, scope: &Path, stop_flags: &[&str], code: &str) {
        self.ok("systemd", &[&["stop"][..], stop_flags, &[name]].concat());
        let out = self.ok(
            "systemd",
            &["inspect", "--format", "{{.State.ExitCode}}", name],
        );
        assert_eq!(out.stdout.trim(), code, "exit code after stop");
        self.ok("systemd", &["rm", name]);
        assert!(
            !scope.exists(),
            "{} is left after podman rm",
            scope.display()
        );
        assert_eq!(self.container_scopes(), Vec::<String>::new(), "scopes left");
    }

    /// A native container: the limits seen from inside (its own cgroup namespace) and in
    /// its scope, exit codes, `podman exec`, `podman stop` and `rm` (no scope left).
    pub fn native(&self) -> String {
        let script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max";
        let run = [&["run", "--rm"][..], &LIMITS, &[IMAGE, "sh", "-c", script]].concat();
        let out = self.ok("systemd", &run);
        assert_eq!(
            out.stdout,
            format!("{MEMORY_MAX}\n{PIDS_MAX}\n"),
            "limits inside: {out:?}"
        );
        let out = self.podman("systemd", &["run", "--rm", IMAGE, "sh", "-c", "exit 7"]);
        assert_eq!(out.code, 7, "{out:?}");
        let name = "rl-native";
        self.ok(
            "systemd",
            &[
                &["run", "-d", "--name", name][..],
                &LIMITS,
                &[IMAGE, "sleep", "600"],
            ]
            .concat(),
        );
        let scope = self.limited_scope(name);
        let out = self.podman(
            "systemd",
            &["exec", name, "sh", "-c", "echo in exec; exit 3"],
        );
        assert_eq!((out.code, out.stdout.as_str()), (3, "in exec\n"), "{out:?}");
        // busybox sleep as PID 1 ignores SIGTERM: podman kills it after the timeout.
        self.stop_and_remove(name, &scope, &["--time", "1"], "137");
        scope.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// A compat wasm container: output, exit code, its scope with the limits, a prompt
    /// `podman stop` (143) and `rm` (no scope left).
    pub fn wasm(&self) -> String {
        let run = [
            &["run", "--rm"][..],
            &LIMITS,
            &["--annotation", COMPAT, &self.hello],
        ]
        .concat();
        let out = self.ok("systemd", &run);
        assert_eq!(out.stdout, "hello from wasm\n", "{out:?}");
        let out = self.podman(
            "systemd",
            &["run", "--rm", "--annotation", COMPAT, &self.exit_with, "42"],
        );
        assert_eq!(out.code, 42, "{out:?}");
        let name = "rl-spin";
        let run = [
            &["run", "-d", "--name", name][..],
            &LIMITS,
            &["--annotation", COMPAT, &self.busy],
        ]
        .concat();
        self.ok("systemd", &run);
        wait_for_log(name, "spinning\n", || {
            self.ok("systemd", &["logs", name]).stdout
        });
        let scope = self.limited_scope(name);
        self.stop_and_remove(name, &scope, &[], "143");
        "hello, 42, limits in its scope, stop 143".into()
    }

    /// `--cgroup-manager cgroupfs`: a native and a wasm container run without limits (the
    /// user may write no cgroup but its manager's subtree, which only systemd hands out);
    /// with limits runw refuses them, as runc does.
    pub fn cgroupfs(&self) -> String {
        let out = self.ok("cgroupfs", &["run", "--rm", IMAGE, "echo", "native"]);
        assert_eq!(out.stdout, "native\n", "{out:?}");
        let out = self.ok(
            "cgroupfs",
            &["run", "--rm", "--annotation", COMPAT, &self.hello],
        );
        assert_eq!(out.stdout, "hello from wasm\n", "{out:?}");
        let out = self.podman(
            "cgroupfs",
            &["run", "--rm", "--annotation", COMPAT, &self.exit_with, "9"],
        );
        assert_eq!(out.code, 9, "{out:?}");
        // runc's rule: limits need a cgroup; refused, saying so.
        let limited = [&["run", "--rm"][..], &LIMITS, &[IMAGE, "true"]].concat();
        let out = self.podman("cgroupfs", &limited);
        assert_ne!(out.code, 0, "{out:?}");
        assert!(
            out.stderr
                .contains("resource limits but no cgroup of its own"),
            "{out:?}"
        );
        "native, hello, 9; limits refused".into()
    }
}
