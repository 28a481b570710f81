/**
 * The demo page: one WebSocket at a time, over the transport the user picks
 * (the browser's own WebSocket, or polysocket's over WebTransport or Direct
 * Sockets), with a live event log and live figures. polysocket is imported
 * by its public package names (aliased to the sources by demo/vite.config.ts).
 */
import {
  GatewayError,
  WebSocket as PolySocket,
  type TransportFactory,
  WebSocketConnectionError,
  webTransportTransport,
} from 'polysocket';
import { directSocketsTransport } from 'polysocket/direct-sockets';

/** /config.json, written by demo/stack.ts for this run. */
interface DemoConfig {
  readonly server: string;
  readonly gateway: string;
  readonly certificateHash: string;
  readonly certificateNotAfter: string;
}

type TransportChoice = 'native' | 'webtransport' | 'direct-sockets';
type Room = 'echo' | 'chat';
type LogKind = 'open' | 'message' | 'error' | 'close' | 'sent' | 'ping' | 'pong' | 'info';

const TRANSPORT_NAMES: Record<TransportChoice, string> = {
  native: 'native WebSocket',
  webtransport: 'polysocket over WebTransport',
  'direct-sockets': 'polysocket over Direct Sockets',
};
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
const MAX_LOG_ENTRIES = 500;
const MAX_SEND_SIZE = 32 * 2 ** 20;
const PREVIEW_CHARS = 160;

// ---------------------------------------------------------------------------
// Elements

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} is missing`);
  return found as T;
}

const ui = {
  status: element('status'),
  statusText: element('status-text'),
  notice: element('notice'),
  theme: element<HTMLButtonElement>('theme'),
  route: element<HTMLOListElement>('route'),
  directNote: element('direct-sockets-note'),
  webTransportNote: element('webtransport-note'),
  url: element<HTMLInputElement>('url'),
  protocols: element<HTMLInputElement>('protocols'),
  compression: element<HTMLInputElement>('compression'),
  connect: element<HTMLButtonElement>('connect'),
  disconnect: element<HTMLButtonElement>('disconnect'),
  closeCode: element<HTMLInputElement>('close-code'),
  closeReason: element<HTMLInputElement>('close-reason'),
  text: element<HTMLTextAreaElement>('text'),
  sendText: element<HTMLButtonElement>('send-text'),
  size: element<HTMLInputElement>('size'),
  sizeChips: element('size-chips'),
  sendBinary: element<HTMLButtonElement>('send-binary'),
  file: element<HTMLInputElement>('file'),
  fileLabel: element('file-label'),
  ping: element<HTMLButtonElement>('ping'),
  autoPing: element<HTMLInputElement>('auto-ping'),
  stateNumber: element('fig-state-number'),
  stateName: element('fig-state-name'),
  messagesIn: element('fig-messages-in'),
  messagesOut: element('fig-messages-out'),
  bytesIn: element('fig-bytes-in'),
  bytesOut: element('fig-bytes-out'),
  buffered: element('fig-buffered'),
  bufferedPeak: element('fig-buffered-peak'),
  transportName: element('fig-transport'),
  rtt: element('fig-rtt'),
  rttStats: element('fig-rtt-stats'),
  sparkLine: element('spark-line'),
  handshake: element('fig-handshake'),
  uptime: element('fig-uptime'),
  protocol: element('fig-protocol'),
  extensions: element('fig-extensions'),
  log: element<HTMLOListElement>('log'),
  logEmpty: element('log-empty'),
  logCount: element('log-count'),
  showPings: element<HTMLInputElement>('show-pings'),
  clearLog: element<HTMLButtonElement>('clear-log'),
  footer: element('footer'),
};

const radios = (name: string) =>
  Array.from(document.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`));
const transportRadios = radios('transport');
const roomRadios = radios('room');
const checked = <T extends string>(inputs: HTMLInputElement[]): T =>
  (inputs.find((input) => input.checked)?.value ?? '') as T;

// ---------------------------------------------------------------------------
// Formatting

