//! An unprivileged user, made for one test, running rootless podman with runw as its
//! runtime, as a developer does on their own machine.
//!
//! [`RootlessUser::create`] creates the user (`useradd` with a home; Debian's useradd gives it
//! subordinate uid and gid ranges in `/etc/subuid` and `/etc/subgid`), a runtime dir it owns
//! (`$XDG_RUNTIME_DIR`), a `containers.conf` in its home (runw as the runtime, no network,
//! ulimits this machine can set: it lacks CAP_SYS_RESOURCE), and a copy of runw and the
//! executors in a directory only root may write, as packages install them. podman's storage
//! is the user's own, under its home. Dropping it stops the user's podman (its pause
//! process), kills whatever the user still runs, and removes the user, its home, its
//! subordinate ranges, its runtime dir and the copy of runw.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::runw::Outcome;

/// The busybox image every rootless user gets (imported from busybox-static).
pub use crate::podman::IMAGE;

/// The annotation that makes a container wasm.
pub const COMPAT: &str = "module.wasm.image/variant=compat";

pub struct RootlessUser {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    /// runw and the executors, root's, mode 755.
    pub bin: tempfile::TempDir,
}

impl RootlessUser {
    /// A new user with its own podman storage holding [`IMAGE`], whose runw has the first
    /// executor built (so that one runs its wasm containers).
    pub fn create() -> RootlessUser {
        RootlessUser::create_with(&first_executor())
    }

    /// A new user like [`RootlessUser::create`]'s whose runw has `executor` alone.
    pub fn create_with(executor: &crate::Executor) -> RootlessUser {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the rootless tests need root to create their user"
        );
        let name = unique_name();
        add_user(&name);
        let account = nix::unistd::User::from_name(&name)
            .unwrap()
            .expect("the user just added");
        let uid = account.uid.as_raw();
        let home = account.dir;
        let runtime_dir = PathBuf::from(format!("/tmp/{name}-run"));
        let bin = install_runw(executor);
        let user = RootlessUser {
            name,
            uid,
            home,
            runtime_dir,
            bin,
        };
        user.make_owned_dir(&user.runtime_dir, 0o700);
        user.write_containers_conf();
        user.import_busybox();
        user
    }

    /// The runw the user's podman runs.
    pub fn runw(&self) -> PathBuf {
        self.bin.path().join("runw")
    }

    /// A command run as the user, in its home, with its runtime dir.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()))
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .arg(program)
            .args(args)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// `podman ARGS` as the user.
    pub fn podman(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command("podman", args).output().unwrap())
    }

    /// `podman ARGS` as the user, which must succeed.
    pub fn podman_ok(&self, args: &[&str]) -> Outcome {
        let out = self.podman(args);
        assert_eq!(out.code, 0, "podman {args:?} failed: {}", out.stderr);
        out
    }

    /// A directory `path` owned by the user, with `mode`.
    pub fn make_owned_dir(&self, path: &Path, mode: u32) {
        std::fs::create_dir_all(path).unwrap();
        self.give(path);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Makes `path` the user's.
    pub fn give(&self, path: &Path) {
        let uid = Some(nix::unistd::Uid::from_raw(self.uid));
        let gid = std::fs::metadata(&self.home).unwrap().gid();
        nix::unistd::chown(path, uid, Some(nix::unistd::Gid::from_raw(gid))).unwrap();
    }

    /// Builds a compat wasm image `FROM scratch` holding only `module` as its entrypoint,
    /// with the compat annotation on the image itself when `annotated`; returns its name.
    pub fn build_wasm_image(&self, module: &Path, annotated: bool) -> String {
        let stem = module
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('_', "-");
        let context = self.home.join(format!("ctx-{stem}-{annotated}"));
        self.make_owned_dir(&context, 0o755);
        std::fs::copy(module, context.join("module.wasm")).unwrap();
        let containerfile =
            format!("FROM scratch\nCOPY module.wasm /{stem}.wasm\nENTRYPOINT [\"/{stem}.wasm\"]\n");
        std::fs::write(context.join("Containerfile"), containerfile).unwrap();
        let image = format!("localhost/runw-wasm-{stem}-{annotated}:latest");
        let context = context.to_str().unwrap();
        // --no-cache: a cached build would give the layer without the image's annotation.
        let mut args = vec!["build", "--quiet", "--no-cache", "--tag", &image];
        if annotated {
            args.extend(["--annotation", COMPAT]);
        }
        args.push(context);
        self.podman_ok(&args);
        image
    }

    /// Builds image `tag` from `containerfile` with `files` (name in the context, source)
    /// in its context.
    pub fn build_image(&self, tag: &str, containerfile: &str, files: &[(&str, &Path)]) {
        let context = self
            .home
            .join(format!("ctx-{}", tag.replace(['/', ':'], "-")));
        self.make_owned_dir(&context, 0o755);
        for (name, source) in files {
            std::fs::copy(source, context.join(name)).unwrap();
        }
        std::fs::write(context.join("Containerfile"), containerfile).unwrap();
        self.podman_ok(&["build", "--quiet", "--tag", tag, context.to_str().unwrap()]);
    }

    /// runw and its executor copied to `dir`, all owned by the user, as a developer who
    /// built them in their home has them; returns runw's path there.
    pub fn install_own_runw(&self, dir: &Path) -> PathBuf {
        self.make_owned_dir(dir, 0o755);
        for entry in std::fs::read_dir(self.bin.path()).unwrap().flatten() {
            let copy = dir.join(entry.file_name());
            std::fs::copy(entry.path(), &copy).unwrap();
            self.give(&copy);
        }
        dir.join("runw")
    }

    /// A bundle `NAME` in the user's home made as a user makes one for runc: `rootfs` copied
    /// in, the user's, then `runw spec --rootless` (a user namespace mapping root to the
    /// user) with no terminal and `annotations`.
    pub fn spec_rootless_bundle(
        &self,
        name: &str,
        rootfs: &Path,
        annotations: &[(&str, &str)],
    ) -> PathBuf {
        let bundle = self.home.join(name);
        self.make_owned_dir(&bundle, 0o755);
        let copy = Command::new("cp")
            .arg("-a")
            .arg(rootfs)
            .arg(bundle.join("rootfs"))
            .status()
            .unwrap();
        let owner = format!("{}:", self.name);
        let chown = Command::new("chown")
            .args(["-R", &owner])
            .arg(bundle.join("rootfs"))
            .status()
            .unwrap();
        assert!(copy.success() && chown.success(), "cannot copy the rootfs");
        let out = self
            .runw_in(&self.runw(), &bundle, &["spec", "--rootless"])
            .output()
            .unwrap();
        assert!(out.status.success(), "runw spec --rootless: {out:?}");
        let config = bundle.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        spec["process"]["terminal"] = false.into();
        let annotations: serde_json::Map<_, _> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).into()))
            .collect();
        spec["annotations"] = annotations.into();
        std::fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        bundle
    }

    /// `RUNW --root $XDG_RUNTIME_DIR/runw ARGS` as the user, in `bundle`: runw run by the
    /// user directly, as runc is run rootless (`spec` takes no `--root`, and ignores it).
    pub fn runw_in(&self, runw: &Path, bundle: &Path, args: &[&str]) -> Command {
        let root = self.runtime_dir.join("runw");
        let mut all = vec!["--root", root.to_str().unwrap()];
        all.extend(args);
        let mut cmd = self.command(runw.to_str().unwrap(), &all);
        cmd.current_dir(bundle);
        cmd
    }

    fn write_containers_conf(&self) {
        let dir = self.home.join(".config/containers");
        std::fs::create_dir_all(&dir).unwrap();
        // This machine lacks CAP_SYS_RESOURCE: podman's default ulimits cannot be raised.
        let conf = format!(
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             netns = \"none\"\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\nruntime = \"runw\"\n\n[engine.runtimes]\nrunw = [\"{}\"]\n",
            self.runw().display()
        );
        std::fs::write(dir.join("containers.conf"), conf).unwrap();
        for path in [
            self.home.join(".config"),
            dir.clone(),
            dir.join("containers.conf"),
        ] {
            self.give(&path);
        }
    }

    fn import_busybox(&self) {
        let tar = crate::podman::busybox_tar(&self.home);
        self.give(&tar);
        self.podman_ok(&["import", tar.to_str().unwrap(), IMAGE]);
    }

    /// The pids of every live process the user runs (a zombie has ended: what is left of it
    /// is its parent's to reap).
    pub fn processes(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == self.uid)
            })
            .filter(|pid| !is_zombie(*pid))
            .collect()
    }
}

