//! Which world a component implements, judged by what it exports (no annotation needed).

use wasmtime::component::Component;
use wasmtime::Engine;

/// How wasmtime-exec runs a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Exports `wasi:cli/run`: run once, as a command.
    Command,
    /// Exports `wasi:http/incoming-handler`: served, one instance per request, as
    /// `wasmtime serve` and runwasi's wasmtime shim do. Wins over `wasi:cli/run`.
    HttpProxy,
    /// Exports neither: nothing to call.
    Neither,
}

const RUN: &str = "wasi:cli/run";
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

impl World {
    /// The one-line cause given for [`World::Neither`].
    pub const NEITHER: &'static str =
        "component exports neither wasi:cli/run nor wasi:http/incoming-handler";
}

/// The world `component` implements.
pub fn of(engine: &Engine, component: &Component) -> World {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    from_exports(&exports)
}

/// The world of a component exporting `names` (`wasi:cli/run@0.2.6`: versions ignored).
fn from_exports(names: &[&str]) -> World {
    let exports = |interface: &str| {
        names
            .iter()
            .any(|name| name.split('@').next() == Some(interface))
    };
    if exports(INCOMING_HANDLER) {
        World::HttpProxy
    } else if exports(RUN) {
        World::Command
    } else {
        World::Neither
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_by_interface_whatever_the_version() {
        assert_eq!(from_exports(&["wasi:cli/run@0.2.0"]), World::Command);
        assert_eq!(
            from_exports(&["wasi:http/incoming-handler@0.2.6"]),
            World::HttpProxy
        );
        assert_eq!(
            from_exports(&["wasi:cli/run@0.2.6", "wasi:http/incoming-handler@0.2.6"]),
            World::HttpProxy
        );
        assert_eq!(from_exports(&["wasi:cli/runner@0.2.0"]), World::Neither);
        assert_eq!(from_exports(&[]), World::Neither);
    }
}
