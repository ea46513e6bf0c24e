//! The ward dashboard (`aorta results serve`).
//!
//! Security model: the server runs on the hospital side and holds the
//! clinician key; results are decrypted only here. Nobody reads patient
//! data without signing in:
//! * users and Argon2id password hashes (PHC strings) come from a file
//!   ([`Users`]); a sign-in runs the hash whether or not the user exists,
//!   at most two at a time, and a failure costs 300 ms;
//! * a session is a random 256-bit token in an `HttpOnly`,
//!   `SameSite=Strict` cookie (`Secure` behind TLS), stored server-side as
//!   its SHA-256 and expiring after [`Config::session_ttl`];
//! * state-changing requests (sign-out) need the session's CSRF token in a
//!   header, and sign-in refuses cross-origin posts (`Origin`);
//! * every `/api/*` and `/fhir/*` answer needs a live session; without one
//!   the answer is 401 with no patient data, and the page redirects to the
//!   sign-in form; responses carry a strict Content-Security-Policy (no
//!   inline script), `no-store`, `nosniff` and `DENY` framing.
//!
//! TLS: bind to loopback (the default) and put a TLS-terminating reverse
//! proxy in front (`docs/dashboard.md`); the cookie is then marked
//! `Secure` with [`Config::secure_cookies`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use rand_core::{OsRng, TryRngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::feed::{CommittedRecords, Decryptor, ResultRow};
use crate::ward::Ward;
use crate::ClinicError;

/// Sign-in credentials: user name → Argon2id PHC string.
#[derive(Clone, Default)]
pub struct Users {
    map: HashMap<String, String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Users({} users)", self.map.len())
    }
}

/// A hash that never verifies, run for unknown users so that a sign-in
/// takes as long whether or not the user exists.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YWFhYWFhYWFhYWFhYWFhYQ$Y0m2J2Yx5m0aQm4fQk0l2k1aW8yq0G4Jm3p3aB0wV1c";

impl Users {
    /// Reads `name:$argon2id$...` lines (`#` comments and blank lines
    /// ignored).
    pub fn load(path: &std::path::Path) -> Result<Self, ClinicError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClinicError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut map = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| ClinicError::Credentials {
                path: path.display().to_string(),
                line: i + 1,
                reason: reason.into(),
            };
            let (name, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected NAME:HASH"))?;
            argon2::PasswordHash::new(hash).map_err(|_| bad("not a PHC password hash"))?;
            map.insert(name.to_string(), hash.to_string());
        }
        if map.is_empty() {
            return Err(ClinicError::Credentials {
                path: path.display().to_string(),
                line: 0,
                reason: "no users (add one with `aorta results passwd`)".into(),
            });
        }
        Ok(Self { map })
    }

    /// Adds or replaces a user.
    pub fn set(&mut self, name: &str, password: &str) -> Result<(), ClinicError> {
        self.map.insert(name.to_string(), hash_password(password)?);
        Ok(())
    }

    /// The file's text (`name:hash` lines).
    pub fn to_text(&self) -> String {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| format!("{n}:{}\n", self.map[n]))
            .collect()
    }

    fn knows(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn verify(&self, name: &str, password: &str) -> bool {
        use argon2::PasswordVerifier;
        let (hash, known) = match self.map.get(name) {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        };
        let ok = argon2::PasswordHash::new(hash).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        ok && known
    }
}

/// An Argon2id hash (PHC string) of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, ClinicError> {
    use argon2::password_hash::SaltString;
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| ClinicError::Password(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ClinicError::Password(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ClinicError::Password(e.to_string()))
}

/// How the dashboard runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub users: Users,
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (served behind TLS).
    pub secure_cookies: bool,
    /// How often committed results are looked for.
    pub poll: Duration,
    /// How long trends are kept (memory: about 520 KiB per patient-day).
    pub retention: Duration,
    /// A patient (and the feed) whose newest result ended longer ago is
    /// shown as stopped since then.
    pub stopped_after: Duration,
    /// Connections at once and the time a request head may take.
    pub connections: crate::conn::Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            users: Users::default(),
            session_ttl: Duration::from_secs(8 * 3600),
            secure_cookies: false,
            poll: Duration::from_millis(500),
            retention: Duration::from_secs(7 * 86_400),
            stopped_after: Duration::from_micros(crate::ward::DEFAULT_STALE_AFTER_US as u64),
            // 128 descriptors kept for the results feed (spool files, NATS).
            connections: crate::conn::Limits::from_open_file_limit(128),
        }
    }
}

