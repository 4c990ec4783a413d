//! The security suite: every isolation or safety claim of the README, attacked as a hostile
//! image, a hostile guest or a hostile pod would, once per executor where the claim is the
//! executors'. Each file is one topic; each test failed on the code before its fix. The
//! next attack pass starts from here.
#![allow(clippy::unwrap_used)]

mod support;

mod cache_housekeeping;
mod cgroup_mounts;
mod compile_bounds;
mod create_races;
mod exec_confinement;
mod exec_user_namespace;
mod guest_network;
mod guest_view;
mod host_opens;
mod network_boundary;
mod preopen_semantics;
mod rootless_exec;
mod warm_shortcuts;
