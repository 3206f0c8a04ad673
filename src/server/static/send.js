/* global document, fetch, setTimeout, FormData, URLSearchParams */
// The upload form (/send): checks the API key, posts the file to the submission API, then shows
// the deliveries and refreshes their state. The API key stays in this page's memory only.
'use strict';

(function () {
  const form = document.getElementById('send-form');
  const out = document.getElementById('send-result');
  if (!form || !out) return;

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children || []) e.append(c);
    return e;
  }

  function show(nodes) {
    out.replaceChildren(...nodes);
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      return body.error ? body.error.message : 'HTTP ' + res.status;
    } catch {
      return 'HTTP ' + res.status;
    }
  }

  function renderStatus(status) {
    const rows = status.deliveries.map((d) => {
      const last = d.events.length ? d.events[d.events.length - 1] : null;
      return el('tr', {}, [
        el('td', {}, [d.recipient]),
        el('td', { class: 'state' }, [d.state]),
        el('td', {}, [last ? new Date(last.at).toLocaleString() : '']),
      ]);
    });
    show([
      el('div', { class: 'card' }, [
        el('p', { class: 'ok' }, ['Stored. Each recipient gets a notification with a private link.']),
        el('dl', {}, [
          el('dt', {}, ['Message']),
          el('dd', {}, [status.id]),
          el('dt', {}, ['Expires']),
          el('dd', {}, [new Date(status.expiresAt).toLocaleString()]),
        ]),
        el('table', {}, [
          el('thead', {}, [
            el('tr', {}, [el('th', {}, ['Recipient']), el('th', {}, ['State']), el('th', {}, ['Since'])]),
          ]),
          el('tbody', {}, rows),
        ]),
      ]),
    ]);
  }

  async function poll(id, headers, rounds) {
    const res = await fetch('/api/v1/messages/' + encodeURIComponent(id), { headers });
    if (res.ok) renderStatus(await res.json());
    if (rounds > 0) setTimeout(() => void poll(id, headers, rounds - 1), 3000);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const email = String(data.get('email') || '')
      .trim()
      .toLowerCase();
    const headers = { authorization: 'Bearer ' + String(data.get('apiKey') || '').trim() };
    const file = data.get('file');
    const button = form.querySelector('button');
    button.disabled = true;
    show([el('p', {}, ['Checking your key…'])]);
    try {
      const who = await fetch('/api/v1/sender', { headers });
      if (!who.ok) return show([el('p', { class: 'error' }, [await errorText(who)])]);
      const sender = await who.json();
      if (sender.email !== email)
        return show([el('p', { class: 'error' }, ['This API key belongs to another sender address.'])]);
      const params = new URLSearchParams();
      for (const to of String(data.get('to') || '').split(/[\s,;]+/)) if (to) params.append('to', to);
      if (data.get('expires')) params.set('expires', String(data.get('expires')));
      if (data.get('receipt')) params.set('receipt', 'true');
      show([el('p', {}, ['Uploading ' + file.name + '…'])]);
      const res = await fetch('/api/v1/messages?' + params.toString(), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'message/rfc822' },
        body: file,
      });
      if (res.status !== 201) return show([el('p', { class: 'error' }, [await errorText(res)])]);
      const created = await res.json();
      await poll(created.id, headers, 40);
    } catch (e) {
      show([el('p', { class: 'error' }, ['The upload failed: ' + e.message])]);
    } finally {
      button.disabled = false;
    }
  });
})();