const encoder = new TextEncoder();

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes} min ${seconds % 60} s` : `${seconds} s`;
}

function clock(date = new Date()): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function hexPreview(bytes: Uint8Array, count = 24): string {
  const shown = [...bytes.subarray(0, count)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
  return bytes.byteLength > count ? `${shown} …` : shown || '(empty)';
}

function textPreview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > PREVIEW_CHARS ? `${oneLine.slice(0, PREVIEW_CHARS)}…` : oneLine;
}

function quoted(text: string): string {
  return text === '' ? '(empty)' : `“${textPreview(text)}”`;
}

// ---------------------------------------------------------------------------
// The event log

interface LogLine {
  readonly kind: LogKind;
  /** Shown in the badge. */
  readonly badge?: string;
  readonly detail: string | Node;
  readonly preview?: string;
  /** What to do about it: shown in full under the entry. */
  readonly hint?: Node;
  readonly size?: number;
  /** Only shown with "Show pings". */
  readonly isPing?: boolean;
}

let logCount = 0;
function log(line: LogLine): void {
  if (line.isPing === true && !ui.showPings.checked) return;
  ui.logEmpty.hidden = true;
  const item = document.createElement('li');
  item.className = 'entry';
  item.dataset['kind'] = line.kind;
  const time = document.createElement('time');
  time.textContent = clock();
  const kind = document.createElement('span');
  kind.className = 'kind';
  kind.textContent = line.badge ?? line.kind;
  const summary = document.createElement('span');
  summary.className = 'summary';
  const detail = document.createElement('span');
  detail.className = 'detail';
  if (typeof line.detail === 'string') detail.textContent = line.detail;
  else detail.append(line.detail);
  summary.append(detail);
  if (line.preview !== undefined) {
    const preview = document.createElement('span');
    preview.className = 'preview';
    preview.textContent = line.preview;
    summary.append(preview);
  }
  if (line.hint !== undefined) {
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.append(line.hint);
    summary.append(hint);
  }
  const size = document.createElement('span');
  size.className = 'size';
  size.textContent = line.size === undefined ? '' : formatBytes(line.size);
  item.append(time, kind, summary, size);
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  ui.log.append(item);
  logCount++;
  while (ui.log.children.length > MAX_LOG_ENTRIES + 1) ui.log.children[1]?.remove();
  ui.logCount.textContent = String(logCount);
  if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
}

/** A detail made of text and highlighted parts. */
function rich(...parts: Array<string | Node | [string, string]>): Node {
  const fragment = document.createDocumentFragment();
  for (const part of parts) {
    if (typeof part === 'string' || part instanceof Node) {
      fragment.append(part);
    } else {
      const span = document.createElement('span');
      span.className = part[0];
      span.textContent = part[1];
      fragment.append(span);
    }
  }
  return fragment;
}

// ---------------------------------------------------------------------------
// Connection state and figures

interface Stats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  rtts: number[];
  bufferedPeak: number;
  startedAt: number;
  openedAt: number | undefined;
  closedAt: number | undefined;
}

const freshStats = (): Stats => ({
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  rtts: [],
  bufferedPeak: 0,
  startedAt: performance.now(),
  openedAt: undefined,
  closedAt: undefined,
});

let config: DemoConfig | undefined;
let socket: WebSocket | undefined;
let socketTransport: TransportChoice = 'webtransport';
let stats: Stats = freshStats();
let pingSeq = 0;
const pendingPings = new Map<number, number>();
let chatName: string | undefined;
let lastError = false;

const hasTcpSocket = typeof (globalThis as { TCPSocket?: unknown }).TCPSocket === 'function';
const hasWebTransport = typeof (globalThis as { WebTransport?: unknown }).WebTransport === 'function';

function render(): void {
  const state = socket?.readyState;
  const open = state === 1;
  const idle = socket === undefined || state === 3;
  ui.stateNumber.textContent = state === undefined ? '—' : String(state);
  ui.stateName.textContent = state === undefined ? 'no socket' : (STATE_NAMES[state] ?? '');
  ui.messagesIn.textContent = String(stats.messagesIn);
  ui.messagesOut.textContent = String(stats.messagesOut);
  ui.bytesIn.textContent = formatBytes(stats.bytesIn);
  ui.bytesOut.textContent = formatBytes(stats.bytesOut);
  const buffered = socket?.bufferedAmount ?? 0;
  stats.bufferedPeak = Math.max(stats.bufferedPeak, buffered);
  ui.buffered.textContent = formatBytes(buffered);
  ui.bufferedPeak.textContent = stats.bufferedPeak === 0 ? '' : `peak ${formatBytes(stats.bufferedPeak)}`;
  ui.transportName.textContent = socket === undefined ? '' : TRANSPORT_NAMES[socketTransport];
  const rtts = stats.rtts;
  const last = rtts.at(-1);
  ui.rtt.textContent = last === undefined ? '—' : formatMs(last);
  if (last === undefined) {
    ui.rttStats.textContent = 'no pings yet';
  } else {
    const min = Math.min(...rtts);
    const max = Math.max(...rtts);
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    ui.rttStats.textContent = `min ${formatMs(min)} · avg ${formatMs(avg)} · max ${formatMs(max)} · ${rtts.length} pings`;
  }
  const recent = rtts.slice(-40);
  const top = Math.max(...recent, 0.001);
  ui.sparkLine.setAttribute(
    'points',
    recent.length < 2
      ? ''
      : recent
          .map(
            (rtt, i) =>
              `${((i / (recent.length - 1)) * 100).toFixed(1)},${(27 - (rtt / top) * 25).toFixed(1)}`,
          )
          .join(' '),
  );
  ui.handshake.textContent = stats.openedAt === undefined ? '—' : formatMs(stats.openedAt - stats.startedAt);
  ui.uptime.textContent =
    stats.openedAt === undefined
      ? ''
      : `${idle ? 'was open' : 'open'} for ${formatDuration((stats.closedAt ?? performance.now()) - stats.openedAt)}`;
  ui.protocol.textContent =
    socket === undefined || state === 0 ? '—' : socket.protocol === '' ? '(none)' : socket.protocol;
  ui.extensions.textContent =
    socket === undefined || state === 0 ? '—' : socket.extensions === '' ? '(none)' : socket.extensions;

  const statusState =
    socket === undefined
      ? 'idle'
      : lastError && idle
        ? 'error'
        : ['connecting', 'open', 'closing', 'closed'][state ?? 3]!;
  ui.status.dataset['state'] = statusState;
  ui.statusText.textContent =
    socket === undefined
      ? 'Not connected'
      : state === 1
        ? `Open · ${TRANSPORT_NAMES[socketTransport]}`
        : state === 0
          ? 'Connecting…'
          : state === 2
            ? 'Closing…'
            : 'Closed';

  ui.connect.disabled = !idle || config === undefined || !transportAvailable(checked(transportRadios));
  ui.connect.textContent = idle
    ? 'Connect'
    : state === 0
      ? 'Connecting…'
      : state === 1
        ? '✓ Connected'
        : 'Closing…';
  ui.connect.classList.toggle('connected', open);
  ui.disconnect.disabled = idle;
  for (const control of [ui.sendText, ui.sendBinary, ui.ping]) control.disabled = !open;
  ui.file.disabled = !open;
  ui.fileLabel.setAttribute('aria-disabled', String(!open));
  for (const input of [...transportRadios, ...roomRadios, ui.url, ui.protocols]) {
    input.disabled =
      !idle || (input.name === 'transport' && !transportAvailable(input.value as TransportChoice));
  }
  ui.compression.disabled = !idle || checked(transportRadios) === 'native';
  renderRoute(open);
}

let renderQueued = false;
function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function transportAvailable(choice: TransportChoice): boolean {
  if (choice === 'direct-sockets') return hasTcpSocket;
  if (choice === 'webtransport') return hasWebTransport;
  return true;
}

let routeKey = '';
function renderRoute(live: boolean): void {
  const choice =
    socket === undefined || socket.readyState === 3
      ? checked<TransportChoice>(transportRadios)
      : socketTransport;
  const server = resolveWebSocketUrl(ui.url.value.trim())?.host || '?';
  // Rebuilt only when it changes: the live links' animation must not restart.
  const key = `${choice} ${server} ${live} ${config?.gateway}`;
  if (key === routeKey) return;
  routeKey = key;
  const hop = (title: string, sub: string) => {
    const li = document.createElement('li');
    const box = document.createElement('span');
    box.className = 'hop';
    const b = document.createElement('b');
    b.textContent = title;
    const small = document.createElement('small');
    small.textContent = sub;
    box.append(b, small);
    li.append(box);
    return li;
  };
  const link = (label: string) => {
    const li = document.createElement('li');
    li.className = `link${live ? ' live' : ''}`;
    li.textContent = label;
    return li;
  };
  const hops: HTMLLIElement[] = [];
  if (choice === 'native') {
    hops.push(hop('This page', 'browser WebSocket'), link('TCP'), hop('Server', server));
  } else if (choice === 'webtransport') {
    const gateway = config === undefined ? '?' : new URL(config.gateway).host;
    hops.push(
      hop('This page', 'polysocket'),
      link('HTTP/3 stream'),
      hop('Gateway', gateway),
      link('TCP'),
      hop('Server', server),
    );
  } else {
    hops.push(hop('This page', 'polysocket'), link('TCPSocket'), hop('Server', server));
  }
  ui.route.replaceChildren(...hops);
}

// ---------------------------------------------------------------------------
// Connecting

let webTransportFactory: TransportFactory | undefined;

function createSocket(choice: TransportChoice, url: string, protocols: string[]): WebSocket {
  if (choice === 'native') return new WebSocket(url, protocols);
  if (config === undefined) throw new Error('no gateway configuration (start the demo with npm run demo)');
  const compression = ui.compression.checked;
  if (choice === 'webtransport') {
    webTransportFactory ??= webTransportTransport({
      gateway: config.gateway,
      serverCertificateHashes: [{ algorithm: 'sha-256', value: config.certificateHash }],
      // wss:// URLs: the gateway makes the TLS connection and verifies the certificate.
      tls: 'gateway',
    });
    return new PolySocket(url, protocols, { transport: webTransportFactory, compression });
  }
  return new PolySocket(url, protocols, { transport: directSocketsTransport(), compression });
}

function connect(): void {
  const choice = checked<TransportChoice>(transportRadios);
  const url = ui.url.value.trim();
  const protocols = ui.protocols.value
    .split(/[,\s]+/)
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol !== '');
  let ws: WebSocket;
  try {
    ws = createSocket(choice, url, protocols);
  } catch (error) {
    log({ kind: 'error', badge: 'throws', detail: `new WebSocket() threw ${describeError(error)}` });
    return;
  }
  socket = ws;
  socketTransport = choice;
  stats = freshStats();
  pendingPings.clear();
  chatName = undefined;
  lastError = false;
  ws.binaryType = 'arraybuffer';
  // ws.url is the URL the constructor resolved: a relative input is
  // resolved against the page's address, so the log shows where it goes.
  log({
    kind: 'info',
    badge: 'connect',
    detail: rich(
      'Connecting to ',
      ['mono', ws.url],
      isAbsoluteUrl(url) ? '' : rich(' (resolved from ', ['mono', `“${url}”`], ')'),
      ` with the ${TRANSPORT_NAMES[choice]}`,
    ),
    ...(protocols.length > 0 ? { preview: `subprotocols offered: ${protocols.join(', ')}` } : {}),
  });
  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    stats.openedAt = performance.now();
    log({
      kind: 'open',
      detail: rich(`Open in ${formatMs(stats.openedAt - stats.startedAt)}`),
      preview: `protocol ${ws.protocol === '' ? '(none)' : `“${ws.protocol}”`} · extensions ${ws.extensions === '' ? '(none)' : ws.extensions}`,
    });
    if (ui.autoPing.checked) sendPing();
    render();
  });
  ws.addEventListener('message', (event) => {
    if (socket !== ws) return;
    onMessage((event as MessageEvent).data);
  });
  ws.addEventListener('error', (event) => {
    if (socket !== ws) return;
    lastError = true;
    // polysocket's error event is still a plain Event, as the standard
    // has it, with the reason added as event.error; the browser's own
    // WebSocket gives the page no reason at all.
    const failure = (event as { error?: unknown }).error;
    log(
      failure instanceof WebSocketConnectionError
        ? failureLine(failure, choice)
        : {
            kind: 'error',
            detail: `error event (readyState ${ws.readyState})`,
            preview: 'The browser gives the page no reason; its console may say more.',
          },
    );
    scheduleRender();
  });
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return;
    const { code, reason, wasClean } = event as CloseEvent;
    stats.closedAt = performance.now();
    log({
      kind: 'close',
      detail: rich(`code ${code}`, reason === '' ? '' : ` · reason ${quoted(reason)}`, ' · wasClean ', [
        wasClean ? 'ok' : 'bad',
        String(wasClean),
      ]),
      preview: closeCodeMeaning(code),
    });
    render();
  });
  render();
}

function closeCodeMeaning(code: number): string {
  const meanings: Record<number, string> = {
    1000: 'normal closure',
    1001: 'going away',
    1002: 'protocol error',
    1003: 'unsupported data',
    1005: 'no status code in the close frame',
    1006: 'abnormal closure: the connection was lost without a close frame',
    1007: 'invalid payload data',
    1008: 'policy violation',
    1009: 'message too big',
    1011: 'internal server error',
  };
  return (
    meanings[code] ?? (code >= 4000 ? 'application-defined code' : code >= 3000 ? 'registered code' : '')
  );
}

/** A log line for a polysocket failure: its reason, the facts, and a hint where one applies. */
function failureLine(failure: WebSocketConnectionError, choice: TransportChoice): LogLine {
  const causes = causeChain(failure);
  const facts = [`kind ${failure.kind}`, `close code ${failure.closeCode}`];
  if (causes.length > 0) facts.push(`cause ${causes.map((error) => error.name).join(' → ')}`);
  const hint = failureHint(failure, causes, choice);
  return {
    kind: 'error',
    detail: failure.message,
    preview: facts.join(' · '),
    ...(hint === undefined ? {} : { hint }),
  };
}

/** The failure's causes, outermost first (a cause may have a cause). */
function causeChain(failure: WebSocketConnectionError): Error[] {
  const chain: Error[] = [];
  let cause = failure.cause;
  while (cause instanceof Error && chain.length < 8) {
    chain.push(cause);
    cause = cause.cause;
  }
  return chain;
}

/** What the user can do about a failure, when the demo knows. */
function failureHint(
  failure: WebSocketConnectionError,
  causes: readonly Error[],
  choice: TransportChoice,
): Node | undefined {
  const refusal = causes.find((cause) => cause instanceof GatewayError);
  // Only a 403 is the allow-list; 502, 503 and 504 say what went wrong themselves.
  if (refusal?.status === 403 && config !== undefined) {
    return rich(
      'The demo’s gateway allow-lists only ',
      ['mono', new URL(config.server).host],
      ' (the demo server). Use that server’s URL, or pick the native WebSocket to reach another server.',
    );
  }
  if (choice === 'direct-sockets' && causes.some(isLocalNetworkBlock)) {
    return localNetworkHint(failure.url);
  }
  return undefined;
}

/**
 * Chromium refuses a Direct Sockets connection to this machine or the
 * local network until the app has that permission: `InvalidAccessError:
 * Access to local network is blocked.`
 */
function isLocalNetworkBlock(error: Error): boolean {
  return error.name === 'InvalidAccessError' || /local network|loopback/i.test(error.message);
}

/**
 * How to let the installed app reach the server. Chromium keeps the
 * permission per origin: "Apps on device" for this machine's addresses,
 * "Local network" for other private addresses.
 */
function localNetworkHint(url: string): Node {
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {}
  const loopback = /^(127\.|\[::1\]$|localhost$)/.test(host);
  const setting = loopback ? 'Apps on device' : 'Local network';
  const prompt = loopback
    ? 'Access other apps and services on this device'
    : 'Access other devices on your local network';
  const siteSettings = `chrome://settings/content/siteDetails?site=${encodeURIComponent(location.origin)}`;
  return rich(
    `Chromium has not given this app the “${setting}” permission, which Direct Sockets needs to reach ${host || 'the server'}. `,
    `Allow “${prompt}” if Chromium asks; or open this page in a new tab, set “${setting}” to Allow, and reload this app:`,
    ['mono url', siteSettings],
  );
}

