/**
 * The message's files: name, type, size; "Save <name>" for each and "Save all" (a ZIP).
 */
import { zipSync } from 'fflate';
import type { Attachment } from '../core/index.ts';
import { formatBytes } from './words.ts';

function save(name: string, type: string, data: Uint8Array): void {
  const url = URL.createObjectURL(new Blob([data.slice()], { type: type || 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** File names unique within the ZIP (two attachments may share a name). */
function uniqueNames(attachments: Attachment[]): string[] {
  const used = new Set<string>();
  return attachments.map((a) => {
    const dot = a.filename.lastIndexOf('.');
    let name = a.filename;
    for (let n = 2; used.has(name.toLowerCase()); n++) {
      name = dot > 0 ? `${a.filename.slice(0, dot)} (${n})${a.filename.slice(dot)}` : `${a.filename} (${n})`;
    }
    used.add(name.toLowerCase());
    return name;
  });
}

export function Attachments({ attachments, subject }: { attachments: Attachment[]; subject: string }) {
  if (attachments.length === 0) return null;
  const saveAll = (): void => {
    const names = uniqueNames(attachments);
    const files: Record<string, [Uint8Array, { level: 0 }]> = {};
    attachments.forEach((a, i) => (files[names[i]!] = [a.content, { level: 0 }]));
    const base =
      (subject || 'message')
        .replace(/[^\p{L}\p{N} ._-]+/gu, '')
        .trim()
        .slice(0, 60) || 'message';
    save(`${base} attachments.zip`, 'application/zip', zipSync(files));
  };
  return (
    <section class="attachments" aria-labelledby="attachments-title">
      <h2 id="attachments-title">
        {attachments.length === 1 ? '1 attachment' : `${attachments.length} attachments`}
      </h2>
      <ul>
        {attachments.map((a, i) => (
          <li key={`${i}:${a.filename}`}>
            <span class="file-name">{a.filename}</span>
            <span class="file-meta">
              {a.contentType} · {formatBytes(a.size)}
            </span>
            <button type="button" onClick={() => save(a.filename, a.contentType, a.content)}>
              Save {a.filename}
            </button>
          </li>
        ))}
      </ul>
      {attachments.length > 1 && (
        <button type="button" class="primary" onClick={saveAll}>
          Save all
        </button>
      )}
    </section>
  );
}
