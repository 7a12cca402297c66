//! Spawning the frontend like BuildKit's executor does (own process group, pipes for stdin/stdout,
//! fixed environment, cwd `/`) and reaping it with `wait4` so the child's exact peak RSS is known.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// How the child ended.
#[derive(Clone, Copy, Debug)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// `ru_maxrss` of the child (KiB on Linux).
    pub max_rss_kib: Option<u64>,
    pub at: Instant,
}

/// A spawned child we reap ourselves. The pid is only signalled while the child is unreaped (a zombie
/// keeps its pid), so a kill can never hit a recycled pid.
pub struct ChildProcess {
    pid: libc::pid_t,
    reaped: Mutex<bool>,
}

pub struct Spawned {
    pub child: ChildProcess,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Environment variables of the test process handed to the child on top of the BuildKit ones: only
/// diagnostics (strata reads `STRATA_LOG`) and coverage knobs, so the child sees what a container would.
const PASSTHROUGH_ENV: &[&str] = &[
    "RUST_BACKTRACE",
    "RUST_LOG",
    "STRATA_LOG",
    "LLVM_PROFILE_FILE",
    "CARGO_LLVM_COV",
];

pub fn spawn(binary: &Path, args: &[&str], env: &[(String, String)]) -> io::Result<Spawned> {
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: on exit or timeout the whole group is killed, as the container's pid
        // namespace would be.
        .process_group(0);
    for key in PASSTHROUGH_ENV {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // The image's PATH comes first in a real container; keep the host's so `sh` and friends resolve.
    cmd.env(
        "PATH",
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")),
    );
    cmd.env("HOME", "/");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let take = |fd: Option<OwnedFd>| fd.ok_or_else(|| io::Error::other("child pipe missing"));
    let stdin = take(child.stdin.take().map(OwnedFd::from))?;
    let stdout = take(child.stdout.take().map(OwnedFd::from))?;
    let stderr = take(child.stderr.take().map(OwnedFd::from))?;
    // `child` (std's handle) is dropped without waiting: we reap with wait4 below.
    Ok(Spawned {
        child: ChildProcess {
            pid,
            reaped: Mutex::new(false),
        },
        stdin,
        stdout,
        stderr,
    })
}

impl ChildProcess {
    /// SIGKILLs the child's process group unless the child has been reaped.
    pub fn kill(&self) {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if !*reaped {
            // SAFETY: plain syscall; the group id is our unreaped child's pid.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }

    /// Blocks until the child exits, kills what is left of its process group, then reaps it.
    pub fn wait_blocking(&self) -> io::Result<ExitInfo> {
        loop {
            // SAFETY: siginfo_t is plain data; waitid only writes into it.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // WNOWAIT leaves the child a zombie so that its pid (and group) stay reserved until wait4.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        let at = Instant::now();
        let mut reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: plain syscalls on our own zombie child; status and rusage are plain data.
        let (status, rusage) = unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            let mut status: libc::c_int = 0;
            let mut rusage: libc::rusage = std::mem::zeroed();
            let rc = libc::wait4(self.pid, &mut status, 0, &mut rusage);
            if rc != self.pid {
                return Err(io::Error::last_os_error());
            }
            (status, rusage)
        };
        *reaped = true;
        let (code, signal) = if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (None, None)
        };
        Ok(ExitInfo {
            code,
            signal,
            max_rss_kib: u64::try_from(rusage.ru_maxrss).ok(),
            at,
        })
    }
}