/// Fleet public keys by epoch and patient names by pseudonym.
pub type DirectoryUpdate = (
    HashMap<u32, aorta_envelope::KemPublic>,
    HashMap<aorta_wire::StreamId, String>,
);

/// Names and fleet keys, re-read while serving (new enrolments, rotation).
pub trait Directory: Send {
    /// `None`: it cannot be read now.
    fn refresh(&mut self) -> Option<DirectoryUpdate>;
}

struct Session {
    user: String,
    expires: Instant,
    csrf: String,
}

/// How the results feed is doing (shown by the page: a dashboard must
/// never show old data as current).
#[derive(Debug, Clone, Default, serde::Serialize)]
struct FeedHealth {
    /// Server time of the last poll of the transport.
    last_poll_us: i64,
    /// Server time of the last poll that brought results.
    last_results_us: i64,
    /// The last poll's error, if it failed.
    error: Option<String>,
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

struct App {
    cfg: Config,
    ward: RwLock<Ward>,
    feed: Mutex<FeedHealth>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    logins: tokio::sync::Semaphore,
    version: watch::Receiver<u64>,
    connections: crate::conn::Connections,
    throttle: Mutex<crate::throttle::Throttle>,
    /// Device cookies (their keys) and the user each signed in as.
    devices: Mutex<HashMap<[u8; 32], String>>,
}

const COOKIE: &str = "aorta_session";

fn token() -> Option<String> {
    let mut b = [0u8; 32];
    OsRng.try_fill_bytes(&mut b).ok()?;
    Some(hex::encode(b))
}

fn token_key(t: &str) -> [u8; 32] {
    Sha256::digest(t.as_bytes()).into()
}

impl App {
    fn session(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let t = cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)?
            .1;
        let key = token_key(t);
        let mut s = self.sessions.lock().ok()?;
        let now = Instant::now();
        s.retain(|_, v| v.expires > now);
        s.get(&key).map(|v| (v.user.clone(), v.csrf.clone()))
    }
}

fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"sign in first"}"#,
    )
        .into_response()
}