/** True if `input` is a URL by itself, not one relative to the page. */
function isAbsoluteUrl(input: string): boolean {
  try {
    new URL(input);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL `new WebSocket(input)` connects to, as the constructor resolves
 * it: against the page's address, with http(s) turned into ws(s);
 * `undefined` where the constructor would throw a SyntaxError.
 */
function resolveWebSocketUrl(input: string): URL | undefined {
  try {
    const url = new URL(input, location.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    else if (url.protocol === 'https:') url.protocol = 'wss:';
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function disconnect(): void {
  const ws = socket;
  if (ws === undefined) return;
  const code = ui.closeCode.value.trim() === '' ? undefined : Number(ui.closeCode.value);
  const reason = ui.closeReason.value;
  try {
    if (code === undefined) ws.close();
    else ws.close(code, reason);
    log({
      kind: 'info',
      badge: 'close()',
      detail: code === undefined ? 'close()' : rich(`close(${code}, `, ['mono', JSON.stringify(reason)], ')'),
    });
  } catch (error) {
    // The standard's checks: InvalidAccessError (code), SyntaxError (reason over 123 bytes).
    log({ kind: 'error', badge: 'throws', detail: `close() threw ${describeError(error)}` });
  }
  render();
}

// ---------------------------------------------------------------------------
// Sending and receiving

function countOut(size: number): void {
  stats.messagesOut++;
  stats.bytesOut += size;
  if (socket !== undefined) stats.bufferedPeak = Math.max(stats.bufferedPeak, socket.bufferedAmount);
  scheduleRender();
}

function sendText(): void {
  const ws = socket;
  const text = ui.text.value;
  if (ws === undefined || ws.readyState !== 1) return;
  ws.send(text);
  const size = encoder.encode(text).byteLength;
  countOut(size);
  log({ kind: 'sent', detail: rich(['tag', 'text'], quoted(text)), size });
  ui.text.value = '';
  ui.text.focus();
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65_536)));
  }
  return bytes;
}

function sendBinary(): void {
  const ws = socket;
  if (ws === undefined || ws.readyState !== 1) return;
  const size = Math.floor(Number(ui.size.value));
  if (!Number.isFinite(size) || size < 0 || size > MAX_SEND_SIZE) {
    log({ kind: 'error', badge: 'demo', detail: `Pick a size from 0 to ${formatBytes(MAX_SEND_SIZE)}` });
    return;
  }
  const bytes = randomBytes(size);
  ws.send(bytes);
  countOut(size);
  log({
    kind: 'sent',
    detail: rich(['tag', 'binary'], `${size} random bytes`),
    preview: hexPreview(bytes),
    size,
  });
}

function sendFile(): void {
  const ws = socket;
  const file = ui.file.files?.[0];
  ui.file.value = '';
  if (ws === undefined || ws.readyState !== 1 || file === undefined) return;
  if (file.size > MAX_SEND_SIZE) {
    log({
      kind: 'error',
      badge: 'demo',
      detail: `${file.name} is larger than ${formatBytes(MAX_SEND_SIZE)}`,
    });
    return;
  }
  ws.send(file);
  countOut(file.size);
  log({
    kind: 'sent',
    detail: rich(['tag', 'Blob'], file.name),
    preview: file.type === '' ? 'type unknown' : file.type,
    size: file.size,
  });
}

function sendPing(): void {
  const ws = socket;
  if (ws === undefined || ws.readyState !== 1) return;
  const seq = ++pingSeq;
  const t = performance.now();
  const text = JSON.stringify({ type: 'ping', seq, t });
  pendingPings.set(seq, t);
  ws.send(text);
  countOut(text.length);
  log({ kind: 'ping', badge: 'ping', detail: `ping #${seq}`, size: text.length, isPing: true });
}

function onMessage(data: unknown): void {
  if (typeof data === 'string') {
    const size = encoder.encode(data).byteLength;
    stats.messagesIn++;
    stats.bytesIn += size;
    if (data.startsWith('{"type":')) {
      if (onJson(data, size)) {
        scheduleRender();
        return;
      }
    }
    log({ kind: 'message', detail: rich(['tag', 'text'], quoted(data)), size });
  } else if (data instanceof ArrayBuffer) {
    stats.messagesIn++;
    stats.bytesIn += data.byteLength;
    log({
      kind: 'message',
      detail: rich(['tag', 'binary'], `${data.byteLength} bytes`),
      preview: hexPreview(new Uint8Array(data)),
      size: data.byteLength,
    });
  } else if (data instanceof Blob) {
    stats.messagesIn++;
    stats.bytesIn += data.size;
    log({ kind: 'message', detail: rich(['tag', 'Blob'], `${data.size} bytes`), size: data.size });
  }
  scheduleRender();
}

/** The demo server's JSON messages; false for anything else. */
function onJson(text: string, size: number): boolean {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return false;
  }
  switch (message['type']) {
    case 'ping': {
      const seq = message['seq'];
      const sentAt = typeof seq === 'number' ? pendingPings.get(seq) : undefined;
      if (sentAt === undefined || typeof seq !== 'number') return false;
      pendingPings.delete(seq);
      const rtt = performance.now() - sentAt;
      stats.rtts.push(rtt);
      if (stats.rtts.length > 1000) stats.rtts.shift();
      log({
        kind: 'pong',
        badge: 'pong',
        detail: `ping #${seq} back in ${formatMs(rtt)}`,
        size,
        isPing: true,
      });
      return true;
    }
    case 'welcome':
      chatName = String(message['name']);
      log({
        kind: 'message',
        badge: 'message',
        detail: rich('Joined the chat as ', ['mono', chatName], ` · ${peers(message['peers'])} in the room`),
        preview: 'Open this page in another tab to chat between tabs',
        size,
      });
      return true;
    case 'presence': {
      const who = message['joined'] ?? message['left'];
      if (who === chatName) return true;
      log({
        kind: 'message',
        detail: `${String(who)} ${message['joined'] === undefined ? 'left' : 'joined'} · ${peers(message['peers'])} in the room`,
        size,
      });
      return true;
    }
    case 'chat': {
      const from = String(message['from']);
      log({
        kind: 'message',
        detail: rich(['tag', from === chatName ? 'you' : from], quoted(String(message['text']))),
        size,
      });
      return true;
    }
    default:
      return false;
  }
}

