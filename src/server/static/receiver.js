/* global document, location, fetch, URL, setTimeout, sessionStorage, history */
// The minimal built-in receiver (served when no built receiver app exists): reads the secret from
// the link's fragment, shows the delivery, saves the encrypted message, records the receipt. The
// secret only ever travels in the X-Sealpost-Secret header.
'use strict';

(function () {
  const root = document.getElementById('receiver');
  const id = location.pathname.split('/').pop();
  const key = 'sealpost:secret:' + id;
  const secret = location.hash.slice(1) || sessionStorage.getItem(key) || '';
  if (location.hash.length > 1) {
    // Keep it for reloads of this tab only, and take it out of the address bar (screens, history).
    sessionStorage.setItem(key, secret);
    history.replaceState(null, '', location.pathname);
  }
  const headers = { 'x-sealpost-secret': secret };

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children || []) e.append(c);
    return e;
  }

  async function fail(res) {
    let text = 'HTTP ' + res.status;
    try {
      const body = await res.json();
      if (body.error) text = body.error.message;
    } catch {
      /* keep the status */
    }
    root.replaceChildren(el('p', { class: 'error' }, [text]));
  }

  async function main() {
    if (!secret)
      return root.replaceChildren(
        el('p', { class: 'error' }, [
          'This link is incomplete: open it exactly as it came in the notification.',
        ]),
      );
    const res = await fetch('/api/v1/pickup/' + encodeURIComponent(id), { headers });
    if (!res.ok) return fail(res);
    const m = await res.json();
    const status = el('p', { class: 'meta' }, []);
    const save = el('button', { type: 'button' }, ['Save the encrypted message']);
    const done = el('button', { type: 'button', class: 'secondary' }, ['Mark as processed']);
    save.addEventListener('click', async () => {
      save.disabled = true;
      const r = await fetch(m.contentUrl, { headers });
      if (!r.ok) return fail(r);
      const url = URL.createObjectURL(await r.blob());
      const a = el('a', { href: url, download: 'message-' + m.id + '.eml' }, []);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      save.disabled = false;
      status.textContent = 'Saved. Open it with your S/MIME or OpenPGP mail program.';
    });
    done.addEventListener('click', async () => {
      done.disabled = true;
      const r = await fetch(m.receiptUrl, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ outcome: 'processed', receiver: 'sealpost-builtin' }),
      });
      if (!r.ok) return fail(r);
      status.textContent = 'Thank you: the sender can see that you received the message.';
    });
    root.replaceChildren(
      el('dl', {}, [
        el('dt', {}, ['From']),
        el('dd', {}, [
          m.sender + (m.from && m.from.indexOf(m.sender) < 0 ? ' (writes as ' + m.from + ')' : ''),
        ]),
        el('dt', {}, ['Subject']),
        el('dd', {}, [m.subject || '(no subject)']),
        el('dt', {}, ['Size']),
        el('dd', {}, [
          Math.ceil(m.size / 1024) +
            ' KB, ' +
            m.protocol +
            (m.encrypted ? ', encrypted' : m.signed ? ', signed' : ''),
        ]),
        el('dt', {}, ['Available until']),
        el('dd', {}, [new Date(m.expiresAt).toLocaleString()]),
      ]),
      save,
      done,
      status,
    );
  }

  main().catch((e) =>
    root.replaceChildren(el('p', { class: 'error' }, ['Something went wrong: ' + e.message])),
  );
})();
