//! Version strings, in the shape `runc --version` prints them (podman shows this text).

/// `runw --version`'s first line.
pub const SHORT: &str = env!("CARGO_PKG_VERSION");

/// `runw --version`, as runc prints it: the version, then the runtime spec it implements.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nspec: 1.1.0",
    "\nlibcontainer: 0.7.0"
);
