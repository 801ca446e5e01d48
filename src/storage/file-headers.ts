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
