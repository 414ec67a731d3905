//! A real `writ serve` child process for the CLI integration tests that
//! talk to a running authority.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `writ serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Its base URL, from the address line it prints.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `writ serve --home h --listen 127.0.0.1:0 EXTRA…` in `dir`, its
/// stderr into `dir/serve.err`; returns once it printed its address.
pub fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.err")).expect("serve.err"))
        .spawn()
        .expect("start writ serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("address line");
    let url =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address line: {line:?}")).to_owned();
    Server { child, url }
}

/// Runs `writ ARGS` in `dir`: exit code and stdout + stderr.
pub fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .env_remove("WRIT_AUTHORITY")
        .env_remove("WRIT_KEY")
        .output()
        .expect("run writ");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}
