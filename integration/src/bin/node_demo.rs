//! The node story, end to end, for `ci/demo-node`: containerd configured with
//! docs/containerd-runw.toml (runw = `RUNW_BIN`, the installed /usr/bin/runw there), images
//! imported locally, and two pods run through CRI as kubelet runs them: a wasm pod, and a
//! `compat-smart` pod with a native sidecar. Prints what each container wrote and how it ended.

use std::path::PathBuf;

use runw_integration::containerd::Containerd;
use runw_integration::cri::{log_lines, log_path, Cri, PodSpec};
use runw_integration::podman::{Podman, IMAGE};

fn main() {
    let Some(target) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) else {
        fail("CARGO_TARGET_DIR is not set (run it through ci/demo-node, which sets it)");
    };
    let hello = target.join("wasm32-wasip1/release/hello.wasm");
    if !hello.is_file() {
        fail(&format!(
            "{} is missing (ci/build builds it)",
            hello.display()
        ));
    }
    println!(
        "== containerd, its runw runtime from docs/containerd-runw.toml: BinaryName = {}",
        runw_integration::runw::binary().display()
    );
    let podman = Podman::get();
    let image = podman.build_wasm_image(&hello);
    let containerd = Containerd::start();
    containerd.import_pause(podman);
    containerd.import(podman, &image);
    containerd.import(podman, IMAGE);
    println!(
        "   images: {}",
        containerd
            .ctr(&["images", "ls", "-q"])
            .stdout
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cri = Cri::connect(&containerd.socket);
    let logs = tempfile::tempdir()
        .unwrap_or_else(|err| fail(&format!("cannot make a log directory: {err}")));

    println!("== pod wasm-hello (module.wasm.image/variant: compat)");
    let pod = cri.run_pod(&PodSpec {
        name: "wasm-hello",
        annotations: &[("module.wasm.image/variant", "compat")],
        log_dir: logs.path(),
    });
    let id = cri.start_container(&pod, "app", &image, &[]);
    let status = cri.wait_exited(&id, 30);
    println!(
        "   app exited {}, its log: {:?}",
        status.exit_code,
        log_lines(&log_path(logs.path(), "app"))
    );
    cri.stop_pod(&pod);
    cri.remove_pod(&pod);

    println!("== pod wasm-with-sidecar (module.wasm.image/variant: compat-smart)");
    let pod = cri.run_pod(&PodSpec {
        name: "wasm-with-sidecar",
        annotations: &[("module.wasm.image/variant", "compat-smart")],
        log_dir: logs.path(),
    });
    let app = cri.start_container(&pod, "app2", &image, &[]);
    let proxy = cri.start_container(
        &pod,
        "proxy",
        IMAGE,
        &["sh", "-c", "echo native sidecar here; uname -s"],
    );
    for (name, id) in [("app2", app), ("proxy", proxy)] {
        let status = cri.wait_exited(&id, 30);
        println!(
            "   {name} exited {}, its log: {:?}",
            status.exit_code,
            log_lines(&log_path(logs.path(), name))
        );
    }
    cri.stop_pod(&pod);
    cri.remove_pod(&pod);
    println!("== done: both pods stopped and removed");
}

fn fail(msg: &str) -> ! {
    eprintln!("node_demo: {msg}");
    std::process::exit(1)
}
