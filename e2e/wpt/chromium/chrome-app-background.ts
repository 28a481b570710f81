/**
 * The background page of the Chrome App mode's app (mode-chrome-app.ts),
 * bundled as a classic script: runs the jobs the runner's lanes ask for
 * (over CDP, `runJob`), and carries out the workers' chrome.sockets.tcp
 * calls (chrome-sockets-relay.ts).
 *
 * A job is an app window (`chrome.app.window.create`: an app's pages
 * cannot be opened in a tab, and an app window cannot be navigated), which
 * hands its testharness report here (`chrome.runtime.sendMessage`, the
 * reporter testharnessreport.js gets in this mode), with the errors the
 * install script saw. The window is closed once it reported, timed out or
 * closed itself (the job's outcome is answered first), and then the sockets
 * of the scopes that are gone (this job's, and any of earlier jobs' workers
 * that outlived their windows) are closed.
 */
import type { ChromeLike } from '../../../src/transports/chrome-sockets.js';
import { type BackgroundTcp, serveRelay } from './chrome-sockets-relay.js';
import type { PageErrorMessage } from './install-chrome-app.js';

/** What a lane asks for. */
export interface JobRequest {
  /** The page, relative to the app's root, with its query (the variant). */
  readonly path: string;
  /** How long the page gets to report. */
  readonly timeoutMs: number;
}

/** What a job's window did. */
export interface JobOutcome {
  /** The report's JSON (pages.ts `PageReport`), or why there is none. */
  readonly report: string | null;
  readonly failure: 'timeout' | 'closed' | 'error' | null;
  readonly message: string | null;
  /** What the page relayed (errors), and the background page's own notes. */
  readonly output: readonly string[];
}

/** What a page's testharnessreport.js sends. */
export interface ReportMessage {
  readonly wptReport: string;
  /** The app window's id. */
  readonly window: string;
}

interface AppWindow {
  readonly id: string;
  readonly onClosed: { addListener(listener: () => void): void };
  close(): void;
}

interface BackgroundChrome {
  readonly runtime: ChromeLike['runtime'] & {
    readonly onMessage: { addListener(listener: (message: unknown) => void): void };
  };
  readonly sockets: { readonly tcp: BackgroundTcp };
  readonly app: {
    readonly window: {
      create(
        url: string,
        options: { readonly id: string },
        callback: (window: AppWindow | undefined) => void,
      ): void;
    };
  };
}

const chrome = (globalThis as unknown as { chrome: BackgroundChrome }).chrome;
const relay = serveRelay(chrome);

interface Running {
  readonly output: string[];
  report(json: string): void;
}
const running = new Map<string, Running>();
let nextWindow = 1;

chrome.runtime.onMessage.addListener((message) => {
  const data = message as Partial<ReportMessage & PageErrorMessage>;
  if (typeof data.window !== 'string') return;
  const job = running.get(data.window);
  if (typeof data.wptReport === 'string') job?.report(data.wptReport);
  else if (typeof data.wptPageError === 'string') job?.output.push(data.wptPageError);
});

/** Close `window` and wait until it is gone (bounded: a hung renderer may never say so). */
function closeWindow(window: AppWindow, closed: Promise<void>): Promise<void> {
  window.close();
  return Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 5_000))]);
}

/** Open the job's window and wait for its report, its closing, or the timeout. */
async function runJob(request: JobRequest): Promise<JobOutcome> {
  const id = `job-${nextWindow++}`;
  const output: string[] = [];
  let reported: (json: string) => void = () => {};
  const report = new Promise<string>((resolve) => (reported = resolve));
  running.set(id, { output, report: (json) => reported(json) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let window: AppWindow | undefined;
  let closed: Promise<void> = Promise.resolve();
  try {
    const created = await new Promise<AppWindow | undefined>((resolve) =>
      chrome.app.window.create(request.path, { id }, resolve),
    );
    const error = chrome.runtime.lastError;
    if (created === undefined) {
      return { report: null, failure: 'error', message: `no window: ${error?.message ?? 'unknown'}`, output };
    }
    window = created;
    let isClosed = false;
    closed = new Promise<void>((resolve) =>
      created.onClosed.addListener(() => {
        isClosed = true;
        resolve();
      }),
    );
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), request.timeoutMs)),
    );
    const outcome = await Promise.race([report, closed.then(() => 'closed' as const), timedOut]);
    if (isClosed) window = undefined;
    if (outcome === 'timeout') {
      return {
        report: null,
        failure: 'timeout',
        message: `no result from the page within ${request.timeoutMs} ms`,
        output,
      };
    }
    if (outcome === 'closed') {
      return {
        report: null,
        failure: 'closed',
        message: 'the window closed before the page reported',
        output,
      };
    }
    return { report: outcome, failure: null, message: null, output };
  } finally {
    clearTimeout(timer);
    running.delete(id);
    // The lane goes on with its next job meanwhile.
    void (window === undefined ? Promise.resolve() : closeWindow(window, closed)).then(() => relay.sweep());
  }
}

Object.assign(globalThis, { runJob, chromeAppReady: true });