impl Drop for RootlessUser {
    fn drop(&mut self) {
        // Stops the pause process that keeps the user's namespaces.
        let _ = self.command("podman", &["system", "migrate"]).output();
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        unmount_below(&self.home);
        unmount_below(&self.runtime_dir);
        let _ = Command::new("userdel")
            .args(["--remove", &self.name])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.home);
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
        remove_subordinate_ranges(&self.name);
    }
}

/// True when process `pid` has ended and waits to be reaped (state `Z` in `/proc/PID/stat`).
pub fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.starts_with('Z')))
        .unwrap_or(false)
}

/// A user name unique to this test process and call.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("runwrl{}x{n}", std::process::id())
}

/// `useradd --create-home`, retried while another useradd holds the passwd lock.
fn add_user(name: &str) {
    for _ in 0..50 {
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", name])
            .output()
            .unwrap();
        if out.status.success() {
            assert_subordinate_ranges(name);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("useradd {name} failed");
}

/// Debian's useradd gives every new user subordinate ranges; rootless podman needs them.
fn assert_subordinate_ranges(name: &str) {
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let prefix = format!("{name}:");
        assert!(
            text.lines().any(|l| l.starts_with(&prefix)),
            "useradd gave {name} no range in {file}"
        );
    }
}

fn remove_subordinate_ranges(name: &str) {
    let prefix = format!("{name}:");
    for file in ["/etc/subuid", "/etc/subgid"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if !text.lines().any(|l| l.starts_with(&prefix)) {
            continue;
        }
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        let _ = std::fs::write(file, kept);
    }
}

/// Lazily unmounts every mount at or below `dir` in this mount namespace.
fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The first executor built beside runw.
fn first_executor() -> crate::Executor {
    let built = crate::runw::binary().parent().unwrap().to_path_buf();
    let name = ["wasmtime-exec", "wasmer-exec", "wasmedge-exec"]
        .into_iter()
        .find(|name| built.join(name).is_file())
        .expect("no executor built beside runw: run ci/build");
    crate::Executor::named(name)
}

/// A copy of runw and of `executor` (the only one, so that one is used), in a directory of
/// root's that everyone may read and run, as packages install them.
fn install_runw(executor: &crate::Executor) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("runw-rootless-bin-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(crate::runw::binary(), dir.path().join("runw")).unwrap();
    std::fs::copy(&executor.path, dir.path().join(executor.name)).unwrap();
    dir
}