function peers(value: unknown): string {
  return typeof value === 'number' ? String(value) : '?';
}

// ---------------------------------------------------------------------------
// Wiring

function setRoom(room: Room): void {
  if (config === undefined) return;
  ui.url.value = `${config.server}/${room}`;
  render();
}

function selectSize(size: number): void {
  ui.size.value = String(size);
  updateChips();
}

function updateChips(): void {
  for (const chip of Array.from(ui.sizeChips.querySelectorAll<HTMLButtonElement>('.chip'))) {
    chip.setAttribute('aria-pressed', String(chip.dataset['size'] === ui.size.value));
  }
}

/** The composer's placeholders, longest first: the first that fits is shown. */
const SHORTEST_PLACEHOLDER = 'Message';
const PLACEHOLDERS = [
  'Type a message — Enter sends, Shift+Enter for a new line',
  'Type a message — Enter sends',
  SHORTEST_PLACEHOLDER,
];
let measure: CanvasRenderingContext2D | null | undefined;

/** A placeholder that is cut off says nothing: pick the longest that fits the box. */
function fitPlaceholder(): void {
  const style = getComputedStyle(ui.text);
  const room =
    ui.text.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight);
  measure ??= document.createElement('canvas').getContext('2d');
  const context = measure;
  if (context === null || room <= 0) return;
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const fits = PLACEHOLDERS.find((text) => context.measureText(text).width <= room);
  ui.text.placeholder = fits ?? SHORTEST_PLACEHOLDER;
}

