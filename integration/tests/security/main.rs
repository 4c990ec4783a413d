//! The security suite: every isolation or safety claim of the README is attacked here, each
//! by a test that fails if the protection it checks were removed.
#![allow(clippy::unwrap_used)]

mod guest_view;
