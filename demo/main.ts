/**
 * The demo page: one connection at a time, with the API the user picks
 * (`WebSocket` or `WebSocketStream`) over the transport the user picks (the
 * browser's own, or polysocket's over WebTransport or Direct Sockets), with
 * a live event log and live figures; in the flood room, the backpressure
 * view. polysocket is imported by its public package names (aliased to the
 * sources by demo/vite.config.ts).
 */
import {
  GatewayError,
  WebSocket as PolySocket,
  WebSocketStream as PolyStream,
  type TransportFactory,
  type WebSocketCloseInfo,
  WebSocketConnectionError,
  type WebSocketOpenInfo,
  webTransportTransport,
} from 'polysocket';
import { directSocketsTransport } from 'polysocket/direct-sockets';
import {
  FLOOD_MAX_BYTES,
  FLOOD_MESSAGE_SIZE,
  FLOOD_STATS_INTERVAL_MS,
  type FloodEnd,
  type FloodStats,
  floodSeq,
} from './flood-protocol.js';

/** /config.json, written by demo/stack.ts for this run. */
interface DemoConfig {
  readonly server: string;
  readonly gateway: string;
  readonly certificateHash: string;
  readonly certificateNotAfter: string;
}

type TransportChoice = 'native' | 'webtransport' | 'direct-sockets';
type Api = 'websocket' | 'stream';
type Room = 'echo' | 'chat' | 'flood';
type LogKind = 'open' | 'message' | 'error' | 'close' | 'sent' | 'ping' | 'pong' | 'info';

const TRANSPORT_NAMES: Record<TransportChoice, string> = {
  native: 'native WebSocket',
  webtransport: 'polysocket over WebTransport',
  'direct-sockets': 'polysocket over Direct Sockets',
};
const STREAM_NAMES: Record<TransportChoice, string> = {
  native: 'native WebSocketStream',
  webtransport: 'polysocket WebSocketStream over WebTransport',
  'direct-sockets': 'polysocket WebSocketStream over Direct Sockets',
};
const connectionName = (api: Api, choice: TransportChoice): string =>
  (api === 'stream' ? STREAM_NAMES : TRANSPORT_NAMES)[choice];
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
const MAX_LOG_ENTRIES = 500;
const MAX_SEND_SIZE = 32 * 2 ** 20;
const PREVIEW_CHARS = 160;
const MAX_PENDING_PINGS = 100;

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
  stateLabel: element('fig-state-label'),
  stateNumber: element('fig-state-number'),
  stateName: element('fig-state-name'),
  messagesIn: element('fig-messages-in'),
  messagesOut: element('fig-messages-out'),
  bytesIn: element('fig-bytes-in'),
  bytesOut: element('fig-bytes-out'),
  bufferedLabel: element('fig-buffered-label'),
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
  apiNote: element('api-note'),
  flood: element('flood'),
  slowReader: element<HTMLInputElement>('slow-reader'),
  slowReaderNote: element('slow-reader-note'),
  floodCap: element('flood-cap'),
  floodServerState: element('flood-server-state'),
  floodServerStateSub: element('flood-server-state-sub'),
  floodSent: element('flood-sent'),
  floodSentSub: element('flood-sent-sub'),
  floodQueue: element('flood-queue'),
  floodQueueSub: element('flood-queue-sub'),
  floodBetween: element('flood-between'),
  floodReceived: element('flood-received'),
  floodReceivedSub: element('flood-received-sub'),
  floodRate: element('flood-rate'),
  floodRateSub: element('flood-rate-sub'),
  floodReading: element('flood-reading'),
  floodReadingSub: element('flood-reading-sub'),
  floodOrder: element('flood-order'),
  floodOrderSub: element('flood-order-sub'),
};