const THEMES = ['system', 'light', 'dark'] as const;
function applyTheme(theme: (typeof THEMES)[number]): void {
  if (theme === 'system') delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
  ui.theme.title = `Theme: ${theme === 'system' ? 'follows the system' : theme}`;
  try {
    localStorage.setItem('polysocket-demo-theme', theme);
  } catch {}
}

function wire(): void {
  ui.connect.addEventListener('click', connect);
  ui.disconnect.addEventListener('click', disconnect);
  ui.sendText.addEventListener('click', sendText);
  ui.text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    }
  });
  new ResizeObserver(fitPlaceholder).observe(ui.text);
  ui.sendBinary.addEventListener('click', sendBinary);
  ui.file.addEventListener('change', sendFile);
  ui.ping.addEventListener('click', sendPing);
  ui.sizeChips.addEventListener('click', (event) => {
    const chip = (event.target as HTMLElement).closest<HTMLButtonElement>('.chip');
    if (chip?.dataset['size'] !== undefined) selectSize(Number(chip.dataset['size']));
  });
  ui.size.addEventListener('input', updateChips);
  for (const radio of transportRadios) radio.addEventListener('change', render);
  for (const radio of roomRadios) radio.addEventListener('change', () => setRoom(radio.value as Room));
  ui.url.addEventListener('input', () => renderRoute(false));
  ui.clearLog.addEventListener('click', () => {
    ui.log.replaceChildren(ui.logEmpty);
    ui.logEmpty.hidden = false;
    logCount = 0;
    ui.logCount.textContent = '0';
  });
  ui.theme.addEventListener('click', () => {
    const current = document.documentElement.dataset['theme'] ?? 'system';
    const next = THEMES[(THEMES.indexOf(current as (typeof THEMES)[number]) + 1) % THEMES.length]!;
    applyTheme(next);
  });
  // Live figures: bufferedAmount and the open time change without events.
  setInterval(() => {
    if (socket !== undefined && socket.readyState !== 3) render();
  }, 250);
  setInterval(() => {
    if (ui.autoPing.checked) sendPing();
  }, 1000);
}

