// Headers that keep stored files inert. Files are served from the gateway's
// own origin (Convex serves them from a separate one), with whatever
// Content-Type the uploader chose: an uploaded HTML or SVG page with a
// <script> would otherwise run with the app's cookies and localStorage.
//
// - Every storage answer (200, 206, 304, 404...) carries nosniff and a
//   Content-Security-Policy that sandboxes the document into an opaque
//   origin and loads nothing: even a page a browser renders cannot reach
//   the gateway's origin or fetch anything.
// - Only passive types are shown inline; everything else (HTML, XHTML, SVG,
//   XML, JavaScript, unknown or unparseable types) is an attachment, unless
//   storage.inlineTypes allows it.
// - Cross-Origin-Resource-Policy: cross-origin, so that an app on another
//   origin may still embed its images when it isolates itself with COEP.
// - A file's name (given at upload) reaches the header only through
//   content-disposition's RFC 6266 encoding: an ASCII `filename` fallback and
//   an RFC 5987 `filename*`, whatever quotes, line breaks or scripts it holds.

import contentDisposition from 'content-disposition';
import { GatewayError } from '../http/errors.js';

/** Sent with every answer of the storage endpoints, errors included. */
export const STORAGE_HEADERS: readonly string[] = [
  'x-content-type-options', 'nosniff',
  'content-security-policy', "sandbox; default-src 'none'",
  'cross-origin-resource-policy', 'cross-origin',
];

// What a browser only ever displays: no script, no markup that loads more.
const PASSIVE = new Set(['text/plain', 'text/csv', 'application/json', 'application/pdf']);
const PASSIVE_FAMILIES = new Set(['audio', 'video', 'font']);
const ACTIVE_IMAGES = new Set(['image/svg+xml']);

// type/subtype as RFC 9110 tokens; parameters (;charset=...) are ignored.
const MEDIA_TYPE = /^\s*([!#$%&'*+.^_`|~0-9a-z-]+)\/([!#$%&'*+.^_`|~0-9a-z-]+)\s*(;.*)?$/i;

export type Disposition = 'inline' | 'attachment';

/** Decides once, from the config, how each Content-Type is served. */
export function dispositionPolicy(inlineTypes: readonly string[]): (contentType: string | null) => Disposition {
  const allowed = new Set(inlineTypes.map((type) => type.toLowerCase()));
  return (contentType) => {
    if (contentType === null) return 'attachment';
    const match = MEDIA_TYPE.exec(contentType);
    if (!match) return 'attachment';
    const family = match[1]!.toLowerCase();
    const essence = `${family}/${match[2]!.toLowerCase()}`;
    if (allowed.has(essence) || allowed.has(`${family}/*`)) return 'inline';
    if (PASSIVE.has(essence) || PASSIVE_FAMILIES.has(family)) return 'inline';
    if (family === 'image' && !ACTIVE_IMAGES.has(essence)) return 'inline';
    return 'attachment';
  };
}

/** The Content-Disposition of a served file. */
export function dispositionHeader(disposition: Disposition, fileName: string | null | undefined): string {
  if (!fileName) return disposition;
  // An ASCII fallback (not Latin-1, which clients decode differently); any
  // other character makes the full name go in filename* as UTF-8.
  return contentDisposition(fileName, { type: disposition, fallback: fileName.replace(/[^\x20-\x7e]/g, '_') });
}

const MAX_NAME = 255;

/**
 * A file name as it is kept: its last path segment, without control
 * characters, at most 255 characters; null when nothing is left.
 */
export function cleanFileName(name: string | null | undefined): string | null {
  if (typeof name !== 'string') return null;
  const last = name.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = [...last.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '').trim()].slice(0, MAX_NAME).join('');
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}

/** The file name an upload's Content-Disposition header gives, if any; a malformed header is a 400. */
export function fileNameOf(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return null;
  try {
    return cleanFileName(contentDisposition.parse(header).parameters.filename);
  } catch {
    throw new GatewayError('BadRequest', 'The Content-Disposition header cannot be parsed (RFC 6266)');
  }
}

/** The file name in a Content-Disposition another tier sent; its header is trusted no further. */
export function fileNameOrNull(header: string | null): string | null {
  try {
    return fileNameOf(header ?? undefined);
  } catch {
    return null;
  }
}
