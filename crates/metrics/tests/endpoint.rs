//! Issue 21, finding 5: idle connections to a metrics endpoint must not
//! delay a real scrape past Prometheus' timeout (they were answered one at
//! a time: 20 idle connections delayed a scrape by 28 s).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn scrape(addr: std::net::SocketAddr, within: Duration) -> std::io::Result<String> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(within))?;
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut r = String::new();
    c.read_to_string(&mut r)?;
    Ok(r)
}

#[test]
fn a_scrape_is_answered_beside_idle_connections_and_a_flood_costs_only_itself() {
    let e = aorta_metrics::Exporter::new();
    let addr = e.serve("127.0.0.1:0").unwrap();
    // 20 connections holding half a request line.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /metr").unwrap();
            c
        })
        .collect();
    let r = scrape(addr, Duration::from_secs(1)).expect("a scrape within 1 s");
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    assert!(r.contains("# EOF"), "an OpenMetrics body: {r}");
    // Past the cap, further connections are closed at once; once the idle
    // ones give up (5 s), scrapes are answered again.
    let more: Vec<TcpStream> = (0..2 * aorta_metrics::MAX_CONNECTIONS)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    drop(idle);
    drop(more);
    let mut ok = false;
    for _ in 0..40 {
        if scrape(addr, Duration::from_secs(1)).is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(ok, "scrapes answered again after the flood");
}
