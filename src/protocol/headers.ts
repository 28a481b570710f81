/**
 * HTTP header fields: a case-insensitive multimap that keeps order, value
 * validation against injection, and the parsers and builders for the header
 * values of the opening handshake (RFC 6455, sections 4 and 9.1; RFC 9110).
 */
import { InvalidHeaderError } from './errors.js';

/** An extension parameter: name and value, `null` for a parameter without a value. */
export type ExtensionParameter = readonly [name: string, value: string | null];

/** An extension with its parameters, as offered or accepted in `Sec-WebSocket-Extensions`. */
export type ExtensionHeader = readonly [name: string, parameters: readonly ExtensionParameter[]];

// RFC 9110, 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Whether `text` is an RFC 9110 token (header names, subprotocols, extension names). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTchar(text.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether `value` may be sent as a header field value: RFC 9110, 5.5
 * `field-value = *field-content`, i.e. visible ASCII, obs-text (0x80–0xFF),
 * spaces and tabs inside, none at either end, and no CR, LF or NUL, which is
 * what keeps a value from injecting headers or a body.
 */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || (c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return (
    value.length === 0 ||
    (!isWhitespace(value.charCodeAt(0)) && !isWhitespace(value.charCodeAt(value.length - 1)))
  );
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Whether a field is called `name`: names compare case-insensitively. */
function named(name: string): (entry: readonly [name: string, value: string]) => boolean {
  const lower = name.toLowerCase();
  return ([n]) => n.toLowerCase() === lower;
}

/** Headers whose values are credentials, never quoted in error messages or logs. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);

/**
 * A case-insensitive, order-keeping multimap of header fields.
 *
 * Names are compared in lowercase but kept as given for serialization. The
 * map never uses a plain object keyed by header name, so a header called
 * `__proto__` or `constructor` is just a header.
 */
export class Headers implements Iterable<readonly [name: string, value: string]> {
  #entries: Array<readonly [name: string, value: string]> = [];

  /**
   * @param init - Fields to append, in order.
   * @throws TypeError if a name is not a token or a value is not a valid field value.
   */
  constructor(init?: Iterable<readonly [string, string]> | Readonly<Record<string, string>>) {
    if (init === undefined) return;
    const entries = Symbol.iterator in init ? init : Object.entries(init);
    for (const [name, value] of entries as Iterable<readonly [string, string]>) this.append(name, value);
  }

  /** Number of fields. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Append a field.
   *
   * @throws TypeError if `name` is not a token or `value` could inject CR/LF or is not ISO-8859-1.
   */
  append(name: string, value: string): void {
    if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    if (!isValidHeaderValue(value)) {
      // Credentials never go into an error message: they end up in logs.
      const shown = CREDENTIAL_HEADERS.has(name.toLowerCase()) ? '' : `: ${JSON.stringify(value)}`;
      throw new TypeError(`invalid value for header ${name}${shown}`);
    }
    this.#entries.push([name, value]);
  }

  /** Replace every field called `name` with one field. */
  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  /** Remove every field called `name`. */
  delete(name: string): void {
    const match = named(name);
    this.#entries = this.#entries.filter((entry) => !match(entry));
  }

  has(name: string): boolean {
    return this.#entries.some(named(name));
  }

  /** Value of the first field called `name`, or `undefined`. */
  get(name: string): string | undefined {
    return this.#entries.find(named(name))?.[1];
  }

  /** Values of every field called `name`, in order. */
  getAll(name: string): string[] {
    return this.#entries.filter(named(name)).map((entry) => entry[1]);
  }

  /**
   * The value of the one field called `name`.
   *
   * @throws {@link InvalidHeaderError} if there is no such field or more than one.
   */
  getOne(name: string): string {
    const values = this.getAll(name);
    if (values.length === 0) throw new InvalidHeaderError(name);
    if (values.length > 1)
      throw new InvalidHeaderError(name, values.join(', '), `more than one ${name} header`);
    return values[0]!;
  }

  [Symbol.iterator](): Iterator<readonly [name: string, value: string]> {
    return this.#entries[Symbol.iterator]();
  }

  /** A copy. */
  clone(): Headers {
    return new Headers(this.#entries);
  }
}

// ---------------------------------------------------------------------------
// Parsers for header values. Each throws InvalidHeaderError naming the header.

class Cursor {
  readonly #text: string;
  readonly #header: string;
  #pos = 0;
  constructor(text: string, header: string) {
    this.#text = text;
    this.#header = header;
  }
  get done(): boolean {
    return this.#pos >= this.#text.length;
  }
  /** Consume `char` if it comes next. */
  eat(char: string): boolean {
    if (this.#text[this.#pos] !== char) return false;
    this.#pos++;
    return true;
  }
  skipOws(): void {
    while (this.#pos < this.#text.length && isWhitespace(this.#text.charCodeAt(this.#pos))) this.#pos++;
  }
  fail(what: string): never {
    throw new InvalidHeaderError(
      this.#header,
      this.#text,
      `invalid ${this.#header} header: expected ${what} at ${this.#pos}`,
    );
  }
  token(): string {
    const start = this.#pos;
    while (this.#pos < this.#text.length && isTchar(this.#text.charCodeAt(this.#pos))) this.#pos++;
    if (this.#pos === start) this.fail('a token');
    return this.#text.slice(start, this.#pos);
  }
  /** The rest of a quoted-string whose opening quote was consumed. */
  quotedString(): string {
    // RFC 9110, 5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    let value = '';
    for (;;) {
      if (this.done) this.fail('a closing quote');
      const c = this.#text[this.#pos++]!;
      if (c === '"') return value;
      if (c === '\\') {
        if (this.done) this.fail('an escaped character');
        value += this.#text[this.#pos++]!;
      } else {
        value += c;
      }
    }
  }
}

/**
 * Parse an RFC 9110 list (`1#element`): elements separated by commas with
 * optional whitespace; empty elements are ignored (5.6.1: "a recipient MUST
 * accept and ignore ... empty list elements").
 */
function parseList<T>(text: string, header: string, element: (cursor: Cursor) => T): T[] {
  const cursor = new Cursor(text, header);
  const items: T[] = [];
  for (;;) {
    cursor.skipOws();
    while (cursor.eat(',')) cursor.skipOws();
    if (cursor.done) break;
    items.push(element(cursor));
    cursor.skipOws();
    if (cursor.done) break;
    if (!cursor.eat(',')) cursor.fail('a comma');
  }
  if (items.length === 0) cursor.fail('at least one element');
  return items;
}

/** A list element that is one token. */
const token = (cursor: Cursor): string => cursor.token();

/** Parse `Connection` (RFC 9110, 7.6.1): a list of connection options, as tokens. */
export function parseConnection(value: string): string[] {
  return parseList(value, 'Connection', token);
}

/** Parse `Upgrade` (RFC 9110, 7.8): `protocol-name ["/" protocol-version]`, each a token. */
export function parseUpgrade(value: string): string[] {
  return parseList(value, 'Upgrade', (c) => {
    const protocol = c.token();
    return c.eat('/') ? `${protocol}/${c.token()}` : protocol;
  });
}

/** Parse `Sec-WebSocket-Protocol` (RFC 6455, 11.3.4): a list of tokens. */
export function parseSubprotocolList(value: string): string[] {
  return parseList(value, 'Sec-WebSocket-Protocol', token);
}

/** Build `Sec-WebSocket-Protocol`. */
export function buildSubprotocolList(subprotocols: readonly string[]): string {
  for (const s of subprotocols)
    if (!isToken(s)) throw new TypeError(`invalid subprotocol: ${JSON.stringify(s)}`);
  return subprotocols.join(', ');
}

/**
 * Parse `Sec-WebSocket-Extensions` (RFC 6455, 9.1):
 *
 * ```
 * extension-list = 1#extension
 * extension = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 *     ;When using the quoted-string syntax variant, the value
 *     ;after quoted-string unescaping MUST conform to the
 *     ;'token' ABNF.
 * ```
 */
export function parseExtensionList(value: string): ExtensionHeader[] {
  return parseList(value, 'Sec-WebSocket-Extensions', (c) => {
    const name = c.token();
    const parameters: ExtensionParameter[] = [];
    c.skipOws();
    while (c.eat(';')) {
      c.skipOws();
      const paramName = c.token();
      c.skipOws();
      let paramValue: string | null = null;
      if (c.eat('=')) {
        c.skipOws();
        if (c.eat('"')) {
          paramValue = c.quotedString();
          if (!isToken(paramValue)) c.fail('a token inside the quoted string');
        } else {
          paramValue = c.token();
        }
        c.skipOws();
      }
      parameters.push([paramName, paramValue]);
    }
    return [name, parameters] as const;
  });
}

/** Build `Sec-WebSocket-Extensions` from extension names and parameters. */
export function buildExtensionList(extensions: readonly ExtensionHeader[]): string {
  return extensions
    .map(([name, parameters]) => {
      if (!isToken(name)) throw new TypeError(`invalid extension name: ${JSON.stringify(name)}`);
      let text = name;
      for (const [paramName, paramValue] of parameters) {
        if (!isToken(paramName) || (paramValue !== null && !isToken(paramValue))) {
          throw new TypeError(`invalid parameter of extension ${name}: ${paramName}=${paramValue}`);
        }
        text += paramValue === null ? `; ${paramName}` : `; ${paramName}=${paramValue}`;
      }
      return text;
    })
    .join(', ');
}
