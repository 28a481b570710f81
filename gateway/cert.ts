/**
 * Self-signed certificates for the gateway, made with WebCrypto and a few
 * lines of DER (no openssl, no dependency), and the certificate facts that
 * Chromium checks for `serverCertificateHashes`.
 *
 * The WebTransport spec ("verify a certificate hash") and Chromium 156
 * accept a certificate by hash only if it is an ECDSA P-256 (secp256r1)
 * certificate valid for at most 14 days (with Chromium 156, a 15-day
 * certificate and an RSA one both fail with "Opening handshake failed"). Pure WebCrypto: runs in Deno, Node and browsers.
 */

/** A certificate and its key, in PEM, with what `serverCertificateHashes` needs. */
export interface GeneratedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the DER certificate, base64: the value for `serverCertificateHashes`. */
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The longest validity Chromium accepts with `serverCertificateHashes`. */
export const MAX_HASH_VALIDITY_DAYS = 14;

const DAY_MS = 86_400_000;

/**
 * Generate an ECDSA P-256 self-signed certificate for `names` (DNS names
 * and IP addresses), valid from one minute ago for `days` days.
 */
export async function generateCertificate(
  options: { days?: number; names?: readonly string[] } = {},
): Promise<GeneratedCertificate> {
  const days = options.days ?? 10;
  if (!(days > 0 && days <= MAX_HASH_VALIDITY_DAYS)) {
    throw new RangeError(`validity must be within (0, ${MAX_HASH_VALIDITY_DAYS}] days, not ${days}`);
  }
  const names = options.names ?? ['localhost', '127.0.0.1', '::1'];
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  // A minute of backdating against clock skew; the total stays within `days`
  // (Chromium compares notAfter - notBefore with 14 days).
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte needed
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, utf8('polysocket gateway')))));
  const tbs = seq(
    tlv(0xa0, integer(new Uint8Array([2]))), // version: v3
    integer(serial),
    ecdsaWithSha256,
    name, // issuer
    seq(time(notBefore), time(notAfter)),
    name, // subject
    spki,
    tlv(
      0xa3,
      seq(
        // basicConstraints, critical: not a CA.
        extension('2.5.29.19', true, seq()),
        // keyUsage, critical: digitalSignature.
        extension('2.5.29.15', true, tlv(0x03, new Uint8Array([0x07, 0x80]))),
        // extKeyUsage: serverAuth.
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        // subjectAltName: RFC 5280, 4.2.1.6.
        extension('2.5.29.17', false, seq(...names.map(generalName))),
      ),
    ),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, tbs),
  );
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, concat(new Uint8Array([0]), ecdsaSigValue(signature))));
  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: toPem('PRIVATE KEY', pkcs8),
    sha256: await certificateHash(der),
    notBefore,
    notAfter,
  };
}

/** SHA-256 of a DER certificate, base64. */
export async function certificateHash(der: Uint8Array<ArrayBuffer>): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', der)));
}

/** The DER bytes of the first `label` block of a PEM text. */
export function fromPem(pem: string, label = 'CERTIFICATE'): Uint8Array<ArrayBuffer> {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(pem);
  if (match === null) throw new Error(`no ${label} in the PEM text`);
  return fromBase64(match[1]!.replace(/\s+/g, ''));
}

/** What matters about a certificate for `serverCertificateHashes`. */
export interface CertificateInfo {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** ECDSA with the P-256 curve. */
  readonly isEcdsaP256: boolean;
}

/** Read validity and key type from a DER certificate (RFC 5280, 4.1). */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const certificate = children(readTlv(der, 0));
  const tbs = children(certificate[0]!);
  // The version is an explicit [0] field, absent for v1.
  const offset = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const validity = children(tbs[offset + 3]!);
  const spki = children(tbs[offset + 5]!);
  const algorithm = children(spki[0]!);
  const isEcdsaP256 =
    algorithm.length === 2 &&
    sameBytes(algorithm[0]!.value, oid('1.2.840.10045.2.1').subarray(2)) &&
    sameBytes(algorithm[1]!.value, oid('1.2.840.10045.3.1.7').subarray(2));
  return { notBefore: parseTime(validity[0]!), notAfter: parseTime(validity[1]!), isEcdsaP256 };
}

/** Why Chromium would refuse this certificate by hash, or `null`. */
export function hashTrustProblem(info: CertificateInfo, now = new Date()): string | null {
  if (!info.isEcdsaP256) return 'the key is not ECDSA P-256';
  const days = (info.notAfter.getTime() - info.notBefore.getTime()) / DAY_MS;
  if (days > MAX_HASH_VALIDITY_DAYS) return `it is valid for ${days.toFixed(1)} days, more than 14`;
  if (now < info.notBefore) return 'it is not valid yet';
  if (now > info.notAfter) return 'it has expired';
  return null;
}

// --- DER encoding (X.690), only what a certificate needs ---------------------

function tlv(tag: number, value: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = value.byteLength;
  let header: number[];
  if (length < 0x80) {
    header = [tag, length];
  } else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return concat(new Uint8Array(header), value);
}

function seq(...items: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0x30, concat(...items));
}

function set(...items: Uint8Array[]): Uint8Array {
  return tlv(0x31, concat(...items));
}

/** A non-negative INTEGER from big-endian bytes (minimal, with a 0 if the top bit is set). */
function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0]! & 0x80 ? concat(new Uint8Array([0]), trimmed) : trimmed);
}

function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const base128: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) base128.unshift(0x80 | (n & 0x7f));
    bytes.push(...base128);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280, 4.1.2.5). */
function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2025-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, utf8(`${digits.slice(2)}Z`))
    : tlv(0x18, utf8(`${digits}Z`));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [tlv(0x01, new Uint8Array([0xff]))] : []), tlv(0x04, value));
}

/** A subjectAltName entry: iPAddress [7] for IP literals, else dNSName [2]. */
function generalName(name: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (v4 !== null) return tlv(0x87, new Uint8Array(v4.slice(1).map(Number)));
  if (name.includes(':')) return tlv(0x87, ipv6Bytes(name));
  return tlv(0x82, utf8(name));
}

function ipv6Bytes(address: string): Uint8Array {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** WebCrypto signs ECDSA as r || s (IEEE P1363); X.509 wants Ecdsa-Sig-Value (RFC 3279, 2.2.3). */
function ecdsaSigValue(raw: Uint8Array): Uint8Array {
  const half = raw.byteLength / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

// --- DER decoding, only what certificateInfo() reads -----------------------

interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** Offset just past this element. */
  readonly end: number;
}

function readTlv(bytes: Uint8Array, offset: number): Tlv {
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  if (end > bytes.byteLength) throw new Error('truncated DER');
  return { tag, value: bytes.subarray(start, end), end };
}

function children(parent: Tlv): Tlv[] {
  const items: Tlv[] = [];
  // Bounded: each element advances the offset by at least two bytes.
  for (let offset = 0; offset < parent.value.byteLength; ) {
    const item = readTlv(parent.value, offset);
    items.push(item);
    offset = item.end;
  }
  return items;
}

function parseTime(item: Tlv): Date {
  const text = new TextDecoder().decode(item.value);
  const match = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (match === null) throw new Error(`unsupported certificate time ${text}`);
  let year = Number(match[1]);
  if (item.tag === 0x17) year += year < 50 ? 2000 : 1900; // UTCTime (RFC 5280, 4.1.2.5.1)
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

// --- bytes ---------------------------------------------------------------

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function toPem(label: string, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
