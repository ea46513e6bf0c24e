//! The broker on a TCP socket: a thread per connection, one JSON request
//! per line, bounded line length, a read timeout so idle clients cannot
//! hold threads forever.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand_core::{CryptoRng, RngCore};

use crate::broker::Broker;
use crate::proto::{Request, Response, MAX_LINE};

/// Serves until `stop` is set (checked between connections).
pub fn serve<R: RngCore + CryptoRng + Send + 'static>(
    listener: TcpListener,
    broker: Arc<Broker<R>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let b = Arc::clone(&broker);
        std::thread::spawn(move || {
            let _ = connection(stream, &b);
        });
    }
    Ok(())
}

fn connection<R: RngCore + CryptoRng>(
    stream: TcpStream,
    broker: &Broker<R>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let resp = if line.len() > MAX_LINE {
            Response::Error {
                error: format!("request longer than {MAX_LINE} bytes"),
            }
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => broker.handle(req),
                Err(e) => Response::Error {
                    error: format!("not a key broker request: {e}"),
                },
            }
        };
        let mut bytes = serde_json::to_vec(&resp).unwrap_or_else(|_| b"{}".to_vec());
        bytes.push(b'\n');
        out.write_all(&bytes)?;
        if line.len() > MAX_LINE {
            return Ok(());
        }
    }
}
