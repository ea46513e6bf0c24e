//! `aorta-worker`: the binary a TEE measures (Gramine manifest in
//! `deploy/gramine/`, the confidential-VM image in `deploy/container/`). It
//! runs the worker role and nothing else; `aorta worker` takes the same
//! arguments.

fn main() -> std::process::ExitCode {
    match aorta_enclave::main_with(std::env::args_os().skip(1)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
