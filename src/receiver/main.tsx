import { render } from 'preact';
import { App, type ReceiverConfig } from './app.tsx';
import './style.css';

function readConfig(): ReceiverConfig {
  // The server puts its configuration (trust anchors, branding) into the page as inert JSON
  // (type="application/json" never runs, so the strict CSP holds).
  const el = document.getElementById('sealpost-config');
  try {
    const parsed = el?.textContent ? (JSON.parse(el.textContent) as Partial<ReceiverConfig>) : {};
    return {
      trustAnchors: parsed.trustAnchors ?? [],
      ...(parsed.trustAnchorSubjects ? { trustAnchorSubjects: parsed.trustAnchorSubjects } : {}),
      ...(parsed.brand ? { brand: parsed.brand } : {}),
    };
  } catch {
    return { trustAnchors: [] };
  }
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App config={readConfig()} />, root);
}
