//! The security suite: every isolation or safety claim of the README is attacked here, with
//! real containers, once per executor where the claim is the executors'.
#![allow(clippy::unwrap_used)]

mod preopen_semantics;
