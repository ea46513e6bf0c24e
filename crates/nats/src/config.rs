//! Where the server is and how to prove who we are: as NATS clients take it
//! (`nats://USER:PASSWORD@HOST:PORT`, a `.creds` file, TLS with a private CA
//! and optionally a client certificate). The password is never shown.

use std::path::PathBuf;
use std::time::Duration;

use aorta_transport::TransportError;

/// Connection settings. `Debug` and [`NatsConfig::redacted`] never show
/// the password.
#[derive(Clone, Default)]
pub struct NatsConfig {
    /// `host:port`, or several separated by commas (a cluster's seeds).
    servers: Vec<String>,
    user: Option<String>,
    password: Option<String>,
    /// A NATS credentials file (user JWT and NKEY seed).
    pub creds_file: Option<PathBuf>,
    /// Trust this CA for the server's certificate (PEM).
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Refuse to talk without TLS.
    pub require_tls: bool,
    /// Replicas of every stream created by `ensure_layout` (1, 3 or 5).
    pub replicas: usize,
    /// How long a request may wait for the server.
    pub timeout: Duration,
    /// How long the first connection keeps trying while no server answers
    /// (one starting, or restarting): a process started beside its broker
    /// waits for it rather than giving up.
    pub connect_wait: Duration,
    /// Hears, once, what the first connection waits for.
    pub notice: Option<fn(&str)>,
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn bad(url: &str, reason: &str) -> TransportError {
    TransportError::Refused {
        what: "NATS address".into(),
        reason: format!(
            "{reason} (give nats://[USER:PASSWORD@]HOST:PORT; got {})",
            redact_url(url)
        ),
    }
}

/// `url` with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (scheme, creds) = userinfo.split_once("://").unwrap_or(("", userinfo));
            let user = creds.split_once(':').map_or(creds, |(u, _)| u);
            let scheme = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{scheme}{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

impl NatsConfig {
    /// Parses `nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]` (`tls://`
    /// requires TLS).
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad(url, "no scheme"))?;
        let require_tls = match scheme {
            "nats" => false,
            "tls" => true,
            _ => return Err(bad(url, "the scheme must be nats:// or tls://")),
        };
        let (user, password, hosts) = match rest.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (u, p) = creds
                    .split_once(':')
                    .ok_or_else(|| bad(url, "a user needs a password (USER:PASSWORD@)"))?;
                if u.is_empty() {
                    return Err(bad(url, "empty user name"));
                }
                (Some(u.to_string()), Some(p.to_string()), hosts)
            }
            None => (None, None, rest),
        };
        let servers: Vec<String> = hosts
            .trim_end_matches('/')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if servers.is_empty()
            || servers.iter().any(|s| {
                s.rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
            })
        {
            return Err(bad(url, "every server needs HOST:PORT"));
        }
        Ok(Self {
            servers,
            user,
            password,
            creds_file: None,
            tls_ca: None,
            tls_client: None,
            require_tls,
            replicas: 1,
            timeout: Duration::from_secs(10),
            connect_wait: Duration::from_secs(60),
            notice: None,
        })
    }

    /// The address with the password hidden, for messages.
    pub fn redacted(&self) -> String {
        let hosts = self.servers.join(",");
        let scheme = if self.require_tls { "tls" } else { "nats" };
        match &self.user {
            Some(u) => format!("{scheme}://{u}:***@{hosts}"),
            None => format!("{scheme}://{hosts}"),
        }
    }

    pub(crate) async fn connect(&self) -> Result<async_nats::Client, TransportError> {
        let mut o = async_nats::ConnectOptions::new()
            .name("aorta")
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            // Keep reconnecting forever: a broker outage pauses, never
            // ends, a worker or gateway.
            .max_reconnects(None);
        if let (Some(u), Some(p)) = (&self.user, &self.password) {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(c) = &self.creds_file {
            o = o
                .credentials_file(c)
                .await
                .map_err(|e| TransportError::Refused {
                    what: format!("NATS credentials file {}", c.display()),
                    reason: e.to_string(),
                })?;
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if self.require_tls || self.tls_ca.is_some() {
            o = o.require_tls(true);
        }
        let addrs: Vec<async_nats::ServerAddr> = self
            .servers
            .iter()
            .map(|s| {
                let scheme = if self.require_tls { "tls" } else { "nats" };
                format!("{scheme}://{s}")
                    .parse()
                    .map_err(|e| bad(s, &format!("{e}")))
            })
            .collect::<Result<_, _>>()?;
        o.connect(addrs).await.map_err(|e| {
            let auth = matches!(
                e.kind(),
                async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication
            );
            let what = format!("connecting to NATS at {}", self.redacted());
            if auth {
                TransportError::Refused {
                    what,
                    reason: format!("credentials refused: {e}"),
                }
            } else {
                TransportError::Remote {
                    what,
                    reason: e.to_string(),
                    retryable: !matches!(e.kind(), async_nats::ConnectErrorKind::Tls),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_never_shows_the_password() {
        let c = NatsConfig::parse("nats://aorta:s3cret-pw@127.0.0.1:4222").unwrap();
        assert_eq!(c.redacted(), "nats://aorta:***@127.0.0.1:4222");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            redact_url("nats://aorta:s3cret-pw@127.0.0.1:4222"),
            "nats://aorta:***@127.0.0.1:4222"
        );
        let e = NatsConfig::parse("http://aorta:s3cret-pw@h:1").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(NatsConfig::parse("nats://h").is_err());
        assert!(NatsConfig::parse("nats://a:1,b:2").is_ok());
        assert!(NatsConfig::parse("tls://a:1").unwrap().require_tls);
    }
}
