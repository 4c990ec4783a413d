//! Which handler a container asks for, from its OCI annotations.
//!
//! `run.oci.handler` (crun's key) and `module.wasm.image/variant` (the compat image spec's)
//! mark a wasm workload; when both are present `run.oci.handler` decides. The `-smart` values
//! run wasm only if the entrypoint really is a module; a pod's sandbox (pause) container is
//! always Linux, whatever the pod's annotations say.

use std::collections::HashMap;

pub const HANDLER: &str = "run.oci.handler";
pub const VARIANT: &str = "module.wasm.image/variant";
const SANDBOX_KEYS: [&str; 2] = [
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri-o.ContainerType",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// An ordinary Linux container.
    Linux,
    /// A wasm workload: the entrypoint must be a module.
    Wasm,
    /// Wasm if the entrypoint is a module, Linux otherwise (sidecar-safe).
    Smart,
}

pub fn handler(annotations: Option<&HashMap<String, String>>) -> Handler {
    let Some(annotations) = annotations else {
        return Handler::Linux;
    };
    if SANDBOX_KEYS
        .iter()
        .any(|key| annotations.get(*key).is_some_and(|v| v == "sandbox"))
    {
        return Handler::Linux;
    }
    if let Some(value) = annotations.get(HANDLER) {
        return match value.as_str() {
            "wasm" => Handler::Wasm,
            "wasm-smart" => Handler::Smart,
            _ => Handler::Linux,
        };
    }
    match annotations.get(VARIANT).map(String::as_str) {
        Some("compat") => Handler::Wasm,
        Some("compat-smart") => Handler::Smart,
        _ => Handler::Linux,
    }
}

/// Which annotations decided the handler, for the `--debug` log: e.g.
/// `annotations: run.oci.handler="wasm-smart": wasm if the entrypoint is a module`.
pub fn explain(annotations: Option<&HashMap<String, String>>) -> String {
    let value = |key: &str| annotations.and_then(|a| a.get(key));
    let said = [SANDBOX_KEYS[0], SANDBOX_KEYS[1], HANDLER, VARIANT]
        .iter()
        .filter_map(|key| value(key).map(|v| format!("{key}={v:?}")))
        .collect::<Vec<_>>();
    let said = if said.is_empty() {
        "none of run.oci.handler, module.wasm.image/variant".to_owned()
    } else {
        said.join(" ")
    };
    let means = match handler(annotations) {
        Handler::Linux => "Linux",
        Handler::Wasm => "wasm",
        Handler::Smart => "wasm if the entrypoint is a module",
    };
    format!("annotations: {said}: {means}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_names_the_deciding_annotations() {
        let map: HashMap<String, String> =
            HashMap::from([(VARIANT.to_owned(), "compat-smart".to_owned())]);
        assert_eq!(
            explain(Some(&map)),
            "annotations: module.wasm.image/variant=\"compat-smart\": wasm if the entrypoint is a module"
        );
        assert!(explain(None).ends_with(": Linux"));
    }

    fn of(pairs: &[(&str, &str)]) -> Handler {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        handler(Some(&map))
    }

    #[test]
    fn values_of_each_key() {
        assert_eq!(of(&[(HANDLER, "wasm")]), Handler::Wasm);
        assert_eq!(of(&[(HANDLER, "wasm-smart")]), Handler::Smart);
        assert_eq!(of(&[(VARIANT, "compat")]), Handler::Wasm);
        assert_eq!(of(&[(VARIANT, "compat-smart")]), Handler::Smart);
        assert_eq!(of(&[(VARIANT, "other")]), Handler::Linux);
        assert_eq!(of(&[]), Handler::Linux);
        assert_eq!(handler(None), Handler::Linux);
    }

    #[test]
    fn run_oci_handler_decides_when_both_are_present() {
        assert_eq!(
            of(&[(HANDLER, "wasm-smart"), (VARIANT, "compat")]),
            Handler::Smart
        );
        assert_eq!(
            of(&[(HANDLER, "krun"), (VARIANT, "compat")]),
            Handler::Linux
        );
    }

    #[test]
    fn sandbox_containers_are_always_linux() {
        for key in SANDBOX_KEYS {
            assert_eq!(of(&[(key, "sandbox"), (VARIANT, "compat")]), Handler::Linux);
            assert_eq!(
                of(&[(key, "container"), (VARIANT, "compat")]),
                Handler::Wasm
            );
        }
    }
}
