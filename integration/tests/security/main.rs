//! The security suite: every isolation or safety claim of the README, attacked for real.
//! Each file is one claim; a test fails if the protection it attacks is removed.
#![allow(clippy::unwrap_used)]

mod exec_confinement;
