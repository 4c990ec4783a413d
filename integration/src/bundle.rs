//! OCI bundles for tests: a busybox-static rootfs and the config `runw spec` writes, edited.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Debian's busybox-static, the whole userland of a test container.
pub const BUSYBOX: &str = "/bin/busybox";

/// The applets the test containers call.
const APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "cat", "true", "false", "tty", "ls", "id",
];

pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

impl Bundle {
    /// A bundle running `args` with no terminal, read-only rootfs, default cgroup path.
    pub fn new(args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runw-bundle-")
            .tempdir()
            .unwrap();
        make_rootfs(&dir.path().join("rootfs"));
        Self::with_spec(dir, args)
    }

    /// Writes `runw spec`'s config into `dir`, running `args` with no terminal.
    fn with_spec(dir: tempfile::TempDir, args: &[&str]) -> Self {
        let out = std::process::Command::new(crate::runw::binary())
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runw spec failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let mut config: Value = serde_json::from_str(&text).unwrap();
        config["process"]["args"] = json!(args);
        config["process"]["terminal"] = json!(false);
        let mut bundle = Bundle { dir, config };
        bundle.save();
        bundle
    }

    /// A wasm bundle: a rootfs holding only `module` (copied to `/app/NAME` unless
    /// `at` says otherwise), running `args` (`args[0]` is the module's container path),
    /// with `annotations`.
    pub fn wasm(module: &Path, at: &str, args: &[&str], annotations: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runw-wasm-bundle-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        let dest = rootfs.join(at.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(module, &dest).unwrap();
        let mut bundle = Self::with_spec(dir, args);
        let annotations: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        bundle.edit(|c| c["annotations"] = Value::Object(annotations));
        bundle
    }

    /// The rootfs directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Changes the config and writes it back.
    pub fn edit(&mut self, change: impl FnOnce(&mut Value)) -> &mut Self {
        change(&mut self.config);
        self.save();
        self
    }

    pub fn with_terminal(&mut self) -> &mut Self {
        self.edit(|c| c["process"]["terminal"] = json!(true))
    }

    fn save(&mut self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }
}

/// A WASI test program built by `ci/build`: `guest("hello")` is the core module,
/// `component("hello")` the same program as a component.
pub fn guest(name: &str) -> PathBuf {
    guest_in("wasm32-wasip1", name)
}

pub fn component(name: &str) -> PathBuf {
    guest_in("wasm32-wasip2", name)
}

fn guest_in(target: &str, name: &str) -> PathBuf {
    // Test binaries live in <target dir>/release/deps.
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.ancestors().nth(3).unwrap();
    let path = target_dir
        .join(target)
        .join("release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: ci/build builds the test guests",
        path.display()
    );
    path
}

/// Adds Debian's busybox-static to `rootfs` (for bundles that need a shell beside a module).
pub fn add_busybox(rootfs: &Path) {
    make_rootfs(rootfs)
}

fn make_rootfs(rootfs: &Path) {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install Debian's busybox-static (ci/test does)"
    );
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    for dir in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
}