fn asset(body: &'static str, ty: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

async fn login_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        LOGIN_HTML,
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

/// Same-origin check for sign-in posts: a browser sends `Origin` on POST;
/// it must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    // Browsers say where a request comes from in Sec-Fetch-Site.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|o| o.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true; // non-browser clients
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

const DEVICE_COOKIE: &str = "aorta_device";

/// The value of cookie `name` in `headers`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn login(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin sign-in refused").into_response();
    }
    // A malformed form is a failed sign-in, named as nothing more.
    let Ok(Form(f)) = form else {
        return Redirect::to("/login?failed=1").into_response();
    };
    if f.user.len() > 256 || f.password.len() > 1024 {
        return Redirect::to("/login?failed=1").into_response();
    }
    // No password is checked without a token (crate::throttle): a browser
    // that signed in as this user before has its own bucket.
    let device = cookie(&headers, DEVICE_COOKIE).map(token_key).filter(|k| {
        app.devices
            .lock()
            .is_ok_and(|d| d.get(k).is_some_and(|u| *u == f.user))
    });
    let attempt = crate::throttle::Attempt {
        user: app.cfg.users.knows(&f.user).then_some(f.user.as_str()),
        source: peer.ip(),
        device,
    };
    let allowed = app
        .throttle
        .lock()
        .map_or(Err(60), |mut t| t.take(&attempt, Instant::now()));
    if let Err(wait) = allowed {
        return Redirect::to(&format!("/login?throttled={wait}")).into_response();
    }
    // At most two verifications at a time; further sign-ins wait briefly
    // or are told to retry, so a flood cannot queue without bound, and the
    // slot is free again before the failure delay.
    let slot = match tokio::time::timeout(Duration::from_secs(2), app.logins.acquire()).await {
        Ok(Ok(slot)) => slot,
        _ => return (StatusCode::TOO_MANY_REQUESTS, "busy: retry in a moment").into_response(),
    };
    let users = app.cfg.users.clone();
    let (user, password) = (f.user.clone(), f.password);
    let ok = tokio::task::spawn_blocking(move || users.verify(&user, &password))
        .await
        .unwrap_or(false);
    drop(slot);
    if !ok {
        tokio::time::sleep(Duration::from_millis(300)).await;
        return Redirect::to("/login?failed=1").into_response();
    }
    let (Some(t), Some(csrf)) = (token(), token()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let name = f.user.clone();
    if let Ok(mut s) = app.sessions.lock() {
        s.insert(
            token_key(&t),
            Session {
                user: f.user,
                expires: Instant::now() + app.cfg.session_ttl,
                csrf,
            },
        );
    }
    let secure = if app.cfg.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let session = format!(
        "{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        app.cfg.session_ttl.as_secs()
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&session) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    // This browser is now known for this user (90 days).
    if device.is_none() {
        if let Some(d) = token() {
            if let Ok(mut devices) = app.devices.lock() {
                if devices.len() < 100_000 {
                    devices.insert(token_key(&d), name);
                    let c = format!(
                        "{DEVICE_COOKIE}={d}; HttpOnly; SameSite=Strict; Path=/login; Max-Age={}{secure}",
                        90 * 86_400
                    );
                    if let Ok(v) = HeaderValue::from_str(&c) {
                        r.headers_mut().append(header::SET_COOKIE, v);
                    }
                }
            }
        }
    }
    r
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some((_, csrf)) = app.session(&headers) else {
        return unauthorized();
    };
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    if let Some((_, t)) = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
    {
        if let Ok(mut s) = app.sessions.lock() {
            s.remove(&token_key(t));
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("aorta_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

fn json(v: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn api_session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match app.session(&headers) {
        Some((user, csrf)) => json(&serde_json::json!({"user": user, "csrf": csrf})),
        None => unauthorized(),
    }
}

async fn api_ward(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return unauthorized();
    }
    let Ok(w) = app.ward.read() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let now = now_us();
    let mut v = feed_status(&app, &w, now);
    v["version"] = w.version.into();
    v["patients"] = serde_json::to_value(w.summaries(now)).unwrap_or_default();
    json(&v)
}

/// The feed's state alone (the patient view's header, every 10 s).
async fn api_status(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return unauthorized();
    }
    let Ok(w) = app.ward.read() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    json(&feed_status(&app, &w, now_us()))
}

/// What every view's header says about the feed: the results cannot be
/// read (`stalled`), none has come for a while (`stopped`, since the end of
/// the newest), none yet (`waiting`), or `live`; with the server's clock.
fn feed_status(app: &App, w: &Ward, now: i64) -> serde_json::Value {
    let feed = app.feed.lock().map(|f| f.clone()).unwrap_or_default();
    let stalled = now - feed.last_poll_us > 10_000_000 || feed.error.is_some();
    let stopped = w.stopped_since(now);
    let state = if stalled {
        "stalled"
    } else if stopped.is_some() {
        "stopped"
    } else if w.newest_us() == 0 {
        "waiting"
    } else {
        "live"
    };
    serde_json::json!({
        "now_us": now,
        "feed_stalled": stalled,
        "feed_state": state,
        "stopped_since_us": stopped,
        "newest_result_us": w.newest_us(),
        "feed": feed,
    })
}

#[derive(Deserialize)]
struct PatientQuery {
    name: String,
    #[serde(default = "default_hours")]
    hours: f64,
}

fn default_hours() -> f64 {
    1.0
}

fn period_us(hours: f64) -> i64 {
    (hours.clamp(0.05, 24.0 * 31.0) * 3.6e9) as i64
}

async fn api_patient(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<PatientQuery>,
) -> Response {
    if app.session(&headers).is_none() {
        return unauthorized();
    }
    let Ok(w) = app.ward.read() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match w.trends(&q.name, period_us(q.hours), 2000) {
        Some(t) => {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            v["status"] = feed_status(&app, &w, now_us());
            json(&v)
        }
        None => (StatusCode::NOT_FOUND, "no such patient").into_response(),
    }
}

/// The rows behind what the patient view shows, for downloads: at most a
/// day (a week of 10-s windows is hundreds of MB of FHIR; `aorta results`
/// writes everything).
/// Answers 401, 404 or 500 itself when there is no session, no such
/// patient or no ward.
fn patient_rows(
    app: &App,
    headers: &HeaderMap,
    name: &str,
    hours: f64,
) -> Result<Vec<ResultRow>, Box<Response>> {
    if app.session(headers).is_none() {
        return Err(Box::new(unauthorized()));
    }
    let w = app
        .ward
        .read()
        .map_err(|_| Box::new(StatusCode::INTERNAL_SERVER_ERROR.into_response()))?;
    w.rows(name, period_us(hours.min(24.0)))
        .ok_or_else(|| Box::new((StatusCode::NOT_FOUND, "no such patient").into_response()))
}

async fn patient_csv(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<PatientQuery>,
) -> Response {
    let rows = match patient_rows(&app, &headers, &q.name, q.hours) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let mut out = String::from("patient,window_start,algorithm,metric,value,quality\n");
    for r in &rows {
        out.push_str(&crate::feed::csv_line(r));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"patient.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

#[derive(Deserialize)]
struct FhirQuery {
    patient: String,
    #[serde(default = "default_fhir_hours")]
    hours: f64,
}

fn default_fhir_hours() -> f64 {
    24.0
}

async fn fhir_observations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<FhirQuery>,
) -> Response {
    let rows = match patient_rows(&app, &headers, &q.patient, q.hours) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    // Built off the async threads, so a large Bundle cannot stall the page.
    let body = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&crate::fhir::bundle_from(&rows, "dashboard"))
    })
    .await;
    match body {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/fhir+json")], body).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Server-sent events: `update` with the ward's version whenever committed
/// results change it (checked every poll), and a comment every 15 s to
/// keep proxies from closing the stream.
async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return unauthorized();
    }
    let mut rx = app.version.clone();
    let stream = async_stream(move |tx| async move {
        let mut last = *rx.borrow_and_update();
        if tx
            .send(format!("event: update\ndata: {last}\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let changed = tokio::time::timeout(Duration::from_secs(15), rx.changed()).await;
            let msg = match changed {
                Ok(Ok(())) => {
                    let v = *rx.borrow_and_update();
                    if v == last {
                        continue;
                    }
                    last = v;
                    format!("event: update\ndata: {v}\n\n")
                }
                Ok(Err(_)) => return,
                Err(_) => ": keep-alive\n\n".to_string(),
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

/// A stream fed by a task through a small channel.
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_util::Stream<Item = Result<String, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|m| (Ok(m), rx)) },
    )
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const LOGIN_HTML: &str = include_str!("../assets/login.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const UPLOT_JS: &str = include_str!("../assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../assets/uPlot.LICENSE");

/// Answers 401 before anything else of the request is looked at (query
/// parameters included): every route behind it needs a live session.
async fn require_session(
    State(app): State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if app.session(req.headers()).is_none() {
        return unauthorized();
    }
    next.run(req).await
}

fn router(app: Arc<App>) -> Router {
    // Patient data and session actions: the session is checked first, by
    // the route layer, so no parameter is parsed for a stranger.
    let signed_in = Router::new()
        .route("/logout", post(logout))
        .route("/api/session", get(api_session))
        .route("/api/ward", get(api_ward))
        .route("/api/patient", get(api_patient))
        .route("/api/status", get(api_status))
        .route("/api/patient.csv", get(patient_csv))
        .route("/api/events", get(events))
        .route("/fhir/Observation", get(fhir_observations))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            require_session,
        ));
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .merge(signed_in)
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript") }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset(STYLE_CSS, "text/css") }),
        )
        .route(
            "/assets/uPlot.iife.min.js",
            get(|| async { asset(UPLOT_JS, "text/javascript") }),
        )
        .route(
            "/assets/uPlot.min.css",
            get(|| async { asset(UPLOT_CSS, "text/css") }),
        )
        .route(
            "/assets/uPlot.LICENSE",
            get(|| async { asset(UPLOT_LICENSE, "text/plain") }),
        )
        .layer(axum::middleware::map_response(|r: Response| async {
            secure_headers(r)
        }))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .with_state(app)
}

/// Serves the dashboard on `listener` until the process ends, following
/// `source` every [`Config::poll`]. `enrolled` lists every patient (name,
/// pseudonym hex) so the ward shows them before their first result.
pub fn serve<S: CommittedRecords + Send + 'static>(
    cfg: Config,
    source: S,
    decryptor: Decryptor,
    directory: Box<dyn Directory>,
    enrolled: Vec<(String, String)>,
    listener: std::net::TcpListener,
) -> Result<(), ClinicError> {
    let mut ward = Ward::default();
    for (name, stream) in &enrolled {
        ward.enrol(name, stream);
    }
    serve_ward(cfg, ward, source, decryptor, directory, listener)
}