async function loadConfig(): Promise<void> {
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET /config.json: ${response.status}`);
    config = (await response.json()) as DemoConfig;
  } catch {
    ui.notice.hidden = false;
    ui.notice.textContent =
      'No server configuration: start the demo with “npm run demo”, which serves this page with its servers.';
    return;
  }
  setRoom(checked<Room>(roomRadios));
  const hash = config.certificateHash;
  ui.footer.replaceChildren(
    rich('Server ', ['mono', `${config.server}/echo`], ' and ', ['mono', '/chat']),
    rich('Gateway ', ['mono', config.gateway]),
    rich(
      'Certificate sha-256 ',
      ['mono', `${hash.slice(0, 12)}…`],
      ` (ECDSA P-256, valid until ${new Date(config.certificateNotAfter).toLocaleDateString()})`,
    ),
  );
}

async function main(): Promise<void> {
  let theme: string | null = null;
  try {
    theme = localStorage.getItem('polysocket-demo-theme');
  } catch {}
  applyTheme(
    THEMES.includes(theme as (typeof THEMES)[number]) ? (theme as (typeof THEMES)[number]) : 'system',
  );
  for (const radio of transportRadios) {
    const available = transportAvailable(radio.value as TransportChoice);
    radio.disabled = !available;
    radio.closest('label')?.classList.toggle('unavailable', !available);
  }
  ui.directNote.hidden = hasTcpSocket;
  if (!hasWebTransport) {
    // Firefox and Safari before WebTransport: the browser's own WebSocket still works.
    ui.webTransportNote.hidden = false;
    for (const radio of transportRadios) radio.checked = radio.value === 'native';
  }
  wire();
  updateChips();
  await loadConfig();
  render();
  document.documentElement.dataset['ready'] = 'true';
}

void main();