const radios = (name: string) =>
  Array.from(document.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`));
const transportRadios = radios('transport');
const apiRadios = radios('api');
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

/**
 * One connection, whichever API it uses: what the figures, the log and the
 * composer need of it.
 */
interface Session {
  readonly api: Api;
  readonly transport: TransportChoice;
  /** The URL the constructor resolved. */
  readonly url: string;
  /** As `readyState`: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly state: number;
  readonly protocol: string;
  readonly extensions: string;
  /** Bytes sent that the transport has not taken yet: `bufferedAmount`, or the writes not resolved yet. */
  readonly queued: number;
  send(data: string | Uint8Array<ArrayBuffer> | Blob): void;
  /** Throws what the API's `close()` throws. */
  close(code: number | undefined, reason: string): void;
}

class SocketSession implements Session {
  readonly api = 'websocket';
  readonly socket: WebSocket;
  readonly transport: TransportChoice;
  constructor(socket: WebSocket, transport: TransportChoice) {
    this.socket = socket;
    this.transport = transport;
  }
  get url(): string {
    return this.socket.url;
  }
  get state(): number {
    return this.socket.readyState;
  }
  get protocol(): string {
    return this.socket.protocol;
  }
  get extensions(): string {
    return this.socket.extensions;
  }
  get queued(): number {
    return this.socket.bufferedAmount;
  }
  send(data: string | Uint8Array<ArrayBuffer> | Blob): void {
    this.socket.send(data);
  }
  close(code: number | undefined, reason: string): void {
    if (code === undefined) this.socket.close();
    else this.socket.close(code, reason);
  }
}

/** What the demo uses of a `WebSocketStream`: the browser's own and polysocket's have this shape. */
interface WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<WebSocketCloseInfo>;
  close(closeInfo?: WebSocketCloseInfo): void;
}
type WebSocketStreamConstructor = new (
  url: string,
  options?: { protocols?: string[] },
) => WebSocketStreamLike;
/** The browser's own `WebSocketStream` (Chromium since 124), which lib.dom does not declare yet. */
const NativeStream = (globalThis as { WebSocketStream?: WebSocketStreamConstructor }).WebSocketStream;

class StreamSession implements Session {
  readonly api = 'stream';
  state = 0;
  protocol = '';
  extensions = '';
  writer: WritableStreamDefaultWriter<string | Uint8Array<ArrayBuffer>> | undefined;
  reader: ReadableStreamDefaultReader<string | Uint8Array> | undefined;
  /** `write()` calls whose promise has not settled: the transport has not taken those bytes yet. */
  writesPending = 0;
  queued = 0;
  /** Sends wait behind a Blob being read, so that they go in the order they were made. */
  #tail: Promise<void> = Promise.resolve();
  readonly stream: WebSocketStreamLike;
  readonly transport: TransportChoice;
  constructor(stream: WebSocketStreamLike, transport: TransportChoice) {
    this.stream = stream;
    this.transport = transport;
  }
  get url(): string {
    return this.stream.url;
  }
  send(data: string | Uint8Array<ArrayBuffer> | Blob): void {
    // The writable takes strings and BufferSources, not Blobs.
    this.#tail = this.#tail.then(async () =>
      this.#write(data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data),
    );
  }
  #write(chunk: string | Uint8Array<ArrayBuffer>): void {
    const writer = this.writer;
    if (writer === undefined) return;
    const size = typeof chunk === 'string' ? encoder.encode(chunk).byteLength : chunk.byteLength;
    this.writesPending++;
    this.queued += size;
    const settled = () => {
      this.writesPending--;
      this.queued -= size;
      scheduleRender();
    };
    writer.write(chunk).then(settled, (error: unknown) => {
      settled();
      // Once the stream closes, every write still pending rejects: `closed` says why.
      if (session === this && this.state === 1) {
        log({ kind: 'error', badge: 'rejects', detail: `write() rejected: ${describeError(error)}` });
      }
    });
    stats.bufferedPeak = Math.max(stats.bufferedPeak, this.queued);
  }
  close(code: number | undefined, reason: string): void {
    this.stream.close(code === undefined ? {} : { closeCode: code, reason });
    if (this.state < 2) this.state = 2;
  }
}

let config: DemoConfig | undefined;
let session: Session | undefined;
let stats: Stats = freshStats();
let pingSeq = 0;
const pendingPings = new Map<number, number>();
let chatName: string | undefined;
let lastError = false;

const hasTcpSocket = typeof (globalThis as { TCPSocket?: unknown }).TCPSocket === 'function';
const hasWebTransport = typeof (globalThis as { WebTransport?: unknown }).WebTransport === 'function';

function render(): void {
  const current = session;
  const state = current?.state;
  const open = state === 1;
  const idle = current === undefined || state === 3;
  const stream = current === undefined ? checked<Api>(apiRadios) === 'stream' : current.api === 'stream';
  // A WebSocketStream has no readyState: the figure names the state its promises are in.
  ui.stateLabel.textContent = stream ? 'state' : 'readyState';
  ui.stateNumber.textContent =
    state === undefined ? '—' : stream ? (STATE_NAMES[state] ?? '') : String(state);
  ui.stateName.textContent =
    state === undefined ? (stream ? '' : 'no socket') : stream ? '' : (STATE_NAMES[state] ?? '');
  ui.messagesIn.textContent = String(stats.messagesIn);
  ui.messagesOut.textContent = String(stats.messagesOut);
  ui.bytesIn.textContent = formatBytes(stats.bytesIn);
  ui.bytesOut.textContent = formatBytes(stats.bytesOut);
  const buffered = current?.queued ?? 0;
  stats.bufferedPeak = Math.max(stats.bufferedPeak, buffered);
  ui.bufferedLabel.textContent = stream ? 'write() pending' : 'bufferedAmount';
  ui.buffered.textContent = formatBytes(buffered);
  const peak = stats.bufferedPeak === 0 ? '' : `peak ${formatBytes(stats.bufferedPeak)}`;
  ui.bufferedPeak.textContent =
    current instanceof StreamSession
      ? [`${current.writesPending} ${current.writesPending === 1 ? 'write' : 'writes'}`, peak]
          .filter((part) => part !== '')
          .join(' · ')
      : peak;
  ui.transportName.textContent = current === undefined ? '' : connectionName(current.api, current.transport);
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
    current === undefined || state === 0 ? '—' : current.protocol === '' ? '(none)' : current.protocol;
  ui.extensions.textContent =
    current === undefined || state === 0 ? '—' : current.extensions === '' ? '(none)' : current.extensions;

  const statusState =
    current === undefined
      ? 'idle'
      : lastError && idle
        ? 'error'
        : ['connecting', 'open', 'closing', 'closed'][state ?? 3]!;
  ui.status.dataset['state'] = statusState;
  ui.statusText.textContent =
    current === undefined
      ? 'Not connected'
      : state === 1
        ? `Open · ${connectionName(current.api, current.transport)}`
        : state === 0
          ? 'Connecting…'
          : state === 2
            ? 'Closing…'
            : 'Closed';

  ui.connect.disabled =
    !idle || config === undefined || !available(checked(apiRadios), checked(transportRadios));
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
  for (const input of [...transportRadios, ...apiRadios, ...roomRadios, ui.url, ui.protocols]) {
    input.disabled =
      !idle || (input.name === 'transport' && !transportAvailable(input.value as TransportChoice));
  }
  ui.compression.disabled = !idle || checked(transportRadios) === 'native';
  ui.apiNote.hidden = available(checked(apiRadios), checked(transportRadios));
  renderRoute(open);
  renderFlood();
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

/** polysocket's WebSocketStream goes wherever its transport goes; the browser's own only where it exists. */
function available(api: Api, choice: TransportChoice): boolean {
  return (
    transportAvailable(choice) && (api === 'websocket' || choice !== 'native' || NativeStream !== undefined)
  );
}

let routeKey = '';
function renderRoute(live: boolean): void {
  const idle = session === undefined || session.state === 3;
  const choice = idle ? checked<TransportChoice>(transportRadios) : session!.transport;
  const api = idle ? checked<Api>(apiRadios) : session!.api;
  const server = resolveWebSocketUrl(ui.url.value.trim())?.host || '?';
  // Rebuilt only when it changes: the live links' animation must not restart.
  const key = `${choice} ${api} ${server} ${live} ${config?.gateway}`;
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
    const name = api === 'stream' ? 'WebSocketStream' : 'WebSocket';
    hops.push(hop('This page', `browser ${name}`), link('TCP'), hop('Server', server));
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

/** polysocket's options for the transport chosen: the same for both APIs. */
function polysocketOptions(choice: Exclude<TransportChoice, 'native'>): {
  transport: TransportFactory;
  compression: boolean;
} {
  if (config === undefined) throw new Error('no gateway configuration (start the demo with npm run demo)');
  const compression = ui.compression.checked;
  if (choice === 'webtransport') {
    webTransportFactory ??= webTransportTransport({
      gateway: config.gateway,
      serverCertificateHashes: [{ algorithm: 'sha-256', value: config.certificateHash }],
      // wss:// URLs: the gateway makes the TLS connection and verifies the certificate.
      tls: 'gateway',
    });
    return { transport: webTransportFactory, compression };
  }
  return { transport: directSocketsTransport(), compression };
}

function createSocket(choice: TransportChoice, url: string, protocols: string[]): WebSocket {
  if (choice === 'native') return new WebSocket(url, protocols);
  return new PolySocket(url, protocols, polysocketOptions(choice));
}

function createStream(choice: TransportChoice, url: string, protocols: string[]): WebSocketStreamLike {
  if (choice === 'native') {
    if (NativeStream === undefined) throw new Error('this browser has no WebSocketStream');
    return new NativeStream(url, { protocols });
  }
  return new PolyStream(url, { protocols }, polysocketOptions(choice));
}

/**
 * The input with a fresh flood id if it is the flood room's URL: the server
 * keys a flood's figures (/flood-stats) by it.
 */
function withFloodId(input: string): string {
  const url = resolveWebSocketUrl(input);
  if (url?.pathname !== '/flood' || url.searchParams.has('id')) return input;
  url.searchParams.set('id', crypto.randomUUID().slice(0, 8));
  return url.href;
}

function connect(): void {
  const choice = checked<TransportChoice>(transportRadios);
  const api = checked<Api>(apiRadios);
  const input = ui.url.value.trim();
  const url = withFloodId(input);
  const protocols = ui.protocols.value
    .split(/[,\s]+/)
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol !== '');
  let opened: Session;
  try {
    opened =
      api === 'stream'
        ? new StreamSession(createStream(choice, url, protocols), choice)
        : new SocketSession(createSocket(choice, url, protocols), choice);
  } catch (error) {
    const name = api === 'stream' ? 'WebSocketStream' : 'WebSocket';
    log({ kind: 'error', badge: 'throws', detail: `new ${name}() threw ${describeError(error)}` });
    return;
  }
  session = opened;
  stats = freshStats();
  pendingPings.clear();
  chatName = undefined;
  lastError = false;
  // The url attribute is the URL the constructor resolved: a relative input
  // is resolved against the page's address, so the log shows where it goes.
  log({
    kind: 'info',
    badge: 'connect',
    detail: rich(
      'Connecting to ',
      ['mono', opened.url],
      isAbsoluteUrl(input) ? '' : rich(' (resolved from ', ['mono', `“${input}”`], ')'),
      ` with the ${connectionName(api, choice)}`,
    ),
    ...(protocols.length > 0 ? { preview: `subprotocols offered: ${protocols.join(', ')}` } : {}),
  });
  startFlood(opened);
  if (opened instanceof StreamSession) watchStream(opened);
  else if (opened instanceof SocketSession) watchSocket(opened);
  render();
}

function onOpen(opened: Session): void {
  stats.openedAt = performance.now();
  log({
    kind: 'open',
    detail: rich(`Open in ${formatMs(stats.openedAt - stats.startedAt)}`),
    preview: `protocol ${opened.protocol === '' ? '(none)' : `“${opened.protocol}”`} · extensions ${opened.extensions === '' ? '(none)' : opened.extensions}`,
  });
  if (ui.autoPing.checked) sendPing();
  render();
}

function onClosed(closed: Session): void {
  stats.closedAt = performance.now();
  stopFlood(closed);
  render();
}

function watchSocket(current: SocketSession): void {
  const ws = current.socket;
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    if (session === current) onOpen(current);
  });
  ws.addEventListener('message', (event) => {
    if (session === current) receive(current, (event as MessageEvent).data);
  });
  ws.addEventListener('error', (event) => {
    if (session !== current) return;
    lastError = true;
    // polysocket's error event is still a plain Event, as the standard
    // has it, with the reason added as event.error; the browser's own
    // WebSocket gives the page no reason at all.
    const failure = (event as { error?: unknown }).error;
    log(
      failure instanceof WebSocketConnectionError
        ? failureLine(failure, current.transport)
        : {
            kind: 'error',
            detail: `error event (readyState ${ws.readyState})`,
            preview: 'The browser gives the page no reason; its console may say more.',
          },
    );
    scheduleRender();
  });
  ws.addEventListener('close', (event) => {
    if (session !== current) return;
    const { code, reason, wasClean } = event as CloseEvent;
    log({
      kind: 'close',
      detail: rich(`code ${code}`, reason === '' ? '' : ` · reason ${quoted(reason)}`, ' · wasClean ', [
        wasClean ? 'ok' : 'bad',
        String(wasClean),
      ]),
      preview: closeCodeMeaning(code),
    });
    onClosed(current);
  });
}

/**
 * A WebSocketStream reports through its promises: `opened` with the
 * streams, `closed` with the close code and reason of a clean close, or a
 * WebSocketError (with the code and reason received) otherwise.
 */
function watchStream(current: StreamSession): void {
  current.stream.opened.then(
    (info) => {
      if (session !== current || current.state === 3) return;
      if (current.state === 0) current.state = 1;
      current.protocol = info.protocol;
      current.extensions = info.extensions;
      current.writer = info.writable.getWriter();
      current.reader = info.readable.getReader();
      // Never rejected unhandled: `closed` reports how the connection ended.
      current.writer.closed.catch(() => {});
      onOpen(current);
      void readStream(current, current.reader);
    },
    (error: unknown) => {
      if (session !== current) return;
      lastError = true;
      log({
        kind: 'error',
        badge: 'rejects',
        detail: `opened rejected: ${describeError(error)}`,
        preview: 'A WebSocketStream’s error says no more than its close code.',
      });
      scheduleRender();
    },
  );
  current.stream.closed.then(
    ({ closeCode, reason }) => {
      if (session !== current) return;
      current.state = 3;
      log({
        kind: 'close',
        detail: rich(
          `code ${closeCode ?? '(none)'}`,
          reason === undefined || reason === '' ? '' : ` · reason ${quoted(reason)}`,
          ' · closed ',
          ['ok', 'resolved'],
        ),
        preview: closeCodeMeaning(closeCode ?? 1005),
      });
      onClosed(current);
    },
    (error: unknown) => {
      if (session !== current) return;
      current.state = 3;
      lastError = true;
      const { closeCode, reason } = error as { closeCode?: number | null; reason?: string };
      log({
        kind: 'close',
        detail: rich(
          `code ${closeCode ?? '(none)'}`,
          reason === undefined || reason === '' ? '' : ` · reason ${quoted(reason)}`,
          ' · closed ',
          ['bad', 'rejected'],
        ),
        preview: `${describeError(error)}${typeof closeCode === 'number' ? ` · ${closeCodeMeaning(closeCode)}` : ''}`,
      });
      onClosed(current);
    },
  );
}

/**
 * Read messages one at a time, as an application that keeps up does. With
 * "Slow reader" on, no read() is made: the readable's queue fills, and the
 * connection stops taking bytes from the transport, which stops the server.
 */
async function readStream(
  current: StreamSession,
  reader: ReadableStreamDefaultReader<string | Uint8Array>,
): Promise<void> {
  for (;;) {
    while (ui.slowReader.checked && session === current && current.state !== 3) await readerResumed();
    if (session !== current) return;
    let result: ReadableStreamReadResult<string | Uint8Array>;
    try {
      result = await reader.read();
    } catch {
      return; // the stream errored: `closed` says why
    }
    if (result.done || session !== current) return;
    receive(current, result.value);
  }
}

/** Readers waiting for "Slow reader" to be turned off (or for their connection to end). */
const pausedReaders = new Set<() => void>();
function readerResumed(): Promise<void> {
  return new Promise((resolve) => pausedReaders.add(resolve));
}
function resumeReaders(): void {
  for (const resume of pausedReaders) resume();
  pausedReaders.clear();
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
  const current = session;
  if (current === undefined) return;
  const code = ui.closeCode.value.trim() === '' ? undefined : Number(ui.closeCode.value);
  const reason = ui.closeReason.value;
  try {
    current.close(code, reason);
    log({
      kind: 'info',
      badge: 'close()',
      detail:
        code === undefined
          ? 'close()'
          : current.api === 'stream'
            ? rich(`close({ closeCode: ${code}, reason: `, ['mono', JSON.stringify(reason)], ' })')
            : rich(`close(${code}, `, ['mono', JSON.stringify(reason)], ')'),
      ...(current.api === 'stream' && ui.slowReader.checked
        ? {
            preview:
              'The server’s close frame waits behind the messages not read: the close completes once the reader reads again.',
          }
        : {}),
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
  if (session !== undefined) stats.bufferedPeak = Math.max(stats.bufferedPeak, session.queued);
  scheduleRender();
}

/** The session, if messages can be sent on it. */
function openSession(): Session | undefined {
  return session?.state === 1 ? session : undefined;
}

function sendText(): void {
  const ws = openSession();
  const text = ui.text.value;
  if (ws === undefined) return;
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
  const ws = openSession();
  if (ws === undefined) return;
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
  const ws = openSession();
  const file = ui.file.files?.[0];
  ui.file.value = '';
  if (ws === undefined || file === undefined) return;
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
    // The writable takes no Blob: stream mode writes the file's bytes.
    detail: rich(['tag', ws.api === 'stream' ? 'file' : 'Blob'], file.name),
    preview: file.type === '' ? 'type unknown' : file.type,
    size: file.size,
  });
}

function sendPing(): void {
  const ws = openSession();
  if (ws === undefined) return;
  const seq = ++pingSeq;
  const t = performance.now();
  const text = JSON.stringify({ type: 'ping', seq, t });
  pendingPings.set(seq, t);
  // A reader that stops reading gets no answers: the oldest pings are given up.
  for (const old of pendingPings.keys()) {
    if (pendingPings.size <= MAX_PENDING_PINGS) break;
    pendingPings.delete(old);
  }
  ws.send(text);
  countOut(text.length);
  log({ kind: 'ping', badge: 'ping', detail: `ping #${seq}`, size: text.length, isPing: true });
}

/** A message as the API gives it: WebSocket gives ArrayBuffers (binaryType), a WebSocketStream Uint8Arrays. */
type Incoming = string | ArrayBuffer | Uint8Array | Blob;

function sizeOf(data: Incoming): number {
  if (typeof data === 'string') return encoder.encode(data).byteLength;
  return data instanceof Blob ? data.size : data.byteLength;
}

/**
 * A message arrived (a message event, or a read). With "Slow reader" on, a
 * WebSocket's messages cannot be left unread: the event comes anyway, and
 * all the page can do is hold the message for later, in its own memory.
 */
function receive(from: Session, data: Incoming): void {
  const size = sizeOf(data);
  stats.messagesIn++;
  stats.bytesIn += size;
  const watching = flood?.session === from ? flood : undefined;
  if (watching !== undefined) {
    watching.received++;
    watching.receivedBytes += size;
    if (from.api === 'websocket' && (ui.slowReader.checked || watching.backlog.length > 0)) {
      watching.backlog.push([data, size]);
      watching.backlogBytes += size;
      watching.backlogPeak = Math.max(watching.backlogPeak, watching.backlogBytes);
      scheduleRender();
      return;
    }
  }
  onMessage(data, size);
  scheduleRender();
}

function onMessage(data: Incoming, size: number): void {
  if (typeof data === 'string') {
    if (data.startsWith('{"type":') && onJson(data, size)) return;
    log({ kind: 'message', detail: rich(['tag', 'text'], quoted(data)), size });
  } else if (data instanceof Blob) {
    log({ kind: 'message', detail: rich(['tag', 'Blob'], `${data.size} bytes`), size: data.size });
  } else {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (flood !== undefined && onFloodMessage(flood, bytes)) return;
    log({
      kind: 'message',
      detail: rich(['tag', 'binary'], `${bytes.byteLength} bytes`),
      preview: hexPreview(bytes),
      size: bytes.byteLength,
    });
  }
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
    case 'flood-end':
      return flood !== undefined && onFloodEnd(flood, message as unknown as FloodEnd, size);
    default:
      return false;
  }
}

function peers(value: unknown): string {
  return typeof value === 'number' ? String(value) : '?';
}

// ---------------------------------------------------------------------------
// The flood room: backpressure, live

/** One flood: the server's figures (from /flood-stats) and the page's. */
interface FloodView {
  readonly session: Session;
  readonly id: string;
  /** The side channel: a WebSocket over the same transport, to /flood-stats. */
  stats: WebSocket | undefined;
  /** The last report; undefined before the first. */
  server: FloodStats | undefined;
  reports: number;
  /** Messages and bytes that reached the page: message events, or reads. */
  received: number;
  receivedBytes: number;
  /** WebSocket mode, slow reader: messages that arrived and wait for the page, oldest first. */
  backlog: Array<[Incoming, number]>;
  backlogBytes: number;
  backlogPeak: number;
  /** Flood messages handled, and the number the next one must have. */
  handled: number;
  next: number;
  /** The first message out of order, described. */
  disorder: string | undefined;
  end: FloodEnd | undefined;
  /** [time, bytes received], the last second: the rate. */
  samples: Array<[number, number]>;
  /** Closes the side channel if no report says the flood stopped. */
  giveUp: ReturnType<typeof setTimeout> | undefined;
}

let flood: FloodView | undefined;
/** A flood message is logged once every this many: the log shows progress, not 16 384 lines. */
const FLOOD_LOG_EVERY = 1024;

function isFloodUrl(input: string): boolean {
  return resolveWebSocketUrl(input)?.pathname === '/flood';
}

/** The cap the server will apply to a flood URL (see demo/flood.ts). */
function floodCap(input: string): number {
  const asked = resolveWebSocketUrl(input)?.searchParams.get('bytes');
  const bytes = asked === null || asked === undefined ? FLOOD_MAX_BYTES : Number(asked);
  if (!Number.isFinite(bytes)) return 0;
  return Math.max(0, Math.floor(Math.min(FLOOD_MAX_BYTES, bytes) / FLOOD_MESSAGE_SIZE)) * FLOOD_MESSAGE_SIZE;
}

/** A connection to the flood room: open its side channel, with the same transport. */
function startFlood(opened: Session): void {
  closeFloodStats();
  flood = undefined;
  const url = resolveWebSocketUrl(opened.url);
  const id = url?.searchParams.get('id');
  if (url === undefined || url.pathname !== '/flood' || id === null || id === undefined) return;
  const view: FloodView = {
    session: opened,
    id,
    stats: undefined,
    server: undefined,
    reports: 0,
    received: 0,
    receivedBytes: 0,
    backlog: [],
    backlogBytes: 0,
    backlogPeak: 0,
    handled: 0,
    next: 0,
    disorder: undefined,
    end: undefined,
    samples: [[performance.now(), 0]],
    giveUp: undefined,
  };
  flood = view;
  url.pathname = '/flood-stats';
  url.search = `?id=${encodeURIComponent(id)}`;
  let ws: WebSocket;
  try {
    ws = createSocket(opened.transport, url.href, []);
  } catch (error) {
    log({ kind: 'error', badge: 'flood', detail: `The server’s figures: ${describeError(error)}` });
    return;
  }
  view.stats = ws;
  ws.addEventListener('message', (event) => {
    const data = (event as MessageEvent).data;
    if (flood !== view || typeof data !== 'string') return;
    let report: FloodStats;
    try {
      report = JSON.parse(data) as FloodStats;
    } catch {
      return;
    }
    if (report.type !== 'flood-stats') return;
    view.server = report;
    view.reports++;
    // The connection ended: the first report after it has the server's last word.
    if (view.session.state === 3 && report.state !== 'flooding') closeFloodStats();
    scheduleRender();
  });
  ws.addEventListener('close', (event) => {
    if (view.stats !== ws) return;
    view.stats = undefined;
    if (view.giveUp !== undefined) clearTimeout(view.giveUp);
    view.giveUp = undefined;
    if (flood === view && view.session.state !== 3) {
      log({
        kind: 'error',
        badge: 'flood',
        detail: `No more figures from the server: its /flood-stats connection closed (code ${(event as CloseEvent).code})`,
      });
    }
  });
}

/** The flood's connection ended: its side channel closes after one more report. */
function stopFlood(closed: Session): void {
  resumeReaders();
  const view = flood;
  if (view?.session !== closed || view.stats === undefined) return;
  view.giveUp = setTimeout(closeFloodStats, 4 * FLOOD_STATS_INTERVAL_MS);
}

function closeFloodStats(): void {
  const view = flood;
  if (view === undefined) return;
  if (view.giveUp !== undefined) clearTimeout(view.giveUp);
  view.giveUp = undefined;
  const ws = view.stats;
  view.stats = undefined;
  if (ws !== undefined && ws.readyState <= 1) ws.close();
}

/** A flood message: checked against the number expected; false if `bytes` is not one. */
function onFloodMessage(view: FloodView, bytes: Uint8Array): boolean {
  const seq = floodSeq(bytes);
  if (seq === undefined) return false;
  if (seq !== view.next && view.disorder === undefined) {
    view.disorder = `#${seq} came where #${view.next} was due`;
    log({ kind: 'error', badge: 'flood', detail: `Out of order: ${view.disorder}`, size: bytes.byteLength });
  }
  view.next = seq + 1;
  view.handled++;
  if (seq % FLOOD_LOG_EVERY === 0) {
    log({
      kind: 'message',
      detail: rich(['tag', 'flood'], `message #${seq}`),
      preview: `${formatBytes((seq + 1) * bytes.byteLength)} into the flood; one line every ${FLOOD_LOG_EVERY} messages`,
      size: bytes.byteLength,
    });
  }
  return true;
}

/** The flood's last message: were they all there, in order? */
function onFloodEnd(view: FloodView, end: FloodEnd, size: number): boolean {
  view.end = end;
  const complete = view.handled === end.messages && view.next === end.messages && view.disorder === undefined;
  log(
    complete
      ? {
          kind: 'message',
          detail: rich(
            ['tag', 'flood'],
            `All ${end.messages} messages arrived, in order (${formatBytes(end.bytes)})`,
          ),
          size,
        }
      : {
          kind: 'error',
          badge: 'flood',
          detail: `The server sent ${end.messages} messages; ${view.handled} arrived${view.disorder === undefined ? '' : `, and ${view.disorder}`}`,
          size,
        },
  );
  return true;
}

/** WebSocket mode, "Slow reader" off: handle what piled up, in the order it came. */
function drainBacklog(): void {
  const view = flood;
  if (view === undefined) return;
  const backlog = view.backlog;
  view.backlog = [];
  view.backlogBytes = 0;
  for (const [data, size] of backlog) onMessage(data, size);
  scheduleRender();
}

/** Bytes per second over the last second. */
function sampleRate(view: FloodView): number {
  const now = performance.now();
  view.samples.push([now, view.receivedBytes]);
  while (view.samples.length > 2 && now - view.samples[1]![0] >= 1000) view.samples.shift();
  const [since, bytes] = view.samples[0]!;
  return now - since < 1 ? 0 : ((view.receivedBytes - bytes) * 1000) / (now - since);
}

let floodRate = 0;

function renderFlood(): void {
  const view = flood;
  const input = ui.url.value.trim();
  // Kept with the last figures once the flood is over, until another room is picked.
  const shown = isFloodUrl(input) || (view !== undefined && view.session.state !== 3);
  ui.flood.hidden = !shown;
  if (!shown) return;
  const api = view?.session.api ?? checked<Api>(apiRadios);
  const live = view !== undefined && view.session.state !== 3;
  ui.slowReaderNote.textContent =
    api === 'stream'
      ? 'Slow reader: no more reader.read() calls, so the connection stops taking bytes from the transport, and the server stops.'
      : 'Slow reader: a WebSocket cannot stop reading, so the messages keep coming and pile up in the page’s memory.';
  const server = view?.server;
  ui.floodCap.textContent = formatBytes(
    server === undefined || server.state === 'waiting' ? floodCap(view?.session.url ?? input) : server.cap,
  );
  ui.floodServerState.textContent =
    server === undefined
      ? '—'
      : server.state === 'flooding' && server.stalledMs >= 1000
        ? 'stalled'
        : server.state;
  ui.floodServerStateSub.textContent =
    server === undefined
      ? 'no report yet'
      : server.state === 'flooding' && server.stalledMs >= 1000
        ? `its socket took nothing for ${formatDuration(server.stalledMs)}`
        : server.state === 'done'
          ? 'every message sent'
          : server.state === 'waiting'
            ? 'not connected yet'
            : server.state === 'closed'
              ? 'the client went before the end'
              : 'sending while its socket takes them';
  ui.floodSent.textContent = server === undefined ? '—' : String(server.sent);
  ui.floodSentSub.textContent =
    server === undefined ? '' : `${formatBytes(server.sentBytes)} of ${formatBytes(server.cap)}`;
  ui.floodQueue.textContent = server === undefined ? '—' : formatBytes(server.buffered);
  ui.floodQueueSub.textContent =
    server === undefined ? 'ws bufferedAmount' : `bufferedAmount · peak ${formatBytes(server.bufferedPeak)}`;
  const between =
    server === undefined || view === undefined ? undefined : server.sentBytes - view.receivedBytes;
  ui.floodBetween.textContent = between === undefined ? '—' : formatBytes(Math.max(0, between));
  ui.floodReceived.textContent = String(view?.received ?? 0);
  ui.floodReceivedSub.textContent = formatBytes(view?.receivedBytes ?? 0);
  ui.floodRate.textContent = live ? `${formatBytes(floodRate)}/s` : '—';
  ui.floodRateSub.textContent = live ? 'over the last second' : '';
  const paused = ui.slowReader.checked;
  if (api === 'stream') {
    ui.floodReading.textContent = paused ? 'paused' : 'reading';
    ui.floodReadingSub.textContent = paused ? 'no read() call waiting' : 'a read() always waiting';
  } else {
    const held = view?.backlog.length ?? 0;
    ui.floodReading.textContent = paused ? 'piling up' : held > 0 ? 'draining' : 'keeping up';
    ui.floodReadingSub.textContent = `${held} ${held === 1 ? 'message' : 'messages'} · ${formatBytes(view?.backlogBytes ?? 0)} held in page memory${view === undefined || view.backlogPeak === 0 ? '' : ` (peak ${formatBytes(view.backlogPeak)})`}`;
  }
  ui.floodOrder.textContent =
    view === undefined || view.handled === 0
      ? '—'
      : view.disorder === undefined
        ? '✓ in order'
        : '✗ out of order';
  ui.floodOrderSub.textContent =
    view === undefined || view.handled === 0
      ? `each message is numbered, ${formatBytes(FLOOD_MESSAGE_SIZE)}`
      : (view.disorder ??
        `#0 to #${view.next - 1}${view.end === undefined ? '' : ` · all ${view.end.messages}`}`);
  // For the tests: the figures as numbers.
  const data = ui.flood.dataset;
  data['serverState'] = server?.state ?? '';
  data['serverSent'] = String(server?.sent ?? 0);
  data['serverSentBytes'] = String(server?.sentBytes ?? 0);
  data['serverStalledMs'] = String(server?.stalledMs ?? 0);
  data['reports'] = String(view?.reports ?? 0);
  data['received'] = String(view?.received ?? 0);
  data['handled'] = String(view?.handled ?? 0);
  data['backlog'] = String(view?.backlog.length ?? 0);
  data['inOrder'] = String(view !== undefined && view.disorder === undefined);
  data['endMessages'] = String(view?.end?.messages ?? '');
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
  for (const radio of [...transportRadios, ...apiRadios]) radio.addEventListener('change', render);
  for (const radio of roomRadios) radio.addEventListener('change', () => setRoom(radio.value as Room));
  ui.url.addEventListener('input', () => {
    renderRoute(false);
    renderFlood();
  });
  ui.slowReader.addEventListener('change', () => {
    const on = ui.slowReader.checked;
    if (session !== undefined && session.state !== 3) {
      log({
        kind: 'info',
        badge: 'reader',
        detail: on
          ? session.api === 'stream'
            ? 'Slow reader on: no more reader.read() calls'
            : 'Slow reader on: messages are held, not handled (a WebSocket cannot stop reading)'
          : 'Slow reader off: reading again',
      });
    }
    if (!on) {
      resumeReaders();
      drainBacklog();
    }
    render();
  });
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
  // Live figures: bufferedAmount, the open time and the flood's rate change without events.
  setInterval(() => {
    if (flood !== undefined) floodRate = sampleRate(flood);
    if (session !== undefined && session.state !== 3) render();
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
  // One flex item per fact: a fragment's text and code would each be one, with a gap between.
  const fact = (part: Node): HTMLSpanElement => {
    const span = document.createElement('span');
    span.append(part);
    return span;
  };
  ui.footer.replaceChildren(
    fact(
      rich('Server ', ['mono', `${config.server}/echo`], ', ', ['mono', '/chat'], ' and ', [
        'mono',
        '/flood',
      ]),
    ),
    fact(rich('Gateway ', ['mono', config.gateway])),
    fact(
      rich(
        'Certificate sha-256 ',
        ['mono', `${hash.slice(0, 12)}…`],
        ` (ECDSA P-256, valid until ${new Date(config.certificateNotAfter).toLocaleDateString()})`,
      ),
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
