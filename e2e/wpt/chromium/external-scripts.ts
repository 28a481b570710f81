/**
 * Inline scripts moved out of a page into external scripts of the same
 * site, for pages whose Content Security Policy allows no inline script
 * (an Isolated Web App's `script-src 'self' 'wasm-unsafe-eval'`, a Chrome
 * App's `script-src 'self'`).
 *
 * Each inline `<script>` of a classic or module type becomes
 * `<script src="/__inline/<sha-256>.js">` with its other attributes, and
 * the script's text is kept, by its hash, until the site is asked for it.
 * Execution order is kept: a classic external script without `async` or
 * `defer` is parser-blocking and runs where it stands, as the inline one
 * did (so `async` and `defer`, which an inline classic script ignores, are
 * dropped), and module scripts, inline or not, run in document order once
 * the document is parsed (`async` is kept: it means the same for both).
 * Scripts of other types (data blocks, import maps) are left as they are.
 *
 * The page is handled as bytes (a latin1 string, one character per byte),
 * since it may not be UTF-8, and each script is served as the same bytes
 * with no charset: a classic script without one is decoded with its
 * document's encoding, as its inline text was. (Module scripts are always
 * UTF-8; the suite's module scripts are ASCII.)
 *
 * What cannot be moved, and stays blocked by such a policy: event-handler
 * attributes (`onload="…"`) and `javascript:` URLs.
 */
import { createHash } from 'node:crypto';
import type { WptResource } from '../resources.js';

/** Where the moved scripts are served: `${INLINE_SCRIPTS_PATH}<sha-256 hex>.js`. */
export const INLINE_SCRIPTS_PATH = '/__inline/';

/** A JavaScript MIME type essence (HTML's list), whose scripts are classic. */
const JAVASCRIPT_TYPE =
  /^(?:application\/(?:ecma|java|x-ecma|x-java)script|text\/(?:ecma|java)script(?:1\.[0-5])?|text\/(?:jscript|livescript|x-ecmascript|x-javascript))$/;

/** What kind of script a `<script>` element's attributes make, as HTML decides it. */
export function scriptKind(attributes: ReadonlyMap<string, string>): 'classic' | 'module' | 'other' {
  const type = attributes.get('type');
  const language = attributes.get('language');
  if (type === undefined || type === '') {
    if (language === undefined || language === '') return 'classic';
    return JAVASCRIPT_TYPE.test(`text/${language.trim().toLowerCase()}`) ? 'classic' : 'other';
  }
  const essence = type.trim().toLowerCase();
  if (JAVASCRIPT_TYPE.test(essence)) return 'classic';
  return essence === 'module' ? 'module' : 'other';
}

/** An HTML start tag's attributes (lower-case names; the first of a repeated name wins, as in HTML). */
export function tagAttributes(source: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const match of source.matchAll(/([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = match[1]!.toLowerCase();
    if (!result.has(name)) result.set(name, match[2] ?? match[3] ?? match[4] ?? '');
  }
  return result;
}

/** A page's markup cut into comments, script elements and the rest. */
type Piece =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'script';
      /** The start tag's attribute text, between `<script` and `>`. */
      readonly attributes: string;
      readonly body: string;
      /** The end tag as written (`</script>`, `</SCRIPT >`), or '' at the end of the page. */
      readonly end: string;
    };

/**
 * Comments and `<script>` elements of `html`. A script's text ends at the
 * first `</script` followed by whitespace, `/` or `>`, as HTML's tokenizer
 * ends it; a quoted `>` does not end the start tag.
 */
function pieces(html: string): Piece[] {
  const out: Piece[] = [];
  const pattern = /<!--[\s\S]*?(?:-->|$)|<script(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>/gi;
  let at = 0;
  for (;;) {
    pattern.lastIndex = at;
    const match = pattern.exec(html);
    if (match === null) break;
    if (match[0].startsWith('<!--')) {
      out.push({ kind: 'text', text: html.slice(at, pattern.lastIndex) });
      at = pattern.lastIndex;
      continue;
    }
    out.push({ kind: 'text', text: html.slice(at, match.index) });
    const bodyStart = pattern.lastIndex;
    const end = /<\/script(?=[\s/>])[^>]*>/gi;
    end.lastIndex = bodyStart;
    const close = end.exec(html);
    const bodyEnd = close === null ? html.length : close.index;
    out.push({
      kind: 'script',
      attributes: match[1]!,
      body: html.slice(bodyStart, bodyEnd),
      end: close === null ? '' : close[0],
    });
    at = close === null ? html.length : end.lastIndex;
  }
  out.push({ kind: 'text', text: html.slice(at) });
  return out;
}

/** `attributes` (a start tag's attribute text) without the named boolean or valued attributes. */
function withoutAttributes(attributes: string, names: readonly string[]): string {
  return attributes.replace(
    /(\s*)([^\s"'>/=]+)(\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?/g,
    (whole, _space: string, name: string) => (names.includes(name.toLowerCase()) ? '' : whole),
  );
}

/**
 * The scripts moved out of the pages of a site, by content: a page's
 * scripts are recorded when the page is rewritten, so the page must be
 * served (rewritten) before its scripts are asked for, as a browser does.
 */
export class ExternalScripts {
  readonly #scripts = new Map<string, string>();
  readonly #prefix: string;

  /** @param prefix The path the scripts are served under. */
  constructor(prefix: string = INLINE_SCRIPTS_PATH) {
    this.#prefix = prefix;
  }

  /** How many distinct scripts are kept. */
  get size(): number {
    return this.#scripts.size;
  }

  /**
   * `html` (bytes as a latin1 string) with every inline classic and module
   * script replaced by an external one; scripts with a `src`, other types
   * and comments are left as they are.
   */
  rewrite(html: string): string {
    return pieces(html)
      .map((piece) => {
        if (piece.kind === 'text') return piece.text;
        const attributes = tagAttributes(piece.attributes);
        const kind = scriptKind(attributes);
        if (attributes.has('src') || kind === 'other') {
          return `<script${piece.attributes}>${piece.body}${piece.end}`;
        }
        const path = this.#keep(piece.body);
        // An inline classic script ignores async and defer; an external one would not.
        const kept =
          kind === 'classic' ? withoutAttributes(piece.attributes, ['async', 'defer']) : piece.attributes;
        return `<script src="${path}"${kept}></script>`;
      })
      .join('');
  }

  /** {@link rewrite} on a page's bytes. */
  rewriteBytes(body: Uint8Array): Uint8Array<ArrayBuffer> {
    const html = this.rewrite(Buffer.from(body).toString('latin1'));
    return new Uint8Array(Buffer.from(html, 'latin1'));
  }

  /** The moved script served at `path`, or undefined when `path` is not one. */
  resource(path: string): WptResource | undefined {
    if (!path.startsWith(this.#prefix)) return undefined;
    const text = this.#scripts.get(path);
    if (text === undefined) {
      return {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: new TextEncoder().encode(`${path}: no page served so far had this script`),
      };
    }
    return {
      status: 200,
      // No charset: a classic script then takes its document's encoding, as its inline text did.
      // Content-addressed, so it never changes.
      headers: { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' },
      body: new Uint8Array(Buffer.from(text, 'latin1')),
    };
  }

  #keep(body: string): string {
    const hash = createHash('sha256').update(Buffer.from(body, 'latin1')).digest('hex');
    const path = `${this.#prefix}${hash}.js`;
    this.#scripts.set(path, body);
    return path;
  }
}
