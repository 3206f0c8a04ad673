/**
 * An HTML body, sanitized with DOMPurify and shown in a sandboxed frame that can make no requests:
 * no scripts, no same-origin access, and a Content-Security-Policy inside the frame that allows
 * only inline styles and data: images (the message's own cid: images are turned into data: URLs).
 * Remote images, CSS url()s, forms and links that fetch are EFAIL's exfiltration channels: all closed.
 */
import DOMPurify from 'dompurify';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import type { Attachment } from '../core/index.ts';
import { cleanSheet, cleanSheetText, cleanStyleText } from './css-clean.ts';

const FRAME_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; form-action 'none'";

function toDataUrl(a: Attachment): string {
  let binary = '';
  for (let i = 0; i < a.content.length; i += 0x8000)
    binary += String.fromCharCode(...a.content.subarray(i, i + 0x8000));
  return `data:${a.contentType};base64,${btoa(binary)}`;
}

export function sanitizeHtml(html: string, attachments: Attachment[]): { html: string; blocked: number } {
  const cids = new Map<string, Attachment>();
  for (const a of attachments) if (a.contentId) cids.set(a.contentId.replace(/^<|>$/g, '').toLowerCase(), a);
  let blocked = 0;
  const purify = DOMPurify();
  purify.addHook('uponSanitizeAttribute', (_node, data) => {
    const name = data.attrName.toLowerCase();
    const value = data.attrValue;
    if (name === 'style') {
      // Parsed by the browser's CSS parser and cleaned (css-clean.ts).
      const cleaned = cleanStyleText(document, value);
      blocked += cleaned.removed;
      if (cleaned.css) data.attrValue = cleaned.css;
      else data.keepAttr = false;
      return;
    }
    if (
      name === 'src' ||
      name === 'background' ||
      name === 'poster' ||
      name === 'srcset' ||
      name === 'xlink:href'
    ) {
      const cid = /^\s*cid:(.+)$/i.exec(value);
      if (cid) {
        const a = cids.get(cid[1]!.trim().toLowerCase());
        if (a && a.contentType.startsWith('image/')) {
          data.attrValue = toDataUrl(a);
          return;
        }
      }
      if (/^\s*data:image\//i.test(value)) return;
      data.keepAttr = false;
      blocked++;
    }
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
    if (node instanceof Element && node.tagName === 'A') {
      const href = node.getAttribute('href');
      if (href && !/^\s*(https?:|mailto:)/i.test(href)) node.removeAttribute('href');
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
  purify.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'style' && node.textContent) {
      // Parsed by the browser's CSS parser and cleaned (css-clean.ts); a sheet it cannot parse goes.
      const cleaned = cleanSheetText(window, node.textContent);
      blocked += cleaned ? cleaned.removed : 1;
      node.textContent = cleaned ? cleaned.css : '';
    }
  });
  // Mail clients put their <style> sheets in <head>: keep them (sanitized like any other) by moving
  // them into the body, which is all that is rendered. Parsed inert: DOMParser runs and loads nothing.
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  const headStyles = Array.from(parsed.head.querySelectorAll('style'), (s) => s.outerHTML).join('');
  const clean = purify.sanitize(headStyles + parsed.body.innerHTML, {
    WHOLE_DOCUMENT: false,
    FORCE_BODY: true,
    FORBID_TAGS: [
      'form',
      'input',
      'button',
      'select',
      'textarea',
      'script',
      'iframe',
      'frame',
      'object',
      'embed',
      'link',
      'meta',
      'base',
      'svg',
      'math',
      'audio',
      'video',
      'source',
      'track',
      'picture',
    ],
    FORBID_ATTR: ['action', 'formaction', 'ping', 'srcdoc', 'http-equiv'],
    ALLOW_DATA_ATTR: false,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|data:image\/|#)/i,
  });
  return { html: String(clean), blocked };
}

const BASE_CSS =
  'body{font-family:system-ui,sans-serif;margin:0.5rem;color:#111;background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:auto}';

/** The frame's own document: a CSP of its own on top of the page's (which it inherits), no content yet. */
const FRAME_DOC = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}"><meta name="referrer" content="no-referrer"></head><body></body></html>`;

/**
 * Moves the sanitized body into the frame. A srcdoc frame inherits the page's CSP, which allows no
 * inline style; so style attributes and <style> sheets are applied through the CSSOM
 * (element.style, adoptedStyleSheets), which CSP does not govern. Nothing here can fetch: CSS that
 * could was removed by the sanitizer, is removed again here from what the frame's own parser made of
 * it (css-clean.ts), and both CSPs allow only data: images.
 */
function fill(frame: HTMLIFrameElement, html: string): void {
  const win = frame.contentWindow as (Window & typeof globalThis) | null;
  const doc = frame.contentDocument;
  if (!win || !doc) return;
  // Parsed inert: a DOMParser document runs nothing and loads nothing.
  const parsed = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
  const sheets: CSSStyleSheet[] = [];
  const base = new win.CSSStyleSheet();
  base.replaceSync(BASE_CSS);
  sheets.push(base);
  for (const el of Array.from(parsed.querySelectorAll('style'))) {
    const sheet = new win.CSSStyleSheet();
    try {
      sheet.replaceSync(el.textContent ?? '');
      cleanSheet(sheet); // the second layer: nothing that fetches is adopted, even past the first
      sheets.push(sheet);
    } catch {
      /* a sheet the browser cannot parse is left out */
    }
    el.remove();
  }
  const css = Array.from(parsed.body.querySelectorAll('*'), (el) => {
    const v = el.getAttribute('style');
    el.removeAttribute('style');
    return v;
  });
  doc.adoptedStyleSheets = sheets;
  doc.body.replaceChildren(...Array.from(parsed.body.childNodes, (n) => doc.importNode(n, true)));
  // Same document order as in `parsed`: give each element its style back through the CSSOM.
  Array.from(doc.body.querySelectorAll('*')).forEach((el, i) => {
    const v = css[i];
    // Cleaned on a detached element first (the second layer), then applied.
    const clean = v ? cleanStyleText(doc, v).css : '';
    if (clean && el instanceof win.HTMLElement) el.style.cssText = clean;
  });
  frame.style.height = `${Math.min(Math.max(doc.documentElement.scrollHeight + 16, 120), 4000)}px`;
}

export function HtmlBody({ html, attachments }: { html: string; attachments: Attachment[] }) {
  const result = useMemo(() => sanitizeHtml(html, attachments), [html, attachments]);
  const frameRef = useRef<HTMLIFrameElement>(null);
  useEffect(() => {
    const frame = frameRef.current;
    if (frame?.contentDocument?.readyState === 'complete' && frame.contentDocument.body)
      fill(frame, result.html);
  }, [result.html]);
  return (
    <div class="html-body">
      {result.blocked > 0 && (
        <p class="notice">
          {result.blocked} remote {result.blocked === 1 ? 'resource was' : 'resources were'} blocked to
          protect your privacy and the message’s secrecy.
        </p>
      )}
      <iframe
        ref={frameRef}
        title="Message content"
        // No allow-scripts: nothing in the frame ever runs. allow-same-origin only lets this page
        // write the sanitized body into it.
        sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
        referrerpolicy="no-referrer"
        srcdoc={FRAME_DOC}
        class="html-frame"
        onLoad={(e) => fill(e.currentTarget as HTMLIFrameElement, result.html)}
      />
    </div>
  );
}
