// Aorta ward dashboard. No inline script (the server's CSP forbids it);
// everything the page shows comes from the signed-in JSON API.
(function () {
  'use strict';

  if (document.body.classList.contains('login')) {
    const q = new URLSearchParams(location.search);
    if (q.has('failed')) document.getElementById('failed').hidden = false;
    const wait = Number(q.get('throttled'));
    if (q.has('throttled') && wait > 0) {
      document.getElementById('wait').textContent = wait >= 90 ? Math.ceil(wait / 60) + ' minutes' : wait + ' seconds';
      document.getElementById('throttled').hidden = false;
    }
    return;
  }

  const $ = (id) => document.getElementById(id);
  const ALERT_NAMES = {
    atrial_fibrillation: 'AF', bradycardia: 'bradycardia', tachycardia: 'tachycardia',
    pause: 'pause', signal_loss: 'signal loss',
  };
  const SERIES = [
    ['hr', 'Heart rate, 10-s windows', 'bpm'],
    ['sdnn', 'SDNN, 10-s windows', 'ms'],
    ['rmssd', 'RMSSD, 10-s windows', 'ms'],
    ['clinical_sdnn', 'SDNN over the 5 minutes before each point (clinical, every minute)', 'ms'],
    ['clinical_rmssd', 'RMSSD over the 5 minutes before each point (clinical, every minute)', 'ms'],
    ['clinical_lf_hf', 'LF/HF over the 5 minutes before each point (clinical, every minute)', 'ratio'],
  ];
  let csrf = '';
  let view = { kind: 'ward' };
  let hours = 1;
  let plots = [];

  // One way of writing time on every part of the page: the browser's zone,
  // 24-hour clock, the zone named ("2026-12-08 10:48:02 UTC").
  const PARTS = new Intl.DateTimeFormat('en-CA', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
  });
  function parts(ms) {
    const o = {};
    for (const p of PARTS.formatToParts(new Date(ms))) o[p.type] = p.value;
    return o;
  }
  const ZONE = parts(Date.now()).timeZoneName || 'local time';
  const clock = (us) => {
    if (!us) return '—';
    const p = parts(us / 1000);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
  };
  // Axis ticks: the same clock, shortened (the axis title names the zone).
  const tick = (s, long) => {
    const p = parts(s * 1000);
    return (long ? `${p.month}-${p.day} ` : '') + `${p.hour}:${p.minute}`;
  };
  const age = (us, now) => {
    const s = Math.max(0, (now - us) / 1e6);
    if (s < 90) return Math.round(s) + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  };
  const text = (el, s) => { el.textContent = s; return el; };
  const el = (tag, cls, s) => { const e = document.createElement(tag); if (cls) e.className = cls; if (s !== undefined) e.textContent = s; return e; };

  async function api(path) {
    const r = await fetch(path, { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/login'; throw new Error('signed out'); }
    if (!r.ok) throw new Error(path + ': ' + r.status);
    return r.json();
  }

  function badge(cls, s) { return el('span', 'badge ' + cls, s); }

  async function renderWard() {
    const w = await api('/api/ward');
    const tbody = document.querySelector('#ward tbody');
    tbody.replaceChildren();
    let simulated = false;
    for (const p of w.patients) {
      const tr = el('tr', p.attention > 0 ? 'attention' : '');
      tr.dataset.patient = p.patient;
      tr.appendChild(el('td', 'name', p.patient));
      const hr = el('td', 'hr');
      hr.appendChild(el('span', 'value', p.hr_bpm == null ? '—' : p.hr_bpm.toFixed(0) + ' bpm'));
      if (p.hr_end_us) hr.appendChild(el('span', 'age' + (p.stopped_since_us ? ' old' : ''), age(p.hr_end_us, w.now_us)));
      tr.appendChild(hr);
      const rhythm = el('td', 'rhythm');
      rhythm.appendChild(p.rhythm === 'af' ? badge('af', 'AF') : text(el('span'), p.rhythm === 'no af detected' ? 'no AF detected' : p.rhythm));
      tr.appendChild(rhythm);
      const alerts = el('td', 'alerts');
      for (const a of p.alerts) alerts.appendChild(badge('alert', ALERT_NAMES[a] || a));
      if (!p.alerts.length) alerts.appendChild(badge('ok', 'none'));
      tr.appendChild(alerts);
      const q = el('td', 'quality');
      for (const f of p.quality) {
        if (f === 'SIMULATED-TEE') { simulated = true; continue; }
        if (f === 'no recent results') { q.appendChild(badge('stopped', p.last_result_us ? 'stopped' : 'no results yet')); continue; }
        q.appendChild(badge('quality', f));
      }
      if (!q.childNodes.length) q.appendChild(badge('ok', 'ok'));
      tr.appendChild(q);
      tr.appendChild(el('td', 'last' + (p.stopped_since_us ? ' stopped' : ''),
        p.stopped_since_us ? 'stopped since ' + clock(p.stopped_since_us) : clock(p.last_result_us)));
      tr.addEventListener('click', () => { location.hash = 'patient=' + encodeURIComponent(p.patient); });
      tbody.appendChild(tr);
    }
    $('simulated').hidden = !simulated;
    status(w);
    text($('ward-count'), w.patients.length + ' patients');
    document.body.dataset.wardVersion = w.version;
  }

  // The header and banner: what the feed is doing, from the server's view.
  let connected = false;
  let lastStatus = null;
  function status(s) {
    if (s) lastStatus = s; else s = lastStatus;
    const live = $('live');
    const banner = $('stalled');
    live.classList.remove('on', 'off');
    banner.hidden = true;
    if (!s) return;
    document.body.dataset.feedState = s.feed_state;
    if (s.feed_state === 'stalled') {
      text(live, 'feed stalled');
      live.classList.add('off');
      banner.hidden = false;
      text(banner, 'Results feed stalled' + (s.feed.error ? ': ' + s.feed.error : '') +
        ' — last read ' + clock(s.feed.last_poll_us) + '. Values below may be out of date.');
    } else if (s.feed_state === 'stopped') {
      text(live, 'stopped since ' + clock(s.stopped_since_us));
      live.classList.add('off');
      banner.hidden = false;
      text(banner, 'No new results since ' + clock(s.stopped_since_us) + ' (' + age(s.stopped_since_us, s.now_us) +
        '): the values below are the last known, not current.');
    } else if (s.feed_state === 'waiting') {
      text(live, 'waiting for the first results');
    } else if (!connected) {
      text(live, 'reconnecting…');
    } else {
      text(live, 'live — newest result ' + clock(s.newest_result_us));
      live.classList.add('on');
    }
  }

  // At least `n` evenly spaced, round y ticks over [min, max].
  function niceTicks(min, max, n) {
    // Values (nearly) all equal: a span around them.
    if (!(max - min > 1e-6 * Math.max(1, Math.abs(max)))) { max = min + 1; min -= 1; }
    const raw = (max - min) / (n - 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw) || raw;
    const lo = Math.floor(min / step) * step;
    const out = [];
    for (let i = 0; i < 50 && (out.length < n || out[out.length - 1] < max); i++) out.push(+(lo + i * step).toPrecision(12));
    return out;
  }
  const fmtTick = (v, unit) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(Math.abs(v) >= 1 ? 1 : 2)) + ' ' + unit;

  function chart(key, title, unit, data, from, to) {
    const box = el('div', 'chart');
    box.id = 'chart-' + key;
    box.appendChild(el('h4', '', title + ' (' + unit + ')'));
    $('charts').appendChild(box);
    const t = data ? data.t : [];
    const v = data ? data.v : [];
    const flagged = t.map(() => null);
    if (data) for (const [i] of data.flagged) flagged[i] = v[i];
    const finite = v.filter((x) => x != null && isFinite(x));
    const ticks = niceTicks(finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1, 5);
    box.dataset.yticks = JSON.stringify(ticks.map((x) => fmtTick(x, unit)));
    box.dataset.windowS = data ? data.window_s : '';
    box.dataset.lastT = t.length ? t[t.length - 1] : '';
    const long = to - from > 2 * 86400;
    const opts = {
      width: Math.max(320, $('charts').clientWidth - 20), height: 200,
      scales: {
        x: { time: true, min: from, max: to },
        y: { range: () => [ticks[0], ticks[ticks.length - 1]] },
      },
      axes: [
        { label: 'time (' + ZONE + ')', values: (u, splits) => splits.map((s) => tick(s, long)) },
        { label: unit, size: 70, splits: () => ticks, values: (u, splits) => splits.map((x) => fmtTick(x, unit)) },
      ],
      series: [
        { label: 'window end', value: (u, s) => s == null ? '—' : clock(s * 1e6) },
        { label: title, stroke: '#2458a6', width: 1.5, spanGaps: false,
          value: (u, x) => x == null ? '—' : fmtTick(x, unit) },
        { label: 'flagged window', stroke: '#b3261e', fill: '#b3261e', paths: () => null,
          points: { show: true, size: 7, stroke: '#b3261e', fill: '#b3261e' } },
      ],
      legend: { show: true },
      // Until hovered, the legend shows the newest value, not "--".
      hooks: { ready: [(u) => { if (t.length) u.setLegend({ idx: t.length - 1 }); }] },
    };
    plots.push(new uPlot(opts, [t, v, flagged], box));
    if (!t.length) box.appendChild(el('p', 'note', 'No results in this period.'));
  }

  // One lane per kind of episode, named; every episode labelled with its
  // kind and times (the same text as the alert log), and a time axis.
  function timeline(eps, from, to) {
    const tl = $('timeline');
    tl.replaceChildren();
    const span = Math.max(1, to - from);
    const kinds = [...new Set(eps.map((e) => e.kind))];
    if (!kinds.length) tl.appendChild(el('p', 'note', 'No AF episode or alert in this period.'));
    for (const k of kinds) {
      const lane = el('div', 'lane');
      lane.appendChild(el('span', 'lane-name', ALERT_NAMES[k] || k));
      const track = el('div', 'track');
      for (const e of eps.filter((x) => x.kind === k)) {
        const s = Math.max(from, e.onset_us / 1e6);
        const end = e.offset_us == null ? to : Math.min(to, e.offset_us / 1e6);
        const seg = el('div', 'seg ' + e.kind);
        seg.style.left = (100 * (s - from) / span) + '%';
        seg.style.width = (100 * Math.max(0, end - s) / span) + '%';
        const label = (ALERT_NAMES[e.kind] || e.kind) + ' ' + clock(e.onset_us) + ' – ' + (e.offset_us == null ? 'ongoing' : clock(e.offset_us));
        seg.title = label;
        seg.dataset.label = label;
        seg.appendChild(el('span', 'seg-label', label));
        track.appendChild(seg);
      }
      lane.appendChild(track);
      tl.appendChild(lane);
    }
    const axis = el('div', 'lane axis');
    axis.appendChild(el('span', 'lane-name', 'time (' + ZONE + ')'));
    const track = el('div', 'track');
    const long = span > 2 * 86400;
    for (let i = 0; i <= 4; i++) {
      const at = from + span * i / 4;
      const m = el('span', 'tick', tick(at, long));
      m.style.left = (100 * i / 4) + '%';
      track.appendChild(m);
    }
    axis.appendChild(track);
    tl.appendChild(axis);
    const tbody = document.querySelector('#alerts tbody');
    tbody.replaceChildren();
    for (const e of eps) {
      const tr = el('tr');
      tr.dataset.label = (ALERT_NAMES[e.kind] || e.kind) + ' ' + clock(e.onset_us) + ' – ' + (e.offset_us == null ? 'ongoing' : clock(e.offset_us));
      tr.appendChild(el('td', '', ALERT_NAMES[e.kind] || e.kind));
      tr.appendChild(el('td', '', clock(e.onset_us)));
      tr.appendChild(el('td', '', e.offset_us == null ? 'ongoing' : clock(e.offset_us)));
      const d = ((e.offset_us == null ? to * 1e6 : e.offset_us) - e.onset_us) / 6e7;
      tr.appendChild(el('td', '', d.toFixed(1) + ' min'));
      tbody.appendChild(tr);
    }
  }

  async function renderPatient(name) {
    const q = 'name=' + encodeURIComponent(name) + '&hours=' + hours;
    const t = await api('/api/patient?' + q);
    // A slower answer for a patient no longer shown is dropped.
    if (view.kind !== 'patient' || view.name !== t.patient) return;
    text($('patient-name'), t.patient);
    $('dl-csv').href = '/api/patient.csv?' + q;
    $('dl-fhir').href = '/fhir/Observation?patient=' + encodeURIComponent(name) + '&hours=' + hours;
    for (const b of document.querySelectorAll('.controls button')) {
      b.classList.toggle('active', Number(b.dataset.hours) === hours);
    }
    plots.forEach((p) => p.destroy());
    plots = [];
    $('charts').replaceChildren();
    status(t.status);
    const from = t.from_us / 1e6, to = t.to_us / 1e6;
    timeline(t.episodes, from, to);
    for (const [key, title, unit] of SERIES) chart(key, title, unit, t.series[key], from, to);
    document.body.dataset.patientRendered = t.patient;
  }

  function route() {
    const h = location.hash.replace(/^#/, '');
    const m = /^patient=(.*)$/.exec(h);
    let name = null;
    if (m) { try { name = decodeURIComponent(m[1]); } catch (e) { name = null; } }
    view = name !== null ? { kind: 'patient', name } : { kind: 'ward' };
    $('ward-view').hidden = view.kind !== 'ward';
    $('patient-view').hidden = view.kind !== 'patient';
    return refresh();
  }

  function refresh() {
    const p = view.kind === 'patient' ? renderPatient(view.name) : renderWard();
    return p.catch((e) => console.error(e));
  }

  async function start() {
    const s = await api('/api/session');
    csrf = s.csrf;
    text($('user'), s.user);
    $('logout').addEventListener('click', async () => {
      try {
        const r = await fetch('/logout', { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' });
        if (!r.ok && r.status !== 401) { alert('Sign-out failed (' + r.status + '); close the browser to end the session.'); return; }
      } catch (e) { alert('Sign-out failed: ' + e); return; }
      location.href = '/login';
    });
    for (const b of document.querySelectorAll('.controls button')) {
      b.addEventListener('click', () => { hours = Number(b.dataset.hours); refresh(); });
    }
    window.addEventListener('hashchange', route);
    const es = new EventSource('/api/events');
    es.addEventListener('update', () => refresh());
    es.onopen = () => { connected = true; status(); };
    es.onerror = async () => {
      connected = false;
      status();
      // An expired session ends the stream: go to the sign-in form.
      try { await api('/api/session'); } catch (e) { /* api() redirects on 401 */ }
    };
    // A feed that stops sends no update: look again every 10 s, so the
    // header, the ages and "stopped since" follow the clock (the patient
    // view asks for the state alone: its charts stay as they are).
    setInterval(() => {
      const p = view.kind === 'patient' ? api('/api/status').then(status) : renderWard();
      p.catch((e) => console.error(e));
    }, 10000);
    await route();
  }

  start().catch((e) => console.error(e));
})();