/// [`serve`] starting from a ward that already holds results (benchmarks).
pub fn serve_ward<S: CommittedRecords + Send + 'static>(
    cfg: Config,
    ward: Ward,
    mut source: S,
    mut decryptor: Decryptor,
    mut directory: Box<dyn Directory>,
    listener: std::net::TcpListener,
) -> Result<(), ClinicError> {
    let io = |e: std::io::Error| ClinicError::Io {
        path: "dashboard".into(),
        reason: e.to_string(),
    };
    listener.set_nonblocking(true).map_err(io)?;
    let mut ward = ward;
    ward.retention_us = cfg.retention.as_micros().min(i64::MAX as u128) as i64;
    ward.stale_after_us = cfg.stopped_after.as_micros().min(i64::MAX as u128) as i64;
    let (vtx, vrx) = watch::channel(ward.version);
    let poll = cfg.poll;
    let connections = crate::conn::Connections::new(cfg.connections);
    let app = Arc::new(App {
        cfg,
        ward: RwLock::new(ward),
        feed: Mutex::new(FeedHealth::default()),
        sessions: Mutex::new(HashMap::new()),
        logins: tokio::sync::Semaphore::new(2),
        version: vrx,
        connections,
        throttle: Mutex::new(crate::throttle::Throttle::default()),
        devices: Mutex::new(HashMap::new()),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io)?;
    let follower = Arc::clone(&app);
    std::thread::Builder::new()
        .name("aorta-results-feed".into())
        .spawn(move || {
            let mut envs = Vec::new();
            let mut rows = Vec::new();
            let mut last_refresh = Instant::now();
            let mut last_forget = Instant::now();
            let mut last_error: Option<String> = None;
            let mut newest = i64::MIN;
            let mut told_connections = 0u64;
            let mut last_told = Instant::now() - Duration::from_secs(10);
            let retention_us = follower
                .ward
                .read()
                .map_or(7 * 86_400_000_000, |w| w.retention_us);
            loop {
                if last_refresh.elapsed() >= Duration::from_secs(5) {
                    last_refresh = Instant::now();
                    if let Some((fleet, names)) = directory.refresh() {
                        if let Ok(mut w) = follower.ward.write() {
                            for (s, n) in &names {
                                w.enrol(n, &s.to_hex());
                            }
                        }
                        decryptor.update(fleet, names);
                    }
                }
                envs.clear();
                let error = source
                    .poll_committed(&mut envs)
                    .err()
                    .map(|e| e.to_string());
                if error.is_some() && error != last_error {
                    // Logged when it changes, not every poll.
                    eprintln!(
                        "dashboard: reading committed results: {}",
                        error.as_deref().unwrap_or_default()
                    );
                }
                last_error.clone_from(&error);
                let got = !envs.is_empty();
                // A large backlog (the first poll reads the whole history)
                // is applied in batches, so readers are never blocked long.
                let mut pending = std::mem::take(&mut envs);
                while !pending.is_empty() {
                    let rest = pending.split_off(pending.len().min(4096));
                    rows.clear();
                    for (p, e) in pending {
                        decryptor.open(p, e, &mut rows);
                    }
                    pending = rest;
                    if !rows.is_empty() {
                        newest = rows.iter().map(|r| r.record.t_us).fold(newest, i64::max);
                        if let Ok(mut w) = follower.ward.write() {
                            w.apply(&rows);
                            let _ = vtx.send(w.version);
                        }
                    }
                }
                let now = now_us();
                if let Ok(mut f) = follower.feed.lock() {
                    f.last_poll_us = now;
                    if got {
                        f.last_results_us = now;
                    }
                    f.error = error;
                }
                let c = follower.connections.stats();
                if c.evicted + c.refused > told_connections
                    && last_told.elapsed() >= Duration::from_secs(10)
                {
                    told_connections = c.evicted + c.refused;
                    last_told = Instant::now();
                    // Said when it changes, at most every 10 s.
                    eprintln!(
                        "dashboard: at the cap of {} connections: {} waiting connections of strangers closed to make room, {} refused (a flood of idle connections?)",
                        follower.cfg.connections.max_connections, c.evicted, c.refused
                    );
                }
                if last_forget.elapsed() >= Duration::from_secs(60) && newest > i64::MIN {
                    last_forget = Instant::now();
                    decryptor.forget_before(newest - retention_us);
                }
                std::thread::sleep(poll);
            }
        })
        .map_err(io)?;
    let limits = app.cfg.connections;
    let connections = app.connections.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
        let me = app.clone();
        let signed_in: Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync> =
            Arc::new(move |h: &HeaderMap| me.session(h).is_some());
        connections
            .serve(listener, router(app), limits, signed_in)
            .await
            .map_err(io)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_unknown_users_fail() {
        let mut u = Users::default();
        u.set("nurse", "correct horse").unwrap();
        assert!(u.verify("nurse", "correct horse"));
        assert!(!u.verify("nurse", "wrong"));
        assert!(!u.verify("doctor", "correct horse"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        std::fs::write(&p, u.to_text()).unwrap();
        let back = Users::load(&p).unwrap();
        assert!(back.verify("nurse", "correct horse"));
        assert!(!u.to_text().contains("correct horse"));
    }
}
