// Aorta ward dashboard. No inline script (the server's CSP forbids it);
// everything the page shows comes from the signed-in JSON API.
(function () {
  'use strict';

  if (document.body.classList.contains('login')) {
    if (new URLSearchParams(location.search).has('failed')) {
      document.getElementById('failed').hidden = false;
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
    ['clinical_sdnn', 'SDNN, last 5 min (clinical, every minute)', 'ms'],
    ['clinical_rmssd', 'RMSSD, last 5 min (clinical, every minute)', 'ms'],
    ['clinical_lf_hf', 'LF/HF, last 5 min (clinical, every minute)', 'ratio'],
  ];
  let csrf = '';
  let view = { kind: 'ward' };
  let hours = 1;
  let plots = [];

  const clock = (us) => us ? new Date(us / 1000).toLocaleString(undefined, { timeZoneName: 'short' }) : '—';
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
      tr.appendChild(el('td', 'hr', p.hr_bpm == null ? '—' : p.hr_bpm.toFixed(0) + ' bpm'));
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
        q.appendChild(badge('quality', f));
      }
      if (!q.childNodes.length) q.appendChild(badge('ok', 'ok'));
      tr.appendChild(q);
      tr.appendChild(el('td', 'last', clock(p.last_result_us)));
      tr.addEventListener('click', () => { location.hash = 'patient=' + encodeURIComponent(p.patient); });
      tbody.appendChild(tr);
    }
    $('simulated').hidden = !simulated;
    const stalled = $('stalled');
    stalled.hidden = !w.feed_stalled;
    if (w.feed_stalled) {
      text(stalled, 'Results feed stalled' + (w.feed.error ? ': ' + w.feed.error : '') +
        ' — last read ' + clock(w.feed.last_poll_us) + '. Values below may be out of date.');
    }
    text($('ward-count'), w.patients.length + ' patients');
    document.body.dataset.wardVersion = w.version;
  }

  function chart(key, title, unit, data, from, to) {
    const box = el('div', 'chart');
    box.id = 'chart-' + key;
    box.appendChild(el('h4', '', title + ' (' + unit + ')'));
    $('charts').appendChild(box);
    const t = data ? data.t : [];
    const v = data ? data.v : [];
    const flagged = t.map(() => null);
    if (data) for (const [i] of data.flagged) flagged[i] = v[i];
    const opts = {
      width: Math.max(320, $('charts').clientWidth - 20), height: 170,
      scales: { x: { time: true, min: from, max: to } },
      axes: [{ label: 'time' }, { label: unit, size: 60 }],
      series: [
        {},
        { label: title, stroke: '#2458a6', width: 1.5, spanGaps: false },
        { label: 'flagged window', stroke: '#b3261e', fill: '#b3261e', paths: () => null,
          points: { show: true, size: 7, stroke: '#b3261e', fill: '#b3261e' } },
      ],
      legend: { show: true },
    };
    plots.push(new uPlot(opts, [t, v, flagged], box));
    if (!t.length) box.appendChild(el('p', 'note', 'No results in this period.'));
  }

  function timeline(eps, from, to) {
    const tl = $('timeline');
    tl.replaceChildren();
    const span = Math.max(1, to - from);
    for (const e of eps) {
      const s = Math.max(from, e.onset_us / 1e6);
      const end = e.offset_us == null ? to : Math.min(to, e.offset_us / 1e6);
      const seg = el('div', 'seg ' + e.kind);
      seg.style.left = (100 * (s - from) / span) + '%';
      seg.style.width = (100 * Math.max(0, end - s) / span) + '%';
      seg.title = (ALERT_NAMES[e.kind] || e.kind) + ' from ' + clock(e.onset_us) + (e.offset_us ? ' to ' + clock(e.offset_us) : ' (ongoing)');
      tl.appendChild(seg);
    }
    tl.appendChild(text(el('span', 'axis'), new Date(from * 1000).toLocaleTimeString() + ' … ' + new Date(to * 1000).toLocaleTimeString()));
    const tbody = document.querySelector('#alerts tbody');
    tbody.replaceChildren();
    for (const e of eps) {
      const tr = el('tr');
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
    es.onopen = () => { text($('live'), 'live'); $('live').classList.add('on'); };
    es.onerror = async () => {
      text($('live'), 'reconnecting…'); $('live').classList.remove('on');
      // An expired session ends the stream: go to the sign-in form.
      try { await api('/api/session'); } catch (e) { /* api() redirects on 401 */ }
    };
    await route();
  }

  start().catch((e) => console.error(e));
})();
